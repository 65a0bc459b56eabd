"""Backprop in matrix form over the whole batch (columns are examples): a tuned kernel.

It exists beside the plain statement of the same equations (backprop.derivation) for
speed alone (docs/performance.md: within ~1.15x of its matrix products), and is tested
against it (tests/backprop/test_equations.py: the same delta bit for bit, dW and db up
to rounding).

BP1  delta^L = dC/da^L ⊙ sigma'(z^L)          (J_softmax^T dC/da for softmax)
BP2  delta^l = ((W^{l+1})^T delta^{l+1}) ⊙ sigma'(z^l)
BP3  dC/db^l = mean over examples of delta^l
BP4  dC/dW^l = delta^l (a^{l-1})^T / m

Speed: the matrix products W a, W^T delta and delta a^T are the cost that cannot
be avoided; everything else is an in-place pass over an array that exists anyway.
  - z[l] is computed in the array that becomes delta[l] (same shape): one matmul,
    then b added in place. BP2 for layer l is the last to read z[l].
  - sigma'(z) comes from the cached activation where the activation has a rule
    for it (Activation.backward_from_a: tanh' = 1 - a^2, sigmoid' = a (1 - a)),
    which saves a second pass of exp. a[l+1], no longer needed once BP4 of
    layer l+1 has read it, is the scratch for that and for delta[l] / m (BP3, BP4).
  - One call makes one allocation of its own: a block holding the gradients it
    returns and a[1..L] (see `allocate`), so repeated calls reuse the same heap
    memory rather than returning it to the OS and faulting it in again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from backprop._types import Array
from backprop.activations import Activation
from backprop.blas import sgemv_invalid_ignored
from backprop.costs import Cost
from backprop.inputs import check_XY
from backprop.network import Gradients, Network, Trace


def output_delta(sigma_L: Activation, cost_fn: Cost, z_L: Array, a_L: Array, Y: Array) -> Array:
    """BP1: delta^L = dC_x/da^L ⊙ sigma'(z^L), or the cost's simplification a^L - y."""
    if cost_fn.delta is not None:
        return cost_fn.delta(a_L, Y)
    return sigma_L.backward(z_L, cost_fn.dC_da(a_L, Y))


def hidden_delta(
    W_next: Array, delta_next: Array, sigma_l: Activation, z_l: Array, a_next: Array
) -> Array:
    """BP2: delta^l = ((W^{l+1})^T delta^{l+1}) ⊙ sigma'(z^l), with a_next = sigma(z^l).

    W_next (n_{l+1}, n_l), delta_next (n_{l+1}, m); z_l, a_next and the result
    (n_l, m). The result is written over z_l; a_next is overwritten where sigma'
    is computed from it (Activation.backward_from_a).
    """
    if sigma_l.backward_from_a is not None:
        delta = np.matmul(W_next.T, delta_next, out=z_l)
        return sigma_l.backward_from_a(a_next, delta)
    sigma_prime = sigma_l.sigma_prime(z_l)  # before z_l is overwritten
    delta = np.matmul(W_next.T, delta_next, out=z_l)
    delta *= sigma_prime
    return delta


ALIGN = 64  # bytes


def allocate(sizes: Sequence[int], m: int, dtype: Any) -> tuple[Gradients, list[Array]]:
    """Uninitialised gradients delta[l] (n_{l+1}, m), dW[l] (n_{l+1}, n_l), db[l]
    (n_{l+1}, 1), and activations a[l+1] (n_{l+1}, m): views into one block.

    Why one block: glibc gives freed heap memory back to the OS once the free
    space at the top of the heap exceeds twice the largest block freed so far.
    With separate arrays a call frees several times its largest array, so every
    call would fault its memory in afresh (docs/performance.md has the count);
    with one block it frees about one block, and repeated calls reuse it. The
    price: the returned gradients keep the activations' memory until they die.
    """
    L = len(sizes) - 1
    n = sizes[1:]
    shapes = ([(n[l], m) for l in range(L)] + [(n[l], sizes[l]) for l in range(L)]
              + [(n[l], 1) for l in range(L)] + [(n[l], m) for l in range(L)])
    # Every array starts on a 64-byte boundary (a cache line): BLAS kernels read
    # aligned operands faster.
    itemsize = np.dtype(dtype).itemsize
    step = ALIGN // itemsize
    sizes_padded = [-(-rows * cols // step) * step for rows, cols in shapes]
    raw = np.empty(sum(sizes_padded) + step, dtype=dtype)
    skip = (-raw.ctypes.data % ALIGN) // itemsize
    block = raw[skip:]
    arrays, start = [], 0
    for (rows, cols), padded in zip(shapes, sizes_padded, strict=True):
        arrays.append(block[start:start + rows * cols].reshape(rows, cols))
        start += padded
    g = Gradients(delta=arrays[:L], dW=arrays[L:2 * L], db=arrays[2 * L:3 * L])
    return g, arrays[3 * L:]


def average_gradients(delta: Array, a: Array, scratch: Array, db: Array, dW: Array) -> None:
    """BP3 db^l = (1/m) sum_x delta^l_x and BP4 dW^l = delta^l (a^{l-1})^T / m, into db, dW.

    Both average over the m examples, so delta / m is formed once, in scratch
    (free memory of delta's shape), and both sums are matrix products:
    db = (delta / m) 1 and dW = (delta / m) a^T. delta (n_l, m), a (n_{l-1}, m).
    """
    m = delta.shape[1]
    scaled = np.multiply(delta, 1.0 / m, out=scratch)
    np.matmul(scaled, np.ones(m, dtype=delta.dtype), out=db[:, 0])
    np.matmul(scaled, a.T, out=dW)


def forward_in_place(W: Sequence[Array], b: Sequence[Array], sigma: Sequence[Activation],
                     X: Array, z: Sequence[Array], a_out: Sequence[Array]) -> Trace:
    """z[l] = W[l] @ a[l] + b[l], a[l+1] = sigma[l](z[l]), a[0] = X, into z[l] and a_out[l].

    The same numbers as feedforward.forward_arrays, with no temporaries for
    ufunc activations (Activation.sigma_into): one matmul into z[l], b[l] added in place.
    """
    L = len(W)
    a: list[Array] = [X]
    for l in range(L):
        np.matmul(W[l], a[l], out=z[l])
        z[l] += b[l]
        sigma_into = sigma[l].sigma_into
        if sigma_into is not None:
            sigma_into(z[l], out=a_out[l])
        else:
            np.copyto(a_out[l], sigma[l].sigma(z[l]))
        a.append(a_out[l])
    return Trace(z=list(z), a=a)


def backprop_in_place(W: Sequence[Array], sigma: Sequence[Activation], cost_fn: Cost,
                      trace: Trace, Y: Array, g: Gradients) -> Gradients:
    """BP1-BP4 on a finished forward pass whose z arrays are g.delta; fills g.

    delta[l] is written over z[l], which BP2 for layer l reads last. a[l+1] is
    scratch for BP2 and then for BP3/BP4 of layer l: nothing reads it after
    BP4 of layer l+1 (or BP1 for a[L]). trace.a[0], the input, is not written.
    """
    L = len(W)
    z, a = trace.z, trace.a
    delta, dW, db = g.delta, g.dW, g.db
    delta[L - 1][...] = output_delta(sigma[L - 1], cost_fn, z[L - 1], a[L], Y)  # BP1
    for l in range(L - 1, -1, -1):
        if l < L - 1:
            hidden_delta(W[l + 1], delta[l + 1], sigma[l], z[l], a[l + 1])  # BP2
        average_gradients(delta[l], a[l], a[l + 1], db[l], dW[l])  # BP3, BP4
    return g


def backprop(net: Network, X: Any, Y: Any) -> Gradients:
    """Gradients of C = mean_x C_x for a batch X (n_0, m), Y (n_L, m), in matrix form.

    Pure: no argument is modified. The arrays of the result are views into one
    block of memory (see `allocate`). Raises ValueError/TypeError for bad input.
    """
    X, Y = check_XY(net, X, Y)
    g, a = allocate(net.sizes, X.shape[1], net.dtype)
    with sgemv_invalid_ignored(net.dtype):  # OpenBLAS's false flag: see backprop.blas
        trace = forward_in_place(net.weights, net.biases, net.sigma, X, z=g.delta, a_out=a)
        return backprop_in_place(net.weights, net.sigma, net.cost_fn, trace, Y, g)

"""Forward tangents of the complex step: the exhaustive check's Im C as real products.

A complex step moves z[l] to z[l] + i v (v = h times a real change). No real
part moves (the cosine of an imaginary part ~1e-20 rounds to 1), and the
imaginary parts run onward linearly, to within rounding (the next terms are
O(h^2) = 2^-132 relative):

    Im a[l+1] = c[l] ⊙ Im z[l]       c[l] = Im sigma_l(z[l] + i h) / h    (hidden layers)
    Im z[l+1] = W[l+1] Im a[l+1]
    Im C_x    = g[:, x] . Im z[L-1][:, x]
                                     g[k, x] = Im C_x(z[L-1] + i h e_k) / h

c and g, the local complex-step derivatives, are computed once per element,
numerically, from sigma and the cost's value alone. g is the local Jacobian of
what couples the n_L outputs of an example (the cost, and softmax before it):
n_L complex-step evaluations per example. Then every perturbation's Im C_x
follows from real products: its tangent (Im z of the layer it moves) is carried
through the next layers' W and c and dotted with g, the numbers a complex-step
evaluation of the whole network would give, without its complex exp and tanh.

The rule that keeps the check independent of what it checks: each
perturbation's tangent is carried onward on its own, through every matrix
product, to its own cost. No sum is shared between perturbations: summing the
chain from the cost's end first (g^T W[L-1] diag(c) ...) would be reverse mode,
BP2-BP4 again, and a numeric dW made of a numeric delta. Only elementwise
factors that do not depend on the perturbation (c[l+1] ⊙ W[l+1][:, j]) are
multiplied once. Nothing is taken from the implementation under test or from
the registry's derivatives (sigma_prime, dC_da, backward).

Layout: a block of tangents is (B, m, n), one row per perturbation and example,
the units of a layer along the last axis, so that each layer is one matrix
product T @ W^T. Blocks hold TANGENT_BYTES, so they stay in cache and memory
stays bounded however large the network.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from backprop import Array, Network
from backprop.feedforward import per_example_cost
from checks.netcheck.error_model import Model

TANGENT_BYTES = 2**20  # one block of tangents (B, m, n) in float64


def workers() -> int:
    """Threads for the blocks: one per CPU this process may use, at most 8 (beyond, the
    Python between numpy calls serialises them), and no more than OMP_NUM_THREADS or
    OPENBLAS_NUM_THREADS when they are set."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    limits = [int(v) for v in (os.environ.get(name, "") for name in
                               ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")) if v.isdigit()]
    return max(1, min([cpus, 8, *limits]))


WORKERS = workers()


@dataclass(frozen=True)
class Locals:
    """The local complex-step derivatives of one reference, one row per example x."""

    c: list[Array]  # c[l][x, j] = Im sigma_l(z[l][j, x] + i h) / h, hidden layers: (m, n_l)
    g: Array  # g[x, k] = Im C_x(z[L-1] + i h e_k) / h: (m, n_L)
    near: list[Array | None]  # near[l][x, j]: z[l][j, x] at a kink (see within); None: none is
    near_units: list[Array]  # the units j of layer l with any z near a kink
    W_T: list[Array]  # W[l].T, contiguous: the product of a block is T @ W_T[l]

    @property
    def L(self) -> int:
        return len(self.W_T)


def applies(net: Network) -> bool:
    """Tangents need elementwise hidden layers (the registry has no other kind)."""
    return all(sigma.elementwise for sigma in net.sigma[:-1])


def within(kinks: tuple[float, ...], lo: Array, hi: Array, radius: Array) -> Array:
    """Where [lo - radius, hi + radius] holds a kink: a z that moves over [lo, hi] and
    whose own rounding is radius crosses, or may cross, a point sigma is not
    differentiable at."""
    near: Array = np.zeros(np.shape(lo), dtype=bool)
    for kink in kinks:
        near = near | ((lo - radius <= kink) & (kink <= hi + radius))
    return near


def local_derivatives(model: Model, h: float) -> Locals:
    """c, g (module docstring) and the kinks of one reference, for the complex step h."""
    ref, net = model.ref, model.ref.net
    L, z = ref.L, ref.z
    c = [rows_per_example(np.imag(net.sigma[l].sigma(z[l] + 1j * h)) / h) for l in range(L - 1)]
    n_L = z[L - 1].shape[0]
    moved = z[L - 1][None] + 1j * h * np.eye(n_L)[:, :, None]  # (k, n_L, m): row k moved
    C = per_example_cost(net.cost_fn, moved, net.sigma[-1].sigma, ref.Y)
    near: list[Array | None] = []
    for l in range(L):
        mask = rows_per_example(within(net.sigma[l].kinks, z[l], z[l], model.r_z[l]))
        near.append(mask if np.any(mask) else None)
    units = [np.flatnonzero(np.any(n, axis=0)) if n is not None else np.arange(0)
             for n in near]
    return Locals(c, rows_per_example(np.imag(C) / h), near, units,
                  [rows_per_example(W) for W in ref.W])


def rows_per_example(A: Array) -> Array:
    """A.T in C order: (n, m) arrays of the network become (m, n), as tangents are."""
    return np.ascontiguousarray(A.T)


def tangent_costs(loc: Locals, l: int, rows: Array | None,
                  change: Array) -> tuple[Array, Array]:
    """Im C_x of each perturbation moving z[l] by i change, and kink flags.

    Arguments as checks.netcheck.moves.perturbed_costs's: rows None, change (K, n_l, m) moves all
    of z[l]; otherwise change (K, m) moves row rows[k] of z[l] (an element of
    delta, b or W). Returns Im C: (K, m), what the complex-step costs' imaginary
    parts would be, and kinked: (K, m), True where a z that the perturbation
    moves (nonzero tangent) is at a kink or within its rounding radius of one.
    Blocks of perturbations run on WORKERS threads (numpy and BLAS release the GIL).
    """
    K, m = change.shape[0], change.shape[-1]
    im_C, kinked = np.empty((K, m)), np.zeros((K, m), dtype=bool)
    if rows is None:
        dense = np.swapaxes(change, 1, 2)  # (K, m, n_l)

        def run_dense(start: int, stop: int) -> None:
            for p in slices(start, stop, per_block(loc, l, m)):
                im_C[p] = carry(loc, l, np.ascontiguousarray(dense[p]), kinked[p])

        in_parallel(run_dense, K, per_block(loc, l, m))
        return im_C, kinked
    here = loc.near[l]
    if here is not None:
        kinked |= here.T[rows] & (change != 0)
    if l == loc.L - 1:  # the tangent is e_j Im z[L-1][j, :]
        return loc.g.T[rows] * change, kinked
    moved_a = loc.c[l].T[rows] * change  # Im a[l+1][j, :] of each perturbation: (K, m)
    W_T = loc.W_T[l + 1]  # Im z[l+1] = W[l+1][:, j] Im a[l+1][j, :]
    after = loc.near[l + 1]
    if after is not None:  # Im z[l+1][q, x] != 0 where W[l+1][q, j] and Im a[l+1][j, x] are
        reaches = (W_T[rows] != 0).astype(float) @ after.T.astype(float)
        kinked |= (reaches > 0) & (moved_a != 0)
    B = per_block(loc, l + 1, m)

    def run(start: int, stop: int) -> None:
        buffer = np.empty((min(B, K), m, W_T.shape[1]))  # C order: no copy in product
        last, factor = -1, W_T[:0]
        for p in slices(start, stop, B):
            r = rows[p]
            T = buffer[:len(r)]
            if l + 1 == loc.L - 1:
                np.multiply(moved_a[p, :, None], W_T[r][:, None, :], out=T)
                im_C[p] = np.einsum("bxq,xq->bx", T, loc.g)
                continue
            if r[0] == r[-1] and np.all(r == r[0]):  # one row j: the chunks of dW
                if r[0] != last:  # c[l+1] ⊙ W[l+1][:, j]
                    last, factor = int(r[0]), loc.c[l + 1] * W_T[r[0]]
                np.multiply(moved_a[p, :, None], factor, out=T)
            else:  # the same products, so that the numbers do not depend on the blocks
                np.multiply(moved_a[p, :, None], loc.c[l + 1] * W_T[r][:, None, :], out=T)
            im_C[p] = carry(loc, l + 2, product(T, loc.W_T[l + 2]), kinked[p])

    in_parallel(run, K, B)
    return im_C, kinked


def carry(loc: Locals, k: int, T: Array, kinked: Array) -> Array:
    """Im C_x from a block of tangents T of z[k], (B, m, n_k): through c[k], W[k+1],
    ..., dotted with g at the output. Sets kinked (B, m) where a moved z is near a kink."""
    while True:
        near = loc.near[k]
        if near is not None:
            units = loc.near_units[k]
            kinked |= np.any((T[..., units] != 0) & near[:, units], axis=-1)
        if k == loc.L - 1:
            return np.einsum("bxq,xq->bx", T, loc.g)
        T = product(T * loc.c[k], loc.W_T[k + 1])
        k += 1


def product(T: Array, W_T: Array) -> Array:
    """T @ W^T for a block (B, m, n) of tangents: one matrix product per perturbation."""
    return T @ W_T


def slices(start: int, stop: int, B: int) -> list[slice]:
    """[start, stop) in slices of B."""
    return [slice(s, min(s + B, stop)) for s in range(start, stop, B)]


def in_parallel(run: Callable[[int, int], None], K: int, B: int) -> None:
    """run(start, stop) over [0, K) split between WORKERS threads, at multiples of B."""
    count = -(-K // B)
    if WORKERS == 1 or count == 1:
        run(0, K)
        return
    cuts = [min(K, B * (count * w // WORKERS)) for w in range(WORKERS + 1)]
    futures = [pool().submit(run, a, b) for a, b in itertools.pairwise(cuts) if a < b]
    for future in futures:
        future.result()


@functools.cache
def pool() -> ThreadPoolExecutor:
    """The block threads, made once per process."""
    return ThreadPoolExecutor(WORKERS, thread_name_prefix="checks.netcheck.tangent")


if hasattr(os, "register_at_fork"):
    # A forked child (multiprocessing's default on Linux, mutmut) inherits the pool
    # object but none of its threads: work submitted to it would never run.
    os.register_at_fork(after_in_child=pool.cache_clear)


def per_block(loc: Locals, k: int, m: int) -> int:
    """Perturbations per block: tangents of layers k.. of B perturbations fill TANGENT_BYTES."""
    widest = max(W_T.shape[1] for W_T in loc.W_T[k:])
    return max(1, TANGENT_BYTES // (8 * m * widest))

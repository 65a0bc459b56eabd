"""Backprop in matrix form over the whole batch (columns are examples).

BP1  delta^L = dC/da^L ⊙ sigma'(z^L)          (J_softmax^T dC/da for softmax)
BP2  delta^l = ((W^{l+1})^T delta^{l+1}) ⊙ sigma'(z^l)
BP3  dC/db^l = mean over examples of delta^l
BP4  dC/dW^l = delta^l (a^{l-1})^T / m
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backprop._types import Array
from backprop.activations import Activation
from backprop.costs import Cost
from backprop.network import Gradients, Network, Trace, check_XY, forward_arrays


def output_delta(sigma_L: Activation, cost_fn: Cost, trace: Trace, Y: Array) -> Array:
    """BP1: delta^L = dC_x/da^L ⊙ sigma'(z^L), or the cost's simplification a^L - y."""
    if cost_fn.delta is not None:
        return cost_fn.delta(trace.a[-1], Y)
    return sigma_L.backward(trace.z[-1], cost_fn.dC_da(trace.a[-1], Y))


def backprop_arrays(
    W: Sequence[Array], sigma: Sequence[Activation], cost_fn: Cost, trace: Trace, Y: Array
) -> Gradients:
    """BP1-BP4 on a finished forward pass; no checks (complex-safe)."""
    L = len(W)
    m = Y.shape[1]
    delta: list[Array] = [trace.z[0]] * L
    delta[L - 1] = output_delta(sigma[L - 1], cost_fn, trace, Y)
    for l in range(L - 2, -1, -1):
        # BP2: delta^l = ((W^{l+1})^T delta^{l+1}) ⊙ sigma'(z^l)
        delta[l] = sigma[l].backward(trace.z[l], W[l + 1].T @ delta[l + 1])
    # BP3 and BP4: the batch cost is a mean, so both average over the m columns.
    db = [d.mean(axis=1, keepdims=True) for d in delta]
    dW = [delta[l] @ trace.a[l].T / m for l in range(L)]
    return Gradients(delta=delta, dW=dW, db=db)


def backprop(net: Network, X: Any, Y: Any) -> Gradients:
    """Gradients of C = mean_x C_x for a batch X (n_0, m), Y (n_L, m), in matrix form.

    Pure: no argument is modified. Raises ValueError/TypeError for bad input.
    """
    X, Y = check_XY(net, X, Y)
    trace = forward_arrays(net.weights, net.biases, net.sigma, X)
    return backprop_arrays(net.weights, net.sigma, net.cost_fn, trace, Y)

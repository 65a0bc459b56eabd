"""The forward pass and the cost: z[l] = W[l] @ a[l] + b[l], a[l+1] = sigma[l](z[l]),
C = (1/m) sum_x C_x.

`forward` and `cost` check their arguments (backprop.inputs); `forward_arrays` and
`per_example_cost` are the same arithmetic on arrays already checked, complex-safe,
for the checker's float64 and complex-step re-runs of a network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from backprop._types import Array
from backprop.activations import Activation
from backprop.blas import sgemv_invalid_ignored
from backprop.costs import Cost
from backprop.inputs import check_X, check_XY
from backprop.network import Network, Trace


def forward_arrays(
    W: Sequence[Array], b: Sequence[Array], sigma: Sequence[Activation], X: Array
) -> Trace:
    """z[l] = W[l] @ a[l] + b[l], a[l+1] = sigma[l](z[l]); no checks, complex-safe."""
    z: list[Array] = []
    a: list[Array] = [X]
    for W_l, b_l, sigma_l in zip(W, b, sigma, strict=True):
        z.append(W_l @ a[-1] + b_l)
        a.append(sigma_l.sigma(z[-1]))
    return Trace(z=z, a=a)


def per_example_cost(cost_fn: Cost, z_L: Array, a_L: Array | Callable[[Array], Array],
                     Y: Array) -> Array:
    """C_x for every column x: cost_fn.value_z(z^L, y) where the cost has that stable
    form (finite however saturated a^L is), else cost_fn.value(a^L, y).

    a_L: a^L, or the output activation's sigma to compute it from z_L only when it
    is needed (for z^L whose a^L has not been computed). z_L, a_L, Y (n_L, m), or
    with leading axes of perturbations; the result has one entry per column.
    """
    if cost_fn.value_z is not None:
        return cost_fn.value_z(z_L, Y)
    return cost_fn.value(a_L(z_L) if callable(a_L) else a_L, Y)


def forward(net: Network, X: Any) -> Trace:
    """The forward pass over a batch: trace.z[l] (n_{l+1}, m), trace.a[0] is X."""
    X = check_X(net, X)
    with sgemv_invalid_ignored(net.dtype):  # OpenBLAS's false flag: see backprop.blas
        return forward_arrays(net.weights, net.biases, net.sigma, X)


def cost(net: Network, X: Any, Y: Any) -> float:
    """C = (1/m) sum_x C_x: the mean of the per-example costs over the batch."""
    X, Y = check_XY(net, X, Y)
    with sgemv_invalid_ignored(net.dtype):  # OpenBLAS's false flag: see backprop.blas
        trace = forward_arrays(net.weights, net.biases, net.sigma, X)
    return float(np.mean(per_example_cost(net.cost_fn, trace.z[-1], trace.a[-1], Y)))

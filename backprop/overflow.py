"""The overflow guard: an a-priori bound on every z, a, delta, dW and cost of a call.

A cheap bound (no forward pass; O(parameters) array work, done once per network in
`parameter_norms`): |z[l]| <= max_j sum_i |W[l][j, i]| |a[l]| + |b[l][j]|; |a[l+1]|
and |sigma'| from `activation_bounds`; |delta^L| <= 2 (|a^L| + |y|) (a - y, or
J^T (a - y) for softmax); |delta[l]| <= max_j sum_k |W[l+1][k, j]| |delta[l+1]| |sigma'|;
|dW[l]| <= |delta[l]| |a[l]|; C_x <= n_L (1 + |z^L| + |a^L| + |y|)^2.
`require_no_overflow` raises a ValueError naming the first quantity that could
overflow; `backprop.inputs.check_X` and `check_XY` call it on every batch.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from backprop import validate as v
from backprop._types import Array
from backprop.activations import Activation

if TYPE_CHECKING:  # only for annotations: network.py imports this module
    from backprop.network import Network

LayerNorms = tuple[float, float, float]
"""max_j sum_i |W_ji| (the largest row sum), max_i sum_j |W_ji| (column sum), max_j |b_j|."""


@dataclass(frozen=True)
class ParameterNorms:
    """The `LayerNorms` of every layer, and the parameter arrays they were computed from."""

    arrays: tuple[Array, ...]
    per_layer: tuple[LayerNorms, ...]

    def describe(self, net: Network) -> bool:
        """True while net's parameters provably are the arrays these norms were computed
        from: the same objects, all still read-only (one made writeable again may have
        changed)."""
        params = (*net.weights, *net.biases)
        # Equal ids are the same objects: self.arrays keeps its arrays alive.
        return (not any(p.flags.writeable for p in params)
                and tuple(map(id, params)) == tuple(map(id, self.arrays)))


def parameter_norms(weights: Sequence[Array], biases: Sequence[Array]) -> ParameterNorms:
    """The norms of every layer's W and b (O(parameters): the guard's only array work)."""
    per_layer = []
    with np.errstate(all="ignore"):  # a sum that overflows is inf, which the guard reports
        for l, W in enumerate(weights):
            absW = np.abs(W)
            per_layer.append((float(absW.sum(axis=1).max()), float(absW.sum(axis=0).max()),
                              float(np.abs(biases[l]).max())))
    return ParameterNorms((*weights, *biases), tuple(per_layer))


def norms_of(net: Network) -> tuple[LayerNorms, ...]:
    """net.parameter_norms (computed when net was built) while they still describe net's
    parameters; recomputed on every call for parameters replaced or made writeable."""
    if net.parameter_norms.describe(net):
        return net.parameter_norms.per_layer
    return parameter_norms(net.weights, net.biases).per_layer


def activation_bounds(sigma: Activation, U: float) -> tuple[float, float]:
    """Bounds on |sigma(z)| and |sigma'(z)| for |z| <= U, U a power of two (`power_above`).

    The registered activations are monotone, so |sigma| <= max |sigma(+-U)|, and each
    sigma' peaks at 0 or grows with z, so |sigma'| <= its largest value at -U, 0, U.
    Softmax: a in [0, 1], and J^T g = a (g - sum a g) is at most 2 |g|.
    """
    if not sigma.elementwise:
        return 1.0, 2.0
    edges = np.array([[-U], [0.0], [U]])
    return (float(np.max(np.abs(sigma.sigma(edges)))),
            float(np.max(np.abs(sigma.sigma_prime(edges)))))


@functools.cache
def cached_activation_bounds(sigma: Activation, U: float) -> tuple[float, float]:
    """activation_bounds, computed once per (sigma, U): what the guard calls on every batch.
    (Kept apart so that activation_bounds itself stays undecorated, which mutmut mutates.)"""
    return activation_bounds(sigma, U)


def power_above(Z: float) -> float:
    """The smallest power of two >= max(Z, 1), for a finite Z: what activation_bounds
    is asked for, so that cached_activation_bounds holds a few entries per activation."""
    return float(2.0 ** np.ceil(np.log2(max(Z, 1.0))))


def largest(value: Any, array: Array, name: str) -> float:
    """max |array| in two reductions and no temporary; ValueError (from
    require_finite) if array holds a NaN or an inf, which max and min propagate."""
    top, bottom = float(array.max()), float(array.min())
    if not (np.isfinite(top) and np.isfinite(bottom)):
        v.require_finite(value, array, name)
    return max(top, -bottom)


def require_no_overflow(net: Network, X_max: float, Y_max: float | None) -> None:
    """ValueError unless every z, a, delta, dW and cost provably stays below LIMIT
    (module docstring), for max |X| = X_max and max |Y| = Y_max (None: forward only).

    LIMIT is the dtype's largest number, but at most the square root of
    float64's (1.3e154, so that the checker's float64 error model can multiply
    such values), over 1024 for rounding.
    """
    limit = min(float(np.finfo(net.dtype).max), float(np.sqrt(np.finfo(np.float64).max))) / 1024

    def need(bound: float, what: str) -> None:
        if not bound <= limit:  # also catches inf and nan
            raise ValueError(
                f"{what} could reach {bound:.3g}, above {limit:.3g}, where {net.dtype} "
                "would overflow: scale X, Y or the weights down"
            )

    with np.errstate(all="ignore"):  # an overflowing bound is inf, and inf is reported
        # ndarray methods, not np.max(...): this runs on every call, and the
        # wrappers would cost more than the reductions on small networks.
        A = [X_max]  # A[l] bounds |a[l]|
        S: list[float] = []  # S[l] bounds |sigma'(z[l])|
        norms = norms_of(net)
        cols = [col for _, col, _ in norms]  # max_j sum_k |W[l][k, j]|, for BP2
        need(A[0], "|X|")
        for l, ((row, _, b_max), sigma) in enumerate(zip(norms, net.sigma, strict=True)):
            Z = row * A[l] + b_max
            need(Z, f"|z[{l}]| (from |X| <= {A[0]:.3g} and the weights)")
            a_bound, s_bound = cached_activation_bounds(sigma, power_above(Z))
            A.append(a_bound)
            S.append(s_bound)
            need(A[-1], f"|a[{l + 1}]|")
        if Y_max is None:
            return
        term = 1 + Z + A[-1] + Y_max
        need(net.sizes[-1] * term * term, "the cost")  # not **: float ** raises OverflowError
        D = 2 * (A[-1] + Y_max) * max(S[-1], 1.0)  # bounds |delta[l]|, from l = L - 1 down
        for l in range(net.L - 1, -1, -1):
            need(D, f"|delta[{l}]|")
            need(D * A[l], f"|dW[{l}]|")
            if l > 0:
                D = cols[l] * D * S[l - 1]

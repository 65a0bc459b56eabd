"""The network and its forward pass: z^l = W^l a^{l-1} + b^l, a^l = sigma_l(z^l).

Index convention (the only one in this package): lists are 0-based per layer.
W[l], b[l], z[l], delta[l], dW[l], db[l] belong to layer l+1 of the derivation;
a[0] is the input X and a[l+1] = sigma(z[l]). Arrays hold one column per example.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backprop import validate as v
from backprop._types import Array
from backprop.activations import ACTIVATIONS, Activation
from backprop.costs import COSTS, Cost


@dataclass(frozen=True)
class Trace:
    """What the forward pass leaves behind: z (L arrays (n_l, m)), a (L + 1 arrays)."""

    z: list[Array]
    a: list[Array]


@dataclass(frozen=True)
class Gradients:
    """Backprop's answer, in the package's index convention.

    delta[l]: (n, m), column x is dC_x/dz for example x (per example, not / m).
    dW[l] = delta[l] @ a[l].T / m (BP4); db[l] = mean of delta[l] over columns (BP3).
    A backprop that does not keep its deltas may leave delta out,
    Gradients(dW=..., db=...): an empty delta means "not given", and
    checks.check_network then checks BP3 and BP4 only.
    """

    delta: list[Array] = field(default_factory=list)
    dW: list[Array] = field(default_factory=list)
    db: list[Array] = field(default_factory=list)


class Network:
    """A multilayer perceptron: weights, biases, one activation per layer, a cost.

    weights[l] is W^{l+1}, shape (n_{l+1}, n_l); biases[l] is b^{l+1}, shape
    (n_{l+1}, 1). The arrays are copied, so later changes to the caller's
    arrays do not reach the network, and the copies are read-only: a network
    is a value (to change a parameter, build a new Network from modified
    copies). `activations` is one name per layer, or one name for every
    layer; with a single name and a cost that requires a particular output
    (cross_entropy -> sigmoid, categorical_cross_entropy -> softmax), the
    output layer gets the required one.

    Raises ValueError for inconsistent shapes, unknown names, softmax before
    the output layer or an output that does not suit the cost; TypeError for
    arguments of the wrong type.
    """

    def __init__(
        self,
        weights: Sequence[Any],
        biases: Sequence[Any],
        activations: str | Sequence[str],
        cost: str = "quadratic",
    ) -> None:
        for name, value in (("weights", weights), ("biases", biases)):
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                raise TypeError(f"{name} must be a list of arrays, one per layer; got "
                                f"{type(value).__name__} (wrap a single layer as [array])")
        if len(weights) == 0:
            raise ValueError("weights is empty: a network needs at least one layer")
        if len(biases) != len(weights):
            raise ValueError(
                f"biases has {len(biases)} arrays, but weights has {len(weights)}: "
                "one bias vector per layer"
            )
        self.cost_fn: Cost = _lookup(COSTS, cost, "cost")
        self.cost: str = cost
        self.weights: list[Array] = _check_weights(weights)
        self.dtype = np.result_type(*self.weights)
        self.weights = [W.astype(self.dtype) for W in self.weights]
        self.biases: list[Array] = _check_biases(biases, self.weights, self.dtype)
        for array in (*self.weights, *self.biases):
            array.flags.writeable = False
        # Memo of _parameter_norms: (the arrays it was computed from, the norms).
        self._norms: tuple[tuple[Array, ...], list[tuple[float, float, float]]] | None = None
        self.activations: tuple[str, ...] = tuple(
            _output_activation(v.as_names(activations, "activations", self.L), self.cost_fn)
            if isinstance(activations, str)
            else v.as_names(activations, "activations", self.L)
        )
        self.sigma: tuple[Activation, ...] = tuple(
            _lookup(ACTIVATIONS, name, "activation") for name in self.activations
        )
        _check_pairing(self.sigma, self.cost_fn)

    @property
    def L(self) -> int:
        """Number of layers with weights (the input layer is not counted)."""
        return len(self.weights)

    @property
    def sizes(self) -> list[int]:
        """[n_0, n_1, ..., n_L]."""
        return [self.weights[0].shape[1]] + [W.shape[0] for W in self.weights]

    @classmethod
    def random(
        cls,
        sizes: Sequence[int],
        activations: str | Sequence[str] = "sigmoid",
        cost: str = "quadratic",
        seed: int | None = 0,
        dtype: Any = np.float64,
        scale: float = 1.0,
    ) -> Network:
        """A network with W^l ~ N(0, scale^2 / n_{l-1}) and b^l ~ N(0, scale^2).

        Drawn from np.random.default_rng(seed), so the same seed gives the same net.
        """
        sizes = v.check_layer_sizes(sizes)
        scale = v.check_number(scale, "scale")
        dtype = v.float_dtype(dtype)
        rng = np.random.default_rng(v.check_seed(seed))
        with np.errstate(over="ignore"):  # a huge scale is reported below, not warned about
            weights = [
                (rng.standard_normal((n_out, n_in)) * (scale / np.sqrt(n_in))).astype(dtype)
                for n_in, n_out in itertools.pairwise(sizes)
            ]
            biases = [(rng.standard_normal((n, 1)) * scale).astype(dtype) for n in sizes[1:]]
        if not all(np.all(np.isfinite(p)) for p in (*weights, *biases)):
            raise ValueError(f"scale = {scale:g} is too large for {dtype}: the weights overflow")
        return cls(weights, biases, activations, cost)

    def __repr__(self) -> str:
        return (
            f"Network(sizes={self.sizes}, activations={list(self.activations)}, "
            f"cost={self.cost!r}, dtype={self.dtype})"
        )


def _lookup(registry: dict[str, Any], name: Any, what: str) -> Any:
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a name, got {name!r}")
    if name not in registry:
        raise ValueError(f"unknown {what} {name!r}; known: {', '.join(sorted(registry))}")
    return registry[name]


def _check_weights(weights: Sequence[Any]) -> list[Array]:
    Ws = [v.as_float_array(W, f"weights[{l}]") for l, W in enumerate(weights)]
    for l, W in enumerate(Ws):
        if W.ndim != 2 or 0 in W.shape:
            raise ValueError(
                f"weights[{l}] must be a non-empty 2-D array (n_{l + 1}, n_{l}), "
                f"got shape {W.shape}"
            )
        if l > 0 and W.shape[1] != Ws[l - 1].shape[0]:
            raise ValueError(
                f"weights[{l}] has shape {W.shape}: its {W.shape[1]} columns must match "
                f"the {Ws[l - 1].shape[0]} rows of weights[{l - 1}]"
            )
    return Ws


def _check_biases(biases: Sequence[Any], Ws: list[Array], dtype: Any) -> list[Array]:
    bs = [v.as_float_array(b, f"biases[{l}]", dtype) for l, b in enumerate(biases)]
    for l, (b, W) in enumerate(zip(bs, Ws, strict=True)):
        if b.shape != (W.shape[0], 1):
            raise ValueError(
                f"biases[{l}] has shape {b.shape}, expected ({W.shape[0]}, 1) to match "
                f"the {W.shape[0]} rows of weights[{l}]"
            )
    return bs


def _output_activation(names: list[str], cost_fn: Cost) -> list[str]:
    if cost_fn.requires is not None:
        names[-1] = cost_fn.requires
    return names


def _check_pairing(sigma: Sequence[Activation], cost_fn: Cost) -> None:
    for l, act in enumerate(sigma[:-1]):
        if act.output_only:
            raise ValueError(
                f"activations[{l}] is {act.name!r}, which may only be the output layer"
            )
    if cost_fn.requires is not None and sigma[-1].name != cost_fn.requires:
        raise ValueError(
            f"cost {cost_fn.name!r} requires a {cost_fn.requires!r} output layer, "
            f"got {sigma[-1].name!r}"
        )


def check_net(net: Any) -> Network:
    """net itself, if it is a Network."""
    if not isinstance(net, Network):
        raise TypeError(f"net must be a backprop.Network, got {type(net).__name__}")
    return net


def check_X(net: Network, X: Any) -> Array:
    """X as a (n_0, m) array of the network's dtype, small enough not to overflow."""
    check_net(net)
    X_in = X
    X = v.as_matrix(X, "X", net.sizes[0], net.dtype, "the network's input layer",
                    check_finite=False)
    _check_magnitudes(net, _largest(X_in, X, "X"), None)
    return X


def check_XY(net: Network, X: Any, Y: Any) -> tuple[Array, Array]:
    """X (n_0, m) and Y (n_L, m), with targets that suit the cost."""
    check_net(net)
    # No copies: every caller only reads X and Y (and check_network hands a user's
    # backprop copies of its own).
    # Finiteness is checked along with the largest magnitude: one pass over X fewer.
    X_in, Y_in = X, Y
    X = v.as_matrix(X, "X", net.sizes[0], net.dtype, "the network's input layer", copy=False,
                    check_finite=False)
    X_max = _largest(X_in, X, "X")
    Y = v.as_matrix(Y, "Y", net.sizes[-1], net.dtype, "the network's output layer", copy=False,
                    check_finite=False)
    Y_max = _largest(Y_in, Y, "Y")
    if Y.shape[1] != X.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} examples (columns) but Y has {Y.shape[1]}: "
            "they must match"
        )
    if net.cost_fn.targets != "real" and (np.any(Y < 0) or np.any(Y > 1)):  # NaN refused above
        j, x = np.argwhere((Y < 0) | (Y > 1))[0]
        raise ValueError(f"Y[{j}, {x}] = {Y[j, x]}, but cost {net.cost!r} needs targets "
                         "in [0, 1]")
    if net.cost_fn.targets == "distributions":
        sums = Y.sum(axis=0)
        tol = 8 * Y.shape[0] * np.finfo(net.dtype).eps
        if np.any(np.abs(sums - 1) > tol):
            x = int(np.argmax(np.abs(sums - 1)))
            raise ValueError(
                f"each column of Y must be a distribution (sum 1) for cost {net.cost!r}, "
                f"but column {x} sums to {float(sums[x])!r} (off by {sums[x] - 1:.2g}, tolerance "
                f"{tol:.2g} in {net.dtype}): normalise Y in the network's dtype"
            )
    _check_magnitudes(net, X_max, Y_max)
    return X, Y


def _largest(value: Any, array: Array, name: str) -> float:
    """max |array| in two reductions and no temporary; ValueError (from
    require_finite) if array holds a NaN or an inf, which max and min propagate."""
    top, bottom = float(array.max()), float(array.min())
    if not (np.isfinite(top) and np.isfinite(bottom)):
        v.require_finite(value, array, name)
    return max(top, -bottom)


def _check_magnitudes(net: Network, X_max: float, Y_max: float | None) -> None:
    """ValueError unless every z, a, delta, dW and cost provably stays below LIMIT.

    A cheap a-priori bound (no forward pass; O(parameters) array work): |z[l]|
    <= max_j sum_i |W[l][j, i]| |a[l]| + |b[l][j]|; |a[l+1]| and |sigma'| from
    `_activation_bounds`; |delta^L| <= 2 (|a^L| + |y|) (a - y, or J^T (a - y)
    for softmax); |delta[l]| <= max_j sum_k |W[l+1][k, j]| |delta[l+1]| |sigma'|;
    |dW[l]| <= |delta[l]| |a[l]|; C_x <= n_L (1 + |z^L| + |a^L| + |y|)^2.
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
        norms = _parameter_norms(net)
        cols = [col for _, col, _ in norms]  # max_j sum_k |W[l][k, j]|, for BP2
        need(A[0], "|X|")
        for l, ((row, _, b_max), sigma) in enumerate(zip(norms, net.sigma, strict=True)):
            Z = row * A[l] + b_max
            need(Z, f"|z[{l}]| (from |X| <= {A[0]:.3g} and the weights)")
            a_bound, s_bound = _activation_bounds(sigma, Z)
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


def _parameter_norms(net: Network) -> list[tuple[float, float, float]]:
    """Per layer: max_j sum_i |W_ji| (rows), max_i sum_j |W_ji| (columns), max_j |b_j|.

    O(parameters), so memoised on the network, but only while its parameters
    are the read-only arrays the memo was computed from (anything else, e.g.
    an array made writeable again or replaced, is recomputed on every call).
    """
    params = (*net.weights, *net.biases)
    frozen = not any(p.flags.writeable for p in params)
    memo = net._norms
    if frozen and memo is not None and len(memo[0]) == len(params) and all(
            p is q for p, q in zip(memo[0], params, strict=True)):
        return memo[1]
    norms = []
    with np.errstate(all="ignore"):
        for W, b in zip(net.weights, net.biases, strict=True):
            absW = np.abs(W)
            norms.append((float(absW.sum(axis=1).max()), float(absW.sum(axis=0).max()),
                          float(np.abs(b).max())))
    net._norms = (params, norms) if frozen else None
    return norms


_BOUNDS: dict[tuple[Activation, float], tuple[float, float]] = {}


def _activation_bounds(sigma: Activation, Z: float) -> tuple[float, float]:
    """Bounds on |sigma(z)| and |sigma'(z)| for |z| <= Z, memoised per power of two.

    Z is rounded up to a power of two U; the registered activations are
    monotone, so |sigma| <= max |sigma(+-U)|, and each sigma' peaks at 0 or
    grows with z, so |sigma'| <= its largest value at -U, 0, U. Softmax: a in
    [0, 1], and J^T g = a (g - sum a g) is at most 2 |g|.
    """
    if not sigma.elementwise:
        return 1.0, 2.0
    U = float(2.0 ** np.ceil(np.log2(max(Z, 1.0))))  # Z is finite: the caller checked
    key = (sigma, U)
    if key not in _BOUNDS:
        edges = np.array([[-U], [0.0], [U]])
        _BOUNDS[key] = (float(np.max(np.abs(sigma.sigma(edges)))),
                        float(np.max(np.abs(sigma.sigma_prime(edges)))))
    return _BOUNDS[key]


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


def per_example_cost(cost_fn: Cost, z_L: Array, a_L: Array, Y: Array) -> Array:
    """C_x for every column x, from z^L where the cost has a stable form."""
    if cost_fn.value_z is not None:
        return cost_fn.value_z(z_L, Y)
    return cost_fn.value(a_L, Y)


def forward(net: Network, X: Any) -> Trace:
    """The forward pass over a batch: trace.z[l] (n_{l+1}, m), trace.a[0] is X."""
    X = check_X(net, X)
    return forward_arrays(net.weights, net.biases, net.sigma, X)


def cost(net: Network, X: Any, Y: Any) -> float:
    """C = (1/m) sum_x C_x: the mean of the per-example costs over the batch."""
    X, Y = check_XY(net, X, Y)
    trace = forward_arrays(net.weights, net.biases, net.sigma, X)
    return float(np.mean(per_example_cost(net.cost_fn, trace.z[-1], trace.a[-1], Y)))

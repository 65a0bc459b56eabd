"""The package's values: a Network, the Trace of its forward pass and its Gradients.

Index convention (the only one in this package): lists are 0-based per layer.
W[l], b[l], z[l], delta[l], dW[l], db[l] belong to layer l+1 of the derivation;
a[0] is the input X and a[l+1] = sigma(z[l]). Arrays hold one column per example.
What is computed from them lives beside: backprop.feedforward (forward, cost),
backprop.inputs (the checks of a call's arguments), backprop.overflow (the guard).
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
from backprop.overflow import ParameterNorms, parameter_norms


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

    Names and what they name come in pairs, as they are passed and as they are
    used: `activations` holds the names (str, one per layer) and `sigma` the
    registry's `Activation` for each; `cost` holds the cost's name (str) and
    `cost_fn` its `Cost` (value and dC/da). `backprop.cost(net, X, Y)`, a
    function, computes the batch cost. `parameter_norms` holds the norms of W and
    b the overflow guard bounds every call with (backprop.overflow), computed here
    once.

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
                f"biases has {v.counted(len(biases), 'array')}, but weights has "
                f"{len(weights)}: "
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
        self.activations: tuple[str, ...] = tuple(
            _output_activation(v.as_names(activations, "activations", self.L), self.cost_fn)
            if isinstance(activations, str)
            else v.as_names(activations, "activations", self.L)
        )
        self.sigma: tuple[Activation, ...] = tuple(
            _lookup(ACTIVATIONS, name, "activation") for name in self.activations
        )
        _check_pairing(self.sigma, self.cost_fn)
        self.parameter_norms: ParameterNorms = parameter_norms(self.weights, self.biases)

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

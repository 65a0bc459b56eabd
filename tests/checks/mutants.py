"""A catalogue of realistic derivation bugs, each planted in an otherwise correct backprop.

`derivation_with(**slips)` is backprop in matrix form with every equation a replaceable
piece; a mutant replaces exactly one piece with a slip a person makes when deriving
or coding backprop by hand. Each mutant names the network it shows up on and where
the checker must localise it: the first failing block in backprop order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from backprop import ACTIVATIONS, Gradients, Network, derivation
from backprop.derivation import Steps, hidden_delta

Array = Any


def derivation_with(finish: Callable[[Gradients], Gradients] = lambda g: g,
                    sigma_prime: dict[str, Callable[[Array], Array]] | None = None,
                    **slips: Any) -> Callable[[Network, Array, Array], Gradients]:
    """backprop.derivation's plain backprop with the named steps replaced (bp1 ... bp4,
    backward: see backprop.derivation.Steps), named activations given a different
    sigma_prime, and the result passed through finish: the template every mutant edits."""
    steps = Steps(**slips)

    def backprop(net: Network, X: Array, Y: Array) -> Gradients:
        sigma = tuple(replace(s, sigma_prime=sigma_prime[s.name])
                      if sigma_prime and s.name in sigma_prime else s for s in net.sigma)
        return finish(derivation.backprop(net.weights, net.biases, sigma, net.cost_fn, X, Y,
                                          steps=steps))

    return backprop


@dataclass(frozen=True)
class Mutant:
    name: str
    impl: Callable[[Network, Array, Array], Gradients]
    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    cost: str
    equation: str
    layer: int


sig = ACTIVATIONS["sigmoid"].sigma
tanh_prime = ACTIVATIONS["tanh"].sigma_prime


def _one_element_off(g: Gradients) -> Gradients:
    dW = [w.copy() for w in g.dW]
    dW[0][1, 2] *= 1 + 1e-9
    return Gradients(g.delta, dW, g.db)


def _delta_batch_mean(g: Gradients) -> Gradients:
    delta = [np.broadcast_to(d.mean(axis=1, keepdims=True), d.shape).copy() for d in g.delta]
    return Gradients(delta, g.dW, g.db)


TANH3 = ((3, 4, 4, 2), ("tanh", "tanh", "tanh"), "quadratic")
SQUARE = ((3, 4, 4, 4, 2), ("tanh", "sigmoid", "softplus", "identity"), "quadratic")
SIGMOID_CE = ((3, 4, 2), ("tanh", "sigmoid"), "cross_entropy")
SOFTMAX_CCE = ((3, 4, 3), ("tanh", "softmax"), "categorical_cross_entropy")
SOFTMAX_Q = ((3, 4, 3), ("tanh", "softmax"), "quadratic")


def _m(name: str, impl: Callable[..., Gradients], config: tuple[Any, ...], equation: str,
       layer: int) -> Mutant:
    sizes, acts, cost = config
    return Mutant(name, impl, sizes, acts, cost, equation, layer)


def _act_config(name: str) -> tuple[Any, ...]:
    return ((3, 4, 3, 2), (name, name, "tanh"), "quadratic")


MUTANTS: list[Mutant] = [
    _m("BP1: sigma' missing", derivation_with(
        bp1=lambda p: p.cost_fn.dC_da(p.a[-1], p.Y)), TANH3, "BP1", 2),
    _m("BP1: sigma'(a) for sigma'(z)", derivation_with(
        bp1=lambda p: (p.a[-1] - p.Y) * tanh_prime(p.a[-1])), TANH3, "BP1", 2),
    _m("BP1: sign flip y - a", derivation_with(
        bp1=lambda p: (p.Y - p.a[-1]) * tanh_prime(p.z[-1])), TANH3, "BP1", 2),
    _m("BP1: quadratic dC/da = 2(a - y)", derivation_with(
        bp1=lambda p: 2 * (p.a[-1] - p.Y) * tanh_prime(p.z[-1])), TANH3, "BP1", 2),
    _m("BP1: hand-derivation slip dC/da = -(y/a + (1-y)/(1-a))", derivation_with(
        bp1=lambda p: -(p.Y / p.a[-1] + (1 - p.Y) / (1 - p.a[-1])) * p.a[-1] * (1 - p.a[-1])),
        SIGMOID_CE, "BP1", 1),
    _m("BP1: cross-entropy a - y times sigma' again", derivation_with(
        bp1=lambda p: (p.a[-1] - p.Y) * p.a[-1] * (1 - p.a[-1])), SIGMOID_CE, "BP1", 1),
    _m("BP1: softmax treated as elementwise (diagonal Jacobian)", derivation_with(
        bp1=lambda p: (p.a[-1] - p.Y) * p.a[-1] * (1 - p.a[-1])), SOFTMAX_Q, "BP1", 1),
    _m("BP1: categorical cross-entropy delta = y - a", derivation_with(
        bp1=lambda p: p.Y - p.a[-1]), SOFTMAX_CCE, "BP1", 1),
    _m("BP1: delta returned as the batch mean", derivation_with(finish=_delta_batch_mean),
       TANH3, "BP1", 2),
    _m("BP2: sigma' missing", derivation_with(
        bp2=lambda p, l, d: p.W[l + 1].T @ d), TANH3, "BP2", 1),
    _m("BP2: sigma'(a) for sigma'(z)", derivation_with(
        bp2=lambda p, l, d: (p.W[l + 1].T @ d) * tanh_prime(p.a[l + 1])),
        TANH3, "BP2", 1),
    _m("BP2: W for W^T", derivation_with(
        bp2=lambda p, l, d: (p.W[l + 1] @ d) * p.sigma[l].sigma_prime(p.z[l])
        if p.W[l + 1].shape[0] == p.W[l + 1].shape[1] else hidden_delta(p, l, d)),
        SQUARE, "BP2", 1),
    _m("BP2: the wrong layer's weights W^l for W^{l+1}", derivation_with(
        bp2=lambda p, l, d: (p.W[l].T @ d) * p.sigma[l].sigma_prime(p.z[l])
        if p.W[l].shape == (d.shape[0], d.shape[0]) else hidden_delta(p, l, d)),
        SQUARE, "BP2", 1),
    _m("BP2: the next layer's sigma'(z^{l+1})", derivation_with(
        bp2=lambda p, l, d: (p.W[l + 1].T @ d) * p.sigma[l + 1].sigma_prime(p.z[l + 1])
        if p.z[l + 1].shape == p.z[l].shape else hidden_delta(p, l, d)),
        SQUARE, "BP2", 1),
    _m("BP2: sign flip", derivation_with(
        bp2=lambda p, l, d: -hidden_delta(p, l, d)), TANH3, "BP2", 1),
    _m("BP2: off-by-one loop range skips the first layer", derivation_with(
        bp2=lambda p, l, d: np.zeros_like(p.z[l]) if l == 0 else hidden_delta(p, l, d)),
        TANH3, "BP2", 0),
    _m("BP3: sum for mean", derivation_with(
        bp3=lambda p, l, d: d.sum(axis=1, keepdims=True)), TANH3, "BP3", 2),
    _m("BP3: first example only", derivation_with(
        bp3=lambda p, l, d: d[:, :1].copy()), TANH3, "BP3", 2),
    _m("BP4: missing 1/m", derivation_with(bp4=lambda p, l, d: d @ p.a[l].T), TANH3, "BP4", 2),
    _m("BP4: 1/m applied twice", derivation_with(bp4=lambda p, l, d: d @ p.a[l].T / p.m**2),
       TANH3, "BP4", 2),
    _m("BP4: z^{l-1} for a^{l-1} (the wrong layer's activations)", derivation_with(
        bp4=lambda p, l, d: d @ (p.z[l - 1] if l > 0 else p.a[0]).T / p.m),
        TANH3, "BP4", 2),
    _m("BP4: sign flip", derivation_with(bp4=lambda p, l, d: -(d @ p.a[l].T) / p.m),
       TANH3, "BP4", 2),
    _m("BP4: a single element off by 1e-9", derivation_with(finish=_one_element_off),
       TANH3, "BP4", 0),
    _m("sigmoid': sigma(z)(1 - z)", derivation_with(
        sigma_prime={"sigmoid": lambda z: sig(z) * (1 - z)}), _act_config("sigmoid"), "BP2", 1),
    _m("tanh': 1 - z^2", derivation_with(
        sigma_prime={"tanh": lambda z: 1 - z**2}), _act_config("tanh"), "BP1", 2),
    _m("relu': 1 everywhere", derivation_with(
        sigma_prime={"relu": lambda z: np.ones_like(z)}), _act_config("relu"), "BP2", 1),
    _m("leaky_relu': no leak", derivation_with(
        sigma_prime={"leaky_relu": lambda z: (z > 0).astype(z.dtype)}),
        _act_config("leaky_relu"), "BP2", 1),
    _m("softplus': sigma(-z)", derivation_with(
        sigma_prime={"softplus": lambda z: sig(-z)}), _act_config("softplus"), "BP2", 1),
    _m("identity': returns z", derivation_with(
        sigma_prime={"identity": lambda z: z.copy()}), _act_config("identity"), "BP2", 1),
]

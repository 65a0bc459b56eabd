"""A catalogue of realistic derivation bugs, each planted in an otherwise correct backprop.

`derivation(**slips)` is backprop in matrix form with every equation a replaceable
piece; a mutant replaces exactly one piece with a slip a person makes when deriving
or coding backprop by hand. Each mutant names the network it shows up on and where
the checker must localise it: the first failing block in backprop order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from backprop import ACTIVATIONS, Gradients, Network, forward
from backprop.activations import Activation

Array = Any


def bp1(net: Network, z: list[Array], a: list[Array], Y: Array) -> Array:
    if net.cost_fn.delta is not None:
        return net.cost_fn.delta(a[-1], Y)
    return net.sigma[-1].backward(z[-1], net.cost_fn.dC_da(a[-1], Y))


def bp2(net: Network, l: int, z: list[Array], a: list[Array], delta_next: Array) -> Array:
    return (net.weights[l + 1].T @ delta_next) * net.sigma[l].sigma_prime(z[l])


def bp3(delta: Array, m: int) -> Array:
    return delta.sum(axis=1, keepdims=True) / m


def bp4(l: int, z: list[Array], a: list[Array], delta: Array, m: int) -> Array:
    return delta @ a[l].T / m


def derivation(bp1: Callable[..., Array] = bp1, bp2: Callable[..., Array] = bp2,
               bp3: Callable[..., Array] = bp3, bp4: Callable[..., Array] = bp4,
               hidden_layers: Callable[[int], range] = lambda L: range(L - 2, -1, -1),
               finish: Callable[[Gradients], Gradients] = lambda g: g,
               sigma_prime: dict[str, Callable[[Array], Array]] | None = None,
               ) -> Callable[[Network, Array, Array], Gradients]:
    """Backprop with each equation replaceable: the template every mutant edits."""

    def backprop(net: Network, X: Array, Y: Array) -> Gradients:
        if sigma_prime:
            net = _with_derivatives(net, sigma_prime)
        trace = forward(net, X)
        z, a, L, m = trace.z, trace.a, net.L, X.shape[1]
        delta = [np.zeros_like(z_l) for z_l in z]
        delta[L - 1] = bp1(net, z, a, Y)
        for l in hidden_layers(L):
            delta[l] = bp2(net, l, z, a, delta[l + 1])
        return finish(Gradients(delta=delta,
                                dW=[bp4(l, z, a, delta[l], m) for l in range(L)],
                                db=[bp3(delta[l], m) for l in range(L)]))

    return backprop


def _with_derivatives(net: Network, sigma_prime: dict[str, Callable[[Array], Array]]) -> Network:
    """A copy of net whose named activations carry a different (wrong) derivative."""
    clone = Network(net.weights, net.biases, list(net.activations), net.cost)
    sigma = tuple(
        Activation(s.name, s.sigma, sigma_prime[s.name], s.kinks, s.elementwise,
                   s.output_only) if s.name in sigma_prime else s
        for s in net.sigma)
    object.__setattr__(clone, "sigma", sigma)
    return clone


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
    _m("BP1: sigma' missing", derivation(
        bp1=lambda net, z, a, Y: net.cost_fn.dC_da(a[-1], Y)), TANH3, "BP1", 2),
    _m("BP1: sigma'(a) for sigma'(z)", derivation(
        bp1=lambda net, z, a, Y: (a[-1] - Y) * tanh_prime(a[-1])), TANH3, "BP1", 2),
    _m("BP1: sign flip y - a", derivation(
        bp1=lambda net, z, a, Y: (Y - a[-1]) * tanh_prime(z[-1])), TANH3, "BP1", 2),
    _m("BP1: quadratic dC/da = 2(a - y)", derivation(
        bp1=lambda net, z, a, Y: 2 * (a[-1] - Y) * tanh_prime(z[-1])), TANH3, "BP1", 2),
    _m("BP1: hand-derivation slip dC/da = -(y/a + (1-y)/(1-a))", derivation(
        bp1=lambda net, z, a, Y: -(Y / a[-1] + (1 - Y) / (1 - a[-1])) * a[-1] * (1 - a[-1])),
        SIGMOID_CE, "BP1", 1),
    _m("BP1: cross-entropy a - y times sigma' again", derivation(
        bp1=lambda net, z, a, Y: (a[-1] - Y) * a[-1] * (1 - a[-1])), SIGMOID_CE, "BP1", 1),
    _m("BP1: softmax treated as elementwise (diagonal Jacobian)", derivation(
        bp1=lambda net, z, a, Y: (a[-1] - Y) * a[-1] * (1 - a[-1])), SOFTMAX_Q, "BP1", 1),
    _m("BP1: categorical cross-entropy delta = y - a", derivation(
        bp1=lambda net, z, a, Y: Y - a[-1]), SOFTMAX_CCE, "BP1", 1),
    _m("BP1: delta returned as the batch mean", derivation(finish=_delta_batch_mean),
       TANH3, "BP1", 2),
    _m("BP2: sigma' missing", derivation(
        bp2=lambda net, l, z, a, d: net.weights[l + 1].T @ d), TANH3, "BP2", 1),
    _m("BP2: sigma'(a) for sigma'(z)", derivation(
        bp2=lambda net, l, z, a, d: (net.weights[l + 1].T @ d) * tanh_prime(a[l + 1])),
        TANH3, "BP2", 1),
    _m("BP2: W for W^T", derivation(
        bp2=lambda net, l, z, a, d: (net.weights[l + 1] @ d) * net.sigma[l].sigma_prime(z[l])
        if net.weights[l + 1].shape[0] == net.weights[l + 1].shape[1] else bp2(net, l, z, a, d)),
        SQUARE, "BP2", 1),
    _m("BP2: the wrong layer's weights W^l for W^{l+1}", derivation(
        bp2=lambda net, l, z, a, d: (net.weights[l].T @ d) * net.sigma[l].sigma_prime(z[l])
        if net.weights[l].shape == (d.shape[0], d.shape[0]) else bp2(net, l, z, a, d)),
        SQUARE, "BP2", 1),
    _m("BP2: the next layer's sigma'(z^{l+1})", derivation(
        bp2=lambda net, l, z, a, d: (net.weights[l + 1].T @ d)
        * net.sigma[l + 1].sigma_prime(z[l + 1])
        if z[l + 1].shape == z[l].shape else bp2(net, l, z, a, d)),
        SQUARE, "BP2", 1),
    _m("BP2: sign flip", derivation(
        bp2=lambda net, l, z, a, d: -bp2(net, l, z, a, d)), TANH3, "BP2", 1),
    _m("BP2: off-by-one loop range skips the first layer", derivation(
        hidden_layers=lambda L: range(L - 2, 0, -1)), TANH3, "BP2", 0),
    _m("BP3: sum for mean", derivation(
        bp3=lambda d, m: d.sum(axis=1, keepdims=True)), TANH3, "BP3", 2),
    _m("BP3: first example only", derivation(
        bp3=lambda d, m: d[:, :1].copy()), TANH3, "BP3", 2),
    _m("BP4: missing 1/m", derivation(bp4=lambda l, z, a, d, m: d @ a[l].T), TANH3, "BP4", 2),
    _m("BP4: 1/m applied twice", derivation(bp4=lambda l, z, a, d, m: d @ a[l].T / m**2),
       TANH3, "BP4", 2),
    _m("BP4: z^{l-1} for a^{l-1} (the wrong layer's activations)", derivation(
        bp4=lambda l, z, a, d, m: d @ (z[l - 1] if l > 0 else a[0]).T / m),
        TANH3, "BP4", 2),
    _m("BP4: sign flip", derivation(bp4=lambda l, z, a, d, m: -(d @ a[l].T) / m), TANH3, "BP4", 2),
    _m("BP4: a single element off by 1e-9", derivation(finish=_one_element_off),
       TANH3, "BP4", 0),
    _m("sigmoid': sigma(z)(1 - z)", derivation(
        sigma_prime={"sigmoid": lambda z: sig(z) * (1 - z)}), _act_config("sigmoid"), "BP2", 1),
    _m("tanh': 1 - z^2", derivation(
        sigma_prime={"tanh": lambda z: 1 - z**2}), _act_config("tanh"), "BP1", 2),
    _m("relu': 1 everywhere", derivation(
        sigma_prime={"relu": lambda z: np.ones_like(z)}), _act_config("relu"), "BP2", 1),
    _m("leaky_relu': no leak", derivation(
        sigma_prime={"leaky_relu": lambda z: (z > 0).astype(z.dtype)}),
        _act_config("leaky_relu"), "BP2", 1),
    _m("softplus': sigma(-z)", derivation(
        sigma_prime={"softplus": lambda z: sig(-z)}), _act_config("softplus"), "BP2", 1),
    _m("identity': returns z", derivation(
        sigma_prime={"identity": lambda z: z.copy()}), _act_config("identity"), "BP2", 1),
]

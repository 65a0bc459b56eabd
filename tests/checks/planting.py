"""The planted-error harness: random networks, one relative error planted in one element.

What the precision tests and tools/calibrate.py share: the population of random
cases, the choice of an element worth planting into (not at a kink, not rounding
noise), the planting itself, and cached_everywhere, a correct implementation the
default cached_derivatives=True must accept.
"""

from __future__ import annotations

import numpy as np

from backprop import ACTIVATIONS, COSTS, HIDDEN, Array, Gradients, Network, derivation, vectorized
from checks.engine.stencils import METHODS
from checks.netcheck import moves, perturb
from checks.network import analyse

FIELDS = ("delta", "dW", "db")
# (field, layer, index) of one element of the gradients.
Element = tuple[str, int, tuple[int, ...]]


def random_case(rng: np.random.Generator, dtype: type = np.float64,
                max_scale: float = 3.0) -> tuple[Network, Array, Array]:
    """A random network and batch, the same population as the hypothesis tests."""
    L = int(rng.integers(1, 5))
    sizes = [int(n) for n in rng.integers(1, 9, size=L + 1)]
    cost = str(rng.choice(list(COSTS)))
    required = COSTS[cost].requires
    output = required or str(rng.choice(list(ACTIVATIONS)))
    if output == "softmax" and sizes[-1] == 1 and cost == "quadratic":
        output = "sigmoid"
    acts = [str(rng.choice(HIDDEN)) for _ in range(L - 1)] + [output]
    net = Network.random(sizes, acts, cost, seed=int(rng.integers(2**32)), dtype=dtype,
                         scale=float(rng.uniform(0.1, max_scale)))
    m = int(rng.integers(1, 9))
    X = rng.uniform(-2, 2, (sizes[0], m))
    Y = net.cost_fn.sample_targets(rng.uniform(size=(sizes[-1], m)))
    return net, X.astype(dtype), Y.astype(dtype)


def plant(g: Gradients, field: str, l: int, index: tuple[int, ...], rel: float) -> Gradients:
    """g with one element multiplied by (1 + rel)."""
    arrays = {f: [a.copy() for a in getattr(g, f)] for f in FIELDS}
    arrays[field][l][index] *= 1 + rel
    return Gradients(**arrays)


def pick_element(rng: np.random.Generator, g: Gradients, at_kinks: set[Element],
                 noise: Gradients) -> tuple[str, int, tuple[int, ...]] | None:
    """A random element with |value| >= 1 % of its array's largest, not at a kink.

    Elements no larger than their own rounding bound (`noise`) are left out: such
    a value is rounding noise (a gradient that is zero in exact arithmetic), and
    1 % of it means nothing.
    """
    candidates = []
    for field in FIELDS:
        for l, (a, e) in enumerate(zip(getattr(g, field), getattr(noise, field), strict=True)):
            top = float(np.max(np.abs(a)))
            if top == 0 or not np.isfinite(top):
                continue
            for index in np.argwhere((np.abs(a) >= 0.01 * top) & (np.abs(a) > e)):
                idx = tuple(int(i) for i in index)
                if (field, l, idx) not in at_kinks:
                    candidates.append((field, l, idx))
    return candidates[int(rng.integers(len(candidates)))] if candidates else None


def kink_elements(net: Network, X: Array, Y: Array, method: str,
                  cached: bool = True) -> set[Element]:
    """(field, layer, index) of every element whose perturbation under `method` moves a
    z at or near a kink: what check_network checks as a subgradient (or skips), with
    a weaker tolerance than elsewhere, and so left out of the planting."""
    model = analyse(net, X, Y, cached)
    chosen = METHODS[method]
    local = perturb.forward_tangents(model, chosen)
    g = vectorized.backprop(net, X, Y)  # for the arrays' shapes
    out: set[Element] = set()
    for l in range(net.L):
        for t in moves.targets_of(model, g, l):
            kinked = perturb.element_derivatives(model, l, t, chosen, tangents=local).kinked
            out |= {(t.id.kind, l, tuple(int(i) for i in idx)) for idx in np.argwhere(kinked)}
    return out

def cached_everywhere(net: Network, X: Array, Y: Array) -> Gradients:
    """Backprop in the network's dtype taking sigma' from the cached activation
    (1 - a^2, a (1 - a), ...) in every layer, the output's included (vectorized
    does so only in hidden layers): a correct implementation that the default
    cached_derivatives=True accepts."""
    return derivation.backprop(net.weights, net.biases, net.sigma, net.cost_fn, X, Y,
                               steps=derivation.FROM_CACHED_A)

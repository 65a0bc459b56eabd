"""The common slips of deriving and coding backprop by hand: one catalogue, two uses.

Each `Slip` is one mistake written once: the equation it breaks, the words the
diagnosis says to the student, and the replaced step of the statement of the
derivation (backprop.derivation): a `Steps` with one equation swapped, a wrong
sigma' for one activation, or a `finish` applied to the gradients.

  the tests plant it       `plant(slip)` is backprop with the slip made wherever
                           it can be (`where`), the correct step elsewhere: the
                           checker must catch it under its equation and layer
  the diagnosis names it   for a broken equation, checks.netcheck.diagnose runs
                           each recomputed slip of that equation on the
                           implementation's own upstream delta and says
                           "matches: <words>" for the first that fits

A slip the numbers show without recomputing it (every element m times too
large, one element wrong) is named by the diagnosis's ratios and patterns, and
a wrong sigma' only shows as the equation it breaks: `named` says which. The
order of SLIPS is the order the diagnosis tries them in; BY_NAME finds one by its
name. Adding a slip is adding one entry here, and the network it shows up on to
tests/checks/mutants.py (SHOWN_ON): the tests then plant it there, require the
checker to catch it at that equation and layer, and the diagnosis to say its words
(unless it is "not named").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from backprop import derivation
from backprop._types import Array
from backprop.activations import ACTIVATIONS
from backprop.derivation import CORRECT, Pass, Steps, hidden_delta, output_delta, weight_gradient
from backprop.network import Gradients, Network

Where = Callable[[Pass, int], bool]
Named = Literal["recomputed", "by its numbers", "not named"]


def everywhere(p: Pass, l: int) -> bool:
    """Every layer of the slip's equation."""
    return True


@dataclass(frozen=True)
class Slip:
    """One common slip: its equation, the words for the student, the replaced step.

    name: what the slip is (the tests' id). equation: "BP1" ... "BP4", or
    "sigma'" for a wrong activation derivative (it breaks BP1 or BP2, wherever
    that activation is). words: what the diagnosis says, with {l}, {next} and
    {prev} for the layer l, l + 1 and l - 1. where(p, l): whether the slip can
    be made at layer l of its equation on the network of p (W[l+1] square, ...).
    named: "recomputed" (the diagnosis recomputes it and says "matches: " +
    words), "by its numbers" (words are part of what the diagnosis says from the
    numbers alone: a ratio, a pattern, or another slip whose numbers these are,
    as relu' = 1 is sigma' left out), "not named" (words only describe it).
    """

    name: str
    equation: str
    words: str
    steps: Steps = CORRECT
    where: Where = everywhere
    activation: str | None = None  # with sigma_prime: this activation's derivative is wrong
    sigma_prime: Callable[[Array], Array] | None = None
    finish: Callable[[Gradients], Gradients] | None = None
    named: Named = "recomputed"

    def says(self, l: int) -> str:
        """The words at layer l (other braces, as in delta^{l+1}, stay as they are)."""
        return (self.words.replace("{l}", str(l)).replace("{next}", str(l + 1))
                .replace("{prev}", str(l - 1)))


def made_where_possible(slip: Slip) -> Steps:
    """The slip's step of its equation at the layers where it can be made (`where`),
    the correct one elsewhere; every other step as slip.steps has it."""
    def at(equation: str, p: Pass, l: int) -> Steps:
        return slip.steps if equation != slip.equation or slip.where(p, l) else CORRECT

    return replace(slip.steps,
                   bp1=lambda p: at("BP1", p, p.L - 1).bp1(p),
                   bp2=lambda p, l, d: at("BP2", p, l).bp2(p, l, d),
                   bp3=lambda p, l, d: at("BP3", p, l).bp3(p, l, d),
                   bp4=lambda p, l, d: at("BP4", p, l).bp4(p, l, d))


def plant(slip: Slip) -> Callable[[Network, Array, Array], Gradients]:
    """backprop(net, X, Y) making the slip: the statement of the derivation with the
    slip's step (where it can be made), its sigma' and its finish."""
    steps = made_where_possible(slip)

    def backprop(net: Network, X: Array, Y: Array) -> Gradients:
        sigma = tuple(replace(s, sigma_prime=slip.sigma_prime)
                      if slip.sigma_prime is not None and s.name == slip.activation else s
                      for s in net.sigma)
        g = derivation.backprop(net.weights, net.biases, sigma, net.cost_fn, X, Y, steps=steps)
        return g if slip.finish is None else slip.finish(g)

    backprop.__qualname__ = f"plant({slip.name!r})"
    return backprop


def _elementwise(p: Pass, l: int) -> bool:
    return p.sigma[l].elementwise


def _elementwise_with_a_minus_y(p: Pass, l: int) -> bool:
    return p.sigma[l].elementwise and p.cost_fn.delta is not None


def _next_W_square(p: Pass, l: int) -> bool:
    return p.W[l + 1].shape[0] == p.W[l + 1].shape[1]


def _W_fits_for_the_next(p: Pass, l: int) -> bool:
    n = p.W[l + 1].shape[0]
    return p.W[l].shape == (n, n)


def _z_of_same_shape_next(p: Pass, l: int) -> bool:
    return p.z[l + 1].shape == p.z[l].shape


def _W_square(p: Pass, l: int) -> bool:
    return p.W[l].shape[0] == p.W[l].shape[1]


def _one_element_off(g: Gradients) -> Gradients:
    dW = [w.copy() for w in g.dW]
    dW[0][1, 2] *= 1 + 1e-9
    return Gradients(g.delta, dW, g.db)


def _dC_da(p: Pass) -> Array:
    return p.cost_fn.dC_da(p.a[p.L], p.Y)


_sigmoid = ACTIVATIONS["sigmoid"].sigma

SLIPS: Sequence[Slip] = (
    # BP1, delta^L = dC/da ⊙ sigma'(z^L)
    Slip("BP1 without sigma'", "BP1", "sigma' left out: delta^L = dC/da", Steps(bp1=_dC_da)),
    Slip("BP1 with y - a", "BP1", "the sign is flipped (y - a where a - y belongs)",
         Steps(bp1=lambda p: -output_delta(p))),
    Slip("BP1 with sigma'(a)", "BP1", "sigma' evaluated at a instead of z",
         Steps(bp1=lambda p: _dC_da(p) * p.sigma[p.L - 1].sigma_prime(p.a[p.L])),
         where=_elementwise),
    Slip("BP1 a - y times sigma'", "BP1",
         "a - y multiplied by sigma' again (the simplification already includes it)",
         Steps(bp1=lambda p: (p.a[p.L] - p.Y) * p.sigma[p.L - 1].sigma_prime(p.z[p.L - 1])),
         where=_elementwise_with_a_minus_y),
    Slip("BP1 cross-entropy dC/da with a sign slip", "BP1",
         "dC/da = -(y/a + (1 - y)/(1 - a)): a sign slip in the derivative of the cross-entropy",
         Steps(bp1=lambda p: -(p.Y / p.a[p.L] + (1 - p.Y) / (1 - p.a[p.L]))
               * p.sigma[p.L - 1].sigma_prime(p.z[p.L - 1])),
         where=_elementwise_with_a_minus_y),
    Slip("BP1 softmax as elementwise", "BP1",
         "softmax treated as elementwise (only the diagonal of its Jacobian)",
         Steps(bp1=lambda p: _dC_da(p) * p.a[p.L] * (1 - p.a[p.L])),
         where=lambda p, l: not p.sigma[l].elementwise),
    Slip("BP1 delta as the batch mean", "BP1", "delta returned as the batch mean",
         Steps(bp1=lambda p: np.broadcast_to(output_delta(p).mean(axis=1, keepdims=True),
                                             p.z[p.L - 1].shape).copy())),
    Slip("BP1 quadratic dC/da = 2(a - y)", "BP1", "a factor 2 too many",
         Steps(bp1=lambda p: p.steps.backward(p, p.L - 1, 2 * _dC_da(p))),
         where=lambda p, l: p.cost_fn.name == "quadratic", named="by its numbers"),
    # BP2, delta^l = ((W^{l+1})^T delta^{l+1}) ⊙ sigma'(z^l)
    Slip("BP2 without sigma'", "BP2", "sigma' left out: delta^l = W^T delta^{l+1}",
         Steps(bp2=lambda p, l, d: p.W[l + 1].T @ d)),
    Slip("BP2 with sigma'(a)", "BP2", "sigma' evaluated at a instead of z",
         Steps(bp2=lambda p, l, d: (p.W[l + 1].T @ d) * p.sigma[l].sigma_prime(p.a[l + 1]))),
    Slip("BP2 sign flipped", "BP2", "the sign is flipped",
         Steps(bp2=lambda p, l, d: -hidden_delta(p, l, d))),
    Slip("BP2 with W for W^T", "BP2", "W[{next}] used where its transpose belongs",
         Steps(bp2=lambda p, l, d: p.steps.backward(p, l, p.W[l + 1] @ d)),
         where=_next_W_square),
    Slip("BP2 with W^l for W^{l+1}", "BP2", "the wrong layer's weights: W[{l}] for W[{next}]",
         Steps(bp2=lambda p, l, d: p.steps.backward(p, l, p.W[l].T @ d)),
         where=_W_fits_for_the_next),
    Slip("BP2 with sigma'(z^{l+1})", "BP2",
         "the next layer's sigma'(z[{next}]) for sigma'(z[{l}])",
         Steps(bp2=lambda p, l, d: (p.W[l + 1].T @ d) * p.sigma[l + 1].sigma_prime(p.z[l + 1])),
         where=_z_of_same_shape_next),
    Slip("BP2 loop one layer short", "BP2", "never computed",
         Steps(bp2=lambda p, l, d: np.zeros_like(p.z[l])), where=lambda p, l: l == 0,
         named="by its numbers"),
    # BP3, dC/db^l = delta^l averaged over the batch
    Slip("BP3 first example only", "BP3", "the first example's delta only, not the batch mean",
         Steps(bp3=lambda p, l, d: d[:, :1].copy())),
    Slip("BP3 sum for mean", "BP3", "a missing 1/m",
         Steps(bp3=lambda p, l, d: d.sum(axis=1, keepdims=True)), named="by its numbers"),
    # BP4, dC/dW^l = delta^l (a^{l-1})^T averaged over the batch
    Slip("BP4 z for a", "BP4", "z[{prev}] used where a[{l}] belongs (the activations before sigma)",
         Steps(bp4=lambda p, l, d: d @ p.z[l - 1].T / p.m), where=lambda p, l: l > 0),
    Slip("BP4 a^{l+1} for a^l", "BP4", "the wrong layer's activations: a[{next}] for a[{l}]",
         Steps(bp4=lambda p, l, d: d @ p.a[l + 1].T / p.m), where=_W_square),
    Slip("BP4 transposed", "BP4", "dW transposed",
         Steps(bp4=lambda p, l, d: weight_gradient(p, l, d).T), where=_W_square),
    Slip("BP4 missing 1/m", "BP4", "a missing 1/m",
         Steps(bp4=lambda p, l, d: d @ p.a[l].T), named="by its numbers"),
    Slip("BP4 1/m twice", "BP4", "divided by m once too often",
         Steps(bp4=lambda p, l, d: d @ p.a[l].T / p.m**2), named="by its numbers"),
    Slip("BP4 sign flipped", "BP4", "the sign is flipped",
         Steps(bp4=lambda p, l, d: -(d @ p.a[l].T) / p.m), named="by its numbers"),
    Slip("BP4 one element off by 1e-9", "BP4", "only one element is wrong",
         finish=_one_element_off, named="by its numbers"),
    # sigma', the derivative inside BP1 and BP2
    Slip("sigmoid' as sigma(z)(1 - z)", "sigma'", "sigmoid' written with z for a",
         activation="sigmoid", sigma_prime=lambda z: _sigmoid(z) * (1 - z), named="not named"),
    Slip("tanh' as 1 - z^2", "sigma'", "tanh' written with z for a",
         activation="tanh", sigma_prime=lambda z: 1 - z**2, named="not named"),
    Slip("relu' as 1 everywhere", "sigma'", "sigma' left out",
         activation="relu", sigma_prime=np.ones_like, named="by its numbers"),
    Slip("leaky_relu' without the leak", "sigma'", "leaky_relu' 0 for z < 0",
         activation="leaky_relu", sigma_prime=lambda z: (z > 0).astype(z.dtype),
         named="not named"),
    Slip("softplus' as sigma(-z)", "sigma'", "softplus' with the sign of z flipped",
         activation="softplus", sigma_prime=lambda z: _sigmoid(-z), named="not named"),
    Slip("identity' as z", "sigma'", "identity' returns z instead of 1",
         activation="identity", sigma_prime=lambda z: z.copy(), named="not named"),
)


BY_NAME: Mapping[str, Slip] = {slip.name: slip for slip in SLIPS}


def recomputed(equation: str, p: Pass, l: int) -> list[Slip]:
    """The slips of equation that the diagnosis recomputes at layer l of p's network,
    in the order it tries them."""
    return [s for s in SLIPS
            if s.equation == equation and s.named == "recomputed" and s.where(p, l)]

"""The catalogue of slips (backprop.slips), each planted on the networks it shows up on.

A mutant is one slip made by an otherwise correct backprop (`backprop.slips.plant`), on
one network, with where the checker must localise it: the first failing block in
backprop order. Every slip of the catalogue is planted at least once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backprop import Gradients, Network
from backprop.slips import SLIPS, Slip, plant

Array = Any
Config = tuple[tuple[int, ...], tuple[str, ...], str]


@dataclass(frozen=True)
class Mutant:
    name: str
    slip: Slip
    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    cost: str
    equation: str
    layer: int

    @property
    def impl(self) -> Callable[[Network, Array, Array], Gradients]:
        # Planted when a test asks, not at import: mutation testing sees plant() run.
        return plant(self.slip)


TANH3: Config = ((3, 4, 4, 2), ("tanh", "tanh", "tanh"), "quadratic")
SQUARE: Config = ((3, 4, 4, 4, 2), ("tanh", "sigmoid", "softplus", "identity"), "quadratic")
SIGMOID_CE: Config = ((3, 4, 2), ("tanh", "sigmoid"), "cross_entropy")
SOFTMAX_CCE: Config = ((3, 4, 3), ("tanh", "softmax"), "categorical_cross_entropy")
SOFTMAX_Q: Config = ((3, 4, 3), ("tanh", "softmax"), "quadratic")


def hidden(name: str) -> Config:
    """Two hidden layers of one activation under a tanh output."""
    return ((3, 4, 3, 2), (name, name, "tanh"), "quadratic")


# slip name -> (network, equation and layer of the first failing block) for each
# network it is planted on.
SHOWN_ON: dict[str, list[tuple[Config, str, int]]] = {
    "BP1 without sigma'": [(TANH3, "BP1", 2)],
    "BP1 with y - a": [(TANH3, "BP1", 2), (SOFTMAX_CCE, "BP1", 1)],
    "BP1 with sigma'(a)": [(TANH3, "BP1", 2)],
    "BP1 a - y times sigma'": [(SIGMOID_CE, "BP1", 1)],
    "BP1 cross-entropy dC/da with a sign slip": [(SIGMOID_CE, "BP1", 1)],
    "BP1 softmax as elementwise": [(SOFTMAX_Q, "BP1", 1)],
    "BP1 delta as the batch mean": [(TANH3, "BP1", 2)],
    "BP1 quadratic dC/da = 2(a - y)": [(TANH3, "BP1", 2)],
    "BP2 without sigma'": [(TANH3, "BP2", 1)],
    "BP2 with sigma'(a)": [(TANH3, "BP2", 1)],
    "BP2 sign flipped": [(TANH3, "BP2", 1)],
    "BP2 with W for W^T": [(SQUARE, "BP2", 1)],
    "BP2 with W^l for W^{l+1}": [(SQUARE, "BP2", 1)],
    "BP2 with sigma'(z^{l+1})": [(SQUARE, "BP2", 1)],
    "BP2 loop one layer short": [(TANH3, "BP2", 0)],
    "BP3 first example only": [(TANH3, "BP3", 2)],
    "BP3 sum for mean": [(TANH3, "BP3", 2)],
    "BP4 z for a": [(TANH3, "BP4", 2)],
    "BP4 a^{l+1} for a^l": [(SQUARE, "BP4", 2)],
    "BP4 transposed": [(SQUARE, "BP4", 2)],
    "BP4 missing 1/m": [(TANH3, "BP4", 2)],
    "BP4 1/m twice": [(TANH3, "BP4", 2)],
    "BP4 sign flipped": [(TANH3, "BP4", 2)],
    "BP4 one element off by 1e-9": [(TANH3, "BP4", 0)],
    "sigmoid' as sigma(z)(1 - z)": [(hidden("sigmoid"), "BP2", 1)],
    "tanh' as 1 - z^2": [(hidden("tanh"), "BP1", 2)],
    "relu' as 1 everywhere": [(hidden("relu"), "BP2", 1)],
    "leaky_relu' without the leak": [(hidden("leaky_relu"), "BP2", 1)],
    "softplus' as sigma(-z)": [(hidden("softplus"), "BP2", 1)],
    "identity' as z": [(hidden("identity"), "BP2", 1)],
}


def _mutants() -> list[Mutant]:
    mutants = []
    for slip in SLIPS:
        for (sizes, activations, cost), equation, layer in SHOWN_ON[slip.name]:
            name = f"{slip.name} [{cost}, {'/'.join(activations)}]"
            mutants.append(Mutant(name, slip, sizes, activations, cost, equation, layer))
    return mutants


MUTANTS: list[Mutant] = _mutants()

"""The arrays of the derivation, each identified once: its kind, its layer, its equation.

    delta[l]  BP1 (l = L-1, the output layer) or BP2     (n_{l+1}, m), indices j, x
    db[l]     BP3                                        (n_{l+1}, 1), index j
    dW[l]     BP4                                        (n_{l+1}, n_l), indices j, i

Index convention of the package: l is 0-based, so delta[l] is delta^{l+1} of the
derivation. Results about arrays travel in mappings keyed by `ArrayId`. Their
orders are defined here once: `backward_order(L)`, the order of dependence (from
the output layer down, each delta before the db and dW built from it);
`listing_key`, the order a report lists mismatches in; `PICTURE_COLUMNS`, a
layer's panels in the heatmap.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from backprop._types import Array
from backprop.network import Gradients

Kind = Literal["delta", "db", "dW"]
KINDS: tuple[Kind, ...] = ("delta", "db", "dW")  # within a layer: delta, then what is built from it
# The derivation's letters for the axes of each kind: j a neuron of layer l+1 (the
# array's own layer), i of layer l (its input), x an example. db has one column,
# whose index is not named.
INDEX_NAMES: dict[Kind, tuple[str, str]] = {"delta": ("j", "x"), "dW": ("j", "i"),
                                            "db": ("j", "")}
# A layer's row of the heatmap: dW beside the delta it is built from (the same rows j), db last.
PICTURE_COLUMNS: tuple[Kind, ...] = ("delta", "dW", "db")

T = TypeVar("T")


@dataclass(frozen=True)
class ArrayId:
    """One array of the derivation: delta[l], db[l] or dW[l] of a network of L layers."""

    kind: Kind
    layer: int
    L: int

    @property
    def equation(self) -> str:
        """BP1 (delta of the output layer), BP2 (delta of the others), BP3 (db), BP4 (dW)."""
        if self.kind == "delta":
            return "BP1" if self.layer == self.L - 1 else "BP2"
        return "BP3" if self.kind == "db" else "BP4"

    @property
    def name(self) -> str:
        """'dW[1]': the array in the package's index convention."""
        return f"{self.kind}[{self.layer}]"

    @property
    def index_names(self) -> tuple[str, str]:
        return INDEX_NAMES[self.kind]

    def of(self, g: Gradients) -> Array:
        """This array in g (the one place that reads Gradients by kind)."""
        arrays: list[Array] = getattr(g, self.kind)
        return arrays[self.layer]


def backward_order(L: int) -> Iterator[ArrayId]:
    """Every array of an L-layer network from the output layer down, each delta before
    the db and dW built from it (the order the checker checks them in):
    delta[L-1], db[L-1], dW[L-1], delta[L-2], ..., dW[0]."""
    for l in range(L - 1, -1, -1):
        for kind in KINDS:
            yield ArrayId(kind, l, L)


def listing_key(a: ArrayId) -> tuple[bool, int]:
    """The order a report lists mismatches in, as a sort key: the deltas first (BP1,
    then BP2 from the top layer down), then the parameter gradients built from
    them, top layer down (within a layer, ties keep backward order: db, dW)."""
    return a.kind != "delta", -a.layer


def per_array(L: int, *, delta: Sequence[T], db: Sequence[T],
              dW: Sequence[T]) -> dict[ArrayId, T]:
    """Per-layer lists of each kind as one mapping in backward order (an empty
    list, such as a delta "not given", is left out)."""
    lists: dict[Kind, Sequence[T]] = {"delta": delta, "db": db, "dW": dW}
    return {a: lists[a.kind][a.layer] for a in backward_order(L) if lists[a.kind]}


def arrays_of(g: Gradients, L: int) -> dict[ArrayId, Array]:
    """g as a mapping in backward order (an empty delta, "not given", is left out)."""
    return {a: a.of(g) for a in backward_order(L) if a.kind != "delta" or g.delta}


def as_gradients(arrays: Mapping[ArrayId, Array], L: int) -> Gradients:
    """The mapping back as Gradients (delta empty when it holds no delta)."""
    def field(kind: Kind) -> list[Array]:
        ids = [ArrayId(kind, l, L) for l in range(L)]
        return [arrays[a] for a in ids] if all(a in arrays for a in ids) else []

    return Gradients(delta=field("delta"), dW=field("dW"), db=field("db"))

"""The networks backprop-check checks: a sweep, with whatever the user fixed held fixed.

With nothing fixed: every hidden activation x every cost (with the outputs it
allows: quadratic sigmoid or softmax, cross_entropy sigmoid,
categorical_cross_entropy softmax) on sizes [3, 2], [3, 4, 2] and [3, 5, 4, 3]:
56 networks. `configs` states how --sizes, --activations and --cost narrow it
(see checks.cli.app's docstring for the rules as the user sees them); `random_batch`
draws the batch each network is checked on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from backprop import ACTIVATIONS, COSTS, HIDDEN, Array, Network
from backprop import validate as v

# The sizes swept when --sizes is not given: depth 1-3.
SWEEP_SIZES: tuple[tuple[int, ...], ...] = ((3, 2), (3, 4, 2), (3, 5, 4, 3))
Config = tuple[list[int], list[str], str]
"""One network to check: (sizes, one activation name per layer, cost)."""


def configs(sizes: Sequence[int] | None = None,
            activations: str | Sequence[str] | None = None,
            cost: str | None = None) -> list[Config]:
    """The networks backprop-check checks: the sweep, with the choices given fixed.

    None sweeps a choice: sizes over SWEEP_SIZES, cost over COSTS (those the
    activations can end in, when they are given), activations over every hidden
    activation x the outputs the cost allows. A single activation name is every
    layer, except that a cost requiring an output gets it (as in Network); a list
    is one name per layer and fixes the depth. configs() is the full sweep.

    Raises ValueError naming the option (--sizes, --activations, --cost) when a
    choice fits no network.
    """
    shapes = _shapes(sizes, activations)
    found: dict[tuple[tuple[int, ...], tuple[str, ...], str], Config] = {}
    for cost_name in _costs(activations, cost):
        requires = COSTS[cost_name].requires
        for choice in _choices(activations, requires):
            for shape in shapes:
                names = _per_layer(choice, len(shape) - 1, requires)
                key = (tuple(shape), tuple(names), cost_name)
                found.setdefault(key, (list(shape), names, cost_name))
    result = list(found.values())
    _check_hidden_layers(result, activations)
    return result


def _spec(activations: str | Sequence[str]) -> str:
    """The --activations value as the user typed it."""
    return activations if isinstance(activations, str) else ",".join(activations)


def _shapes(sizes: Sequence[int] | None,
            activations: str | Sequence[str] | None) -> list[list[int]]:
    """[sizes] if given, else SWEEP_SIZES; only those of the depth a per-layer list fixes."""
    if sizes is None:
        shapes = [list(s) for s in SWEEP_SIZES]
    else:
        try:
            shapes = [v.check_layer_sizes(sizes)]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"--sizes: {exc}") from None
    if activations is None or isinstance(activations, str):
        return shapes
    for name in activations:
        _check_name(name)
    L = len(activations)
    fitting = [shape for shape in shapes if len(shape) - 1 == L]
    if fitting:
        return fitting
    given = f"--activations {_spec(activations)} has {v.counted(L, 'name')}, but"
    if sizes is not None:
        raise ValueError(f"{given} --sizes {','.join(map(str, shapes[0]))} has "
                         f"{v.counted(len(shapes[0]) - 1, 'layer')}: give one name per layer, "
                         "or one name for every layer")
    depths = [len(s) - 1 for s in SWEEP_SIZES]
    raise ValueError(f"{given} the sweep's depths are {min(depths)}-{max(depths)}: give "
                     f"--sizes with {L + 1} widths too, or fewer names")


def _check_name(name: str) -> None:
    if name not in ACTIVATIONS:
        raise ValueError(f"--activations: unknown activation {name!r}; known: "
                         f"{', '.join(sorted(ACTIVATIONS))}")


def _costs(activations: str | Sequence[str] | None, cost: str | None) -> list[str]:
    """[cost] if given, else the costs whose required output (if any) is the last activation."""
    last = None
    if activations is not None:
        last = activations if isinstance(activations, str) else activations[-1]
        _check_name(last)
    if cost is None:
        return [name for name, c in COSTS.items() if last is None or c.requires in (None, last)]
    if cost not in COSTS:
        raise ValueError(f"--cost: unknown cost {cost!r}; known: {', '.join(sorted(COSTS))}")
    requires = COSTS[cost].requires
    # A single name gets the required output (as in Network); a per-layer list must end in it.
    if not isinstance(activations, (str, type(None))) and requires not in (None, last):
        raise ValueError(f"--cost {cost} requires a {requires!r} output layer, but "
                         f"--activations {_spec(activations)} ends in {last!r}")
    return [cost]


def _choices(activations: str | Sequence[str] | None,
             requires: str | None) -> list[tuple[str, str] | list[str]]:
    """(hidden, output) pairs to sweep, or the one list given; requires: the cost's output."""
    if activations is None:
        outputs = [requires] if requires else ["sigmoid", "softmax"]
        return [(hidden, output) for hidden in HIDDEN for output in outputs]
    if isinstance(activations, str):
        return [(activations, requires or activations)]
    return [list(activations)]


def _per_layer(choice: tuple[str, str] | list[str], L: int, requires: str | None) -> list[str]:
    """One name per layer of a depth-L network."""
    if isinstance(choice, list):
        return list(choice)
    hidden, output = choice
    # Depth 1 has only the output layer: under a cost that requires no
    # particular output it keeps the hidden name (so quadratic sweeps each).
    return [hidden] if requires is None and L == 1 else [hidden] * (L - 1) + [output]


def _check_hidden_layers(found: list[Config], activations: str | Sequence[str] | None) -> None:
    """ValueError naming --activations if an output-only activation (softmax) is hidden."""
    for sizes, names, _ in found:
        for l, name in enumerate(names[:-1]):
            if ACTIVATIONS[name].output_only:
                assert activations is not None, "the sweep puts output-only ones last"
                hint = (f" (one name means every layer: give one per layer, e.g. tanh,{name})"
                        if isinstance(activations, str) else "")
                raise ValueError(
                    f"--activations {_spec(activations)}: activations[{l}] of {sizes} is "
                    f"{name!r}, which may only be the output layer{hint}")


def random_batch(net: Network, m: int, seed: int) -> tuple[Array, Array]:
    """X (n_0, m) standard normal and valid targets Y for the cost (Cost.sample_targets),
    in the network's dtype, from np.random.default_rng(seed): the batches the CLI checks."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((net.sizes[0], m))
    Y = net.cost_fn.sample_targets(rng.uniform(size=(net.sizes[-1], m)))
    return X.astype(net.dtype), Y.astype(net.dtype)


def random_labels(net: Network, m: int, seed: int) -> tuple[Array, Array]:
    """X as random_batch draws it and integer class labels (m,) in 0..n_L-1, uniform,
    drawn after X from np.random.default_rng(seed): the batches of --labels."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((net.sizes[0], m))
    return X.astype(net.dtype), rng.integers(0, net.sizes[-1], m)

"""The options of backprop-check: the parser, the validated settings, the networks they choose.

`parse` turns argv into `Settings` (argparse's own errors exit 2 there);
`check_settings` and `chosen` raise `UsageError`, whose message names the
option, for what argparse cannot see: a --batch below 1, a --plot that could not
be written, a --sizes/--activations/--cost that fits no network.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from backprop import COSTS
from checks.cli.sweep import Config, configs
from checks.engine.stencils import METHODS
from checks.network import DELTAS

# The one cost whose targets integer class labels stand for (--labels).
LABELS_COST = next(name for name, cost in COSTS.items() if cost.takes_labels)

EXIT_STATUS = ("exit status: 0 verified, 1 a mismatch, 2 bad usage or a malformed result of "
               "--impl's function, 3 --impl's function raised (its traceback is on stderr)")


class UsageError(Exception):
    """An option argparse accepted but no run can use; the message names it (exit status 2)."""


@dataclass(frozen=True)
class Settings:
    """The options as given, in the parser's order (--json prints them so, as "settings")."""

    sizes: str | None
    activations: str | None
    cost: str | None
    batch: int
    dtype: str
    seed: int
    method: str
    directions: int | None
    delta: str
    labels: bool
    impl: str
    json: bool
    plot: str | None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backprop-check",
        description="Verify backprop (BP1-BP4) against numerical derivatives, "
        "equation by equation, on a sweep of networks: sizes 3,2 / 3,4,2 / 3,5,4,3 x "
        "every hidden activation x every cost with the outputs it allows (56 networks). "
        "--sizes, --activations and --cost each fix their part of the sweep and the rest "
        "is still swept; all three check exactly one network, whose report is printed in "
        "full.",
        epilog=EXIT_STATUS,
    )
    parser.add_argument("--sizes", help="layer widths, e.g. 784,100,10: fixes the sizes "
                        "(and depth); activations and costs are still swept unless given")
    parser.add_argument("--activations", help="one name for every layer, e.g. sigmoid (a "
                        "cost that requires an output still gets it), or one per layer, e.g. "
                        "tanh,softmax (fixes the depth): fixes the activations; sizes and the "
                        "costs the output layer suits are still swept unless given")
    parser.add_argument("--cost", choices=sorted(COSTS), help="fixes the cost; sizes and "
                        "the activations it allows are still swept unless given")
    parser.add_argument("--batch", type=int, default=4, help="examples per batch (default 4)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--method", choices=["auto", *METHODS], default="auto")
    parser.add_argument("--directions", type=int, metavar="K",
                        help="check each array along K random directions first, element by "
                        "element only where that fails: much faster on large networks")
    parser.add_argument("--delta", choices=DELTAS, default="per_example",
                        help="what your delta is: per_example (dC_x/dz, one column per "
                        "example; default) or mean (dC/dz of the batch mean cost, the "
                        "per-example delta divided by the batch size, as CS231n's dscores)")
    parser.add_argument("--labels", action="store_true",
                        help="give your --impl integer class labels of shape (batch,) as Y "
                        f"(vectorized and loop get them one-hot): fits only --cost "
                        f"{LABELS_COST}, to which it narrows the sweep")
    parser.add_argument("--impl", default="both",
                        help="vectorized, loop, both, or MODULE:FUNCTION (your own backprop)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (shape: see `pydoc checks.cli.app`)")
    parser.add_argument("--plot", metavar="PATH",
                        help="write a heatmap PNG of error/tolerance per element (needs "
                        "matplotlib); the sweep plots its first failure, else its "
                        "deepest network")
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> Settings:
    """parser's options of argv (sys.argv[1:] when None) as Settings."""
    return Settings(**vars(parser.parse_args(argv)))


def check_settings(settings: Settings) -> None:
    """UsageError for a --batch or --directions below 1, or a --plot that cannot be
    written: found before the checks run, not after."""
    if settings.batch < 1:
        raise UsageError(f"--batch must be >= 1, got {settings.batch}")
    if settings.directions is not None and settings.directions < 1:
        raise UsageError(f"--directions must be >= 1, got {settings.directions}")
    if settings.labels and settings.cost not in (None, LABELS_COST):
        raise UsageError(f"--labels fits only --cost {LABELS_COST} (class labels stand for "
                         f"its one-hot targets), got --cost {settings.cost}")
    if settings.plot is not None:
        _check_plot_path(settings.plot)


def _check_plot_path(path: str) -> None:
    """matplotlib and the directory must exist."""
    from checks.plot import INSTALL_HINT

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(f"--plot needs matplotlib, which is not installed: "
                         f"{INSTALL_HINT}") from None
    if not Path(path).resolve().parent.is_dir():
        raise UsageError(f"--plot {path!r}: directory {str(Path(path).parent)!r} does not exist")


def _parse_list(text: str, what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise UsageError(f"{what} is empty")
    return items


def chosen(settings: Settings) -> list[Config]:
    """configs() for the --sizes, --activations and --cost given; UsageError if none fits."""
    sizes: list[int] | None = None
    if settings.sizes is not None:
        items = _parse_list(settings.sizes, "--sizes")
        if not all(s.lstrip("-").isdigit() for s in items):
            raise UsageError(f"--sizes must be comma-separated integers, got {settings.sizes!r}")
        sizes = [int(s) for s in items]
    activations: str | list[str] | None = None
    if settings.activations is not None:
        names = _parse_list(settings.activations, "--activations")
        activations = names[0] if len(names) == 1 else names
    cost = LABELS_COST if settings.labels and settings.cost is None else settings.cost
    try:
        return configs(sizes, activations, cost)
    except ValueError as exc:
        raise UsageError(str(exc)) from None

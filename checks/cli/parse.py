"""The options of backprop-check: the parser, the validated settings, the networks they choose.

`parse` turns argv into `Settings` (argparse's own errors exit 2 there);
`check_settings` and `chosen` raise `UsageError`, whose message names the
option, for what argparse cannot see: a --batch below 1, a --plot that could not
be written, a --sizes/--activations/--cost that fits no network.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from backprop import COSTS
from checks.cli.sweep import Config, configs
from checks.engine.stencils import METHODS
from checks.network import DELTAS

# The one cost whose targets integer class labels stand for (--labels).
LABELS_COST = next(name for name, cost in COSTS.items() if cost.takes_labels)

# backprop-check's exit statuses (checks.cli.app's docstring says when each is given).
VERIFIED, MISMATCH, USAGE, USER_CODE_FAILED, INTERNAL_ERROR, INTERRUPTED = 0, 1, 2, 3, 4, 130
EXIT_STATUS = (
    f"exit status: {VERIFIED} verified (every requested check ran and passed); {MISMATCH} a "
    f"mismatch (non-finite gradients included); {USAGE} bad usage (an option, a module or file "
    f"that does not exist, your file shadowed by an installed package, a --batch or --sizes "
    f"too large for memory); {USER_CODE_FAILED} your code failed: it raised, did not import "
    f"(SyntaxError, ImportError), called sys.exit or os._exit, or returned a malformed result "
    f"(your file and line, and your traceback, are on stderr); {INTERNAL_ERROR} an internal "
    f"error of backprop-check (a bug: please report it with the traceback); {INTERRUPTED} "
    f"interrupted (Ctrl-C)")
SIZE = re.compile(r"[+-]?[0-9]+")  # ASCII digits: str.isdigit() also accepts '²'


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
    junit_xml: str | None


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
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64",
                        help="the dtype of the networks and batches your code is given "
                        "(default float64); the numerical reference is always float64")
    parser.add_argument("--seed", type=int, default=0,
                        help="network k of the sweep and its batch are drawn from seed + k "
                        "(default 0): the same seed checks the same networks")
    parser.add_argument("--method", choices=["auto", *METHODS], default="auto",
                        help="how the numerical derivatives your gradients are compared "
                        "with are computed: complex_step (accurate to rounding), richardson "
                        "or central finite differences; default auto: the complex step when "
                        "the network is complex-safe (a probe says), else richardson")
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
                        help="vectorized, loop, both (default), or your own backprop as "
                        "MODULE:FUNCTION (imported from the current directory) or "
                        "PATH/TO/FILE.py:FUNCTION")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (shape: see `pydoc checks.cli.app`)")
    parser.add_argument("--plot", metavar="PATH",
                        help="write a heatmap PNG of error/tolerance per element (needs "
                        "matplotlib); the sweep plots its first failure, else its "
                        "deepest network")
    parser.add_argument("--junit-xml", metavar="FILE",
                        help="write a JUnit XML report for CI too: a test case per network x "
                        "implementation, a failure's message its diagnosis (written when "
                        "checks fail too, and with --json)")
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> Settings:
    """parser's options of argv (sys.argv[1:] when None) as Settings."""
    return Settings(**vars(parser.parse_args(argv)))


def check_settings(settings: Settings) -> None:
    """UsageError for a --batch or --directions below 1, a --seed below 0, or a --plot or
    --junit-xml that cannot be written: found before the checks run, not after."""
    if settings.batch < 1:
        raise UsageError(f"--batch must be >= 1, got {settings.batch}")
    if settings.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {settings.seed}")
    if settings.directions is not None and settings.directions < 1:
        raise UsageError(f"--directions must be >= 1, got {settings.directions}")
    if settings.labels and settings.cost not in (None, LABELS_COST):
        raise UsageError(f"--labels fits only --cost {LABELS_COST} (class labels stand for "
                         f"its one-hot targets), got --cost {settings.cost}")
    if settings.plot is not None:
        _check_plot_path(settings.plot)
    if settings.junit_xml is not None:
        _check_output_path("--junit-xml", settings.junit_xml)


def _check_plot_path(path: str) -> None:
    """matplotlib and the directory must exist."""
    from checks.plot import INSTALL_HINT

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(f"--plot needs matplotlib, which is not installed: "
                         f"{INSTALL_HINT}") from None
    _check_output_path("--plot", path)


def _check_output_path(option: str, path: str) -> None:
    """path's directory must exist, and path must not be a directory."""
    if not Path(path).resolve().parent.is_dir():
        raise UsageError(f"{option} {path!r}: directory {str(Path(path).parent)!r} does not "
                         "exist")
    if Path(path).is_dir():
        raise UsageError(f"{option} {path!r} is a directory; give a file name")


def _parse_list(text: str, what: str) -> list[str]:
    """text's comma-separated items; UsageError if it is empty or one of them is."""
    items = [t.strip() for t in text.split(",")]
    if items == [""]:
        raise UsageError(f"{what} is empty")
    if "" in items:
        raise UsageError(f"{what} {text!r} has an empty item (item {items.index('') + 1})")
    return items


def chosen(settings: Settings) -> list[Config]:
    """configs() for the --sizes, --activations and --cost given; UsageError if none fits."""
    sizes: list[int] | None = None
    if settings.sizes is not None:
        items = _parse_list(settings.sizes, "--sizes")
        if not all(SIZE.fullmatch(s) for s in items):
            raise UsageError(f"--sizes must be comma-separated integers, got {settings.sizes!r}")
        sizes = [int(s) for s in items]
        if any(n_in * n_out > sys.maxsize for n_in, n_out in itertools.pairwise(sizes)):
            raise UsageError(f"--sizes {settings.sizes}: too large for memory (a weight matrix "
                             "would have more elements than an array can index)")
    activations: str | list[str] | None = None
    if settings.activations is not None:
        names = _parse_list(settings.activations, "--activations")
        activations = names[0] if len(names) == 1 else names
    cost = LABELS_COST if settings.labels and settings.cost is None else settings.cost
    try:
        return configs(sizes, activations, cost)
    except ValueError as exc:
        raise UsageError(str(exc)) from None

"""backprop-check: verify the backprop derivation equation by equation.

With no arguments, every hidden activation x cost (with the outputs each cost
allows: quadratic sigmoid or softmax, cross_entropy sigmoid,
categorical_cross_entropy softmax) is checked on random networks of sizes
[3, 2], [3, 4, 2] and [3, 5, 4, 3] (depth 1-3), 56 networks, for both
implementations, and one table per equation is printed. Exit status:

    0  verified
    1  a mismatch
    2  bad usage (or --plot without matplotlib), or --impl's function returned a
       malformed result (the message says what; no usage banner then)
    3  --impl's function raised: a crash in the code under test; its traceback is
       on stderr, without the frames of backprop-check itself

--sizes, --activations and --cost each fix their part of that sweep, and the
rest is still swept (`checks.sweep.configs` lists the networks):

- --sizes N0,...,NL: the same activations x costs, on these widths only.
- --activations NAME: NAME in every layer, at each depth. A --cost that requires
  an output (cross_entropy sigmoid, categorical_cross_entropy softmax) gets it in
  the output layer, as Network does for a single name; without --cost, only the
  costs NAME itself can end in are swept (quadratic; cross_entropy too for
  sigmoid; categorical_cross_entropy too for softmax), so a sigmoid-only
  backprop sees sigmoid layers only.
- --activations A1,...,AL (one per layer): the depth is L, so only the sweep's
  sizes of depth L, and without --cost only the costs whose required output (if
  any) is AL.
- --cost COST: the hidden activations x outputs that COST allows.
- all three: exactly one network.

A choice that fits no network is a usage error naming the option: an unknown
name, softmax in a hidden layer, a per-layer list whose length is not the number
of layers of --sizes (without --sizes: not 1-3), a --cost whose required output
the per-layer list does not end in.
Network k of the list, and its batch, are drawn from seed + k. When exactly one
network is checked, its report per implementation is printed before the table.

--directions K checks each array along K random directions (drawn from seed + k)
first, and element by element only where that fails (check_network's
directions=K): much faster on large networks, and a failure is still localised.

--plot PATH writes a heatmap of |analytic - numeric| / tolerance for every
element of delta, dW, db of one checked network (checks.plot.heatmap): the
first report with a mismatch, else the first report of the deepest network
checked (one network: its first implementation).

The table has one row per equation. `arrays` counts the arrays compared (one
delta[l], dW[l] or db[l] of one network under one implementation; the identity
check: one delta^L per network), `checked` and `skipped` their elements (in
directional mode: directions). Two rows appear only when a network's cost has
the simplified output delta^L = a^L - y (sigmoid + cross_entropy, softmax +
categorical_cross_entropy), and a legend line under the table says what they are:
"BP1 (cost with a − y)" is BP1 on those networks, checked like BP1;
"a − y = general BP1 (identity check)" compares a^L - y with the general BP1
J^T dC/da in float64 (method "exact"), once per network, without the code
checked.

Progress goes to stderr, only when stderr is a terminal or the run has lasted
more than PROGRESS_AFTER seconds (then in plain lines, at most one a second):
"[k/n] checking <what>: <done>/<total> elements, ~<s> s left", where k/n counts
network x implementation and done/total the elements of delta, dW and db over the
whole run (the totals are known up front from the sizes and the batch), the time
left being elapsed / done * remaining. When that puts the whole run above
LONG_RUN seconds (and --directions is not given), one line suggests --directions.
stdout carries only the table, or with --json only the JSON object, which has
this shape:

    {
      "ok": bool,                     # every equation verified
      "settings": {"sizes", "activations", "cost", "batch", "dtype", "seed",
                   "method", "directions", "impl", "json", "plot"},  # as given
      "equations": {                  # one entry per row of the table, keyed by
        "BP1" | "BP1 δ^L = a^L − y" | "a−y = general BP1" | "BP2" | "BP3" | "BP4": {
          "arrays": int, "networks": int, "checked": int, "skipped": int,
          "worst_error_over_tolerance": float, "worst_error": float,
          "methods": [str], "failures": [str]}},
      "reports": [                    # one per network x implementation
        {"network": str, "impl": str, **Report.as_dict()}],
      "plot": {"path": str, "report": int}   # only with --plot: index into reports
    }

The keys of "equations" are those of earlier versions: "BP1 δ^L = a^L − y" is
the table's "BP1 (cost with a − y)" row, "a−y = general BP1" its
"a − y = general BP1 (identity check)" row. "networks" is the former name of
"arrays" (it always counted arrays), kept with the same value.

Report.as_dict() is {"ok", "title", "method", "method_reason", "checked",
"skipped", "mismatched", "blocks": [Block.as_dict()], "diagnosis": [str]}, a block
{"equation", "name", "layer", "method", "checked", "skipped", "worst_error",
"tolerance_at_worst", "worst_error_over_tolerance", "mismatches": [element],
"skipped_elements": [element]}, an element {"where", "index", "analytic",
"numeric", "error", "tolerance"} (see checks/report.py). A block checked along
random directions has method "<method>/dir" and the name "<array>·u".
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import backprop
import checks
from backprop import COSTS, Array, Gradients, Network
from checks.cli.progress import Progress, elements
from checks.cli.summary import IDENTITY, SIMPLIFIED, Row, identity_check, table
from checks.cli.sweep import Config, configs, random_batch
from checks.engine.stencils import METHODS
from checks.network import Impl, check_network
from checks.report import Report

EXIT_STATUS = ("exit status: 0 verified, 1 a mismatch, 2 bad usage or a malformed result of "
               "--impl's function, 3 --impl's function raised (its traceback is on stderr)")
# The installed packages' folders: a frame in them is backprop-check's, not the user's.
BACKPROP_DIR, CHECKS_DIR = (Path(p.__file__ or "").resolve().parent for p in (backprop, checks))


class ImplCrashed(Exception):
    """--impl's function raised (its exception is __cause__): exit status 3."""


def _guarded(fn: Impl) -> Impl:
    """fn, with an exception it raises wrapped in ImplCrashed, except per_example's
    own message about a malformed result (raised inside checks/), which passes."""

    @functools.wraps(fn)
    def call(net: Network, X: Array, Y: Array) -> Gradients:
        try:
            return fn(net, X, Y)
        except Exception as exc:
            frames = traceback.extract_tb(exc.__traceback__)
            if isinstance(exc, (TypeError, ValueError)) and _inside(frames[-1].filename,
                                                                    CHECKS_DIR):
                raise
            raise ImplCrashed(str(exc)) from exc

    call.__qualname__ = getattr(fn, "__qualname__", repr(fn))
    return call


def _inside(filename: str, *folders: Path) -> bool:
    path = Path(filename).resolve()
    return any(path.is_relative_to(folder) for folder in folders)


def _crash(exc: ImplCrashed, spec: str, net: Network) -> str:
    """The user's traceback, frames of backprop/ and checks/ left out, chained ones too."""
    cause = exc.__cause__
    assert cause is not None
    top = traceback.TracebackException.from_exception(cause)
    pending, seen = [top], set()
    while pending:
        te = pending.pop()
        if id(te) in seen:
            continue
        seen.add(id(te))
        te.stack = traceback.StackSummary.from_list(
            [f for f in te.stack if not _inside(f.filename, BACKPROP_DIR, CHECKS_DIR)])
        pending.extend(t for t in (te.__cause__, te.__context__) if t is not None)
    return (f"backprop-check: --impl {spec} raised {type(cause).__name__} while checking "
            f"{net!r} (the frames of backprop-check itself are left out):\n"
            + "".join(top.format()))


def _parse_list(text: str, what: str, parser: argparse.ArgumentParser) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        parser.error(f"{what} is empty")
    return items


def _load_impl(spec: str, parser: argparse.ArgumentParser) -> Impl:
    module_name, _, function = spec.partition(":")
    if not module_name or not function:
        parser.error(f"--impl {spec!r}: expected vectorized, loop, both or MODULE:FUNCTION")
    sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        parser.error(f"--impl {spec!r}: cannot import {module_name!r} ({exc})")
    fn = getattr(module, function, None)
    if not callable(fn):
        parser.error(f"--impl {spec!r}: {module_name} has no function {function!r}")
    return fn


def _chosen(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[Config]:
    """configs() for the --sizes, --activations and --cost given; usage error if none fits."""
    sizes: list[int] | None = None
    if args.sizes is not None:
        items = _parse_list(args.sizes, "--sizes", parser)
        if not all(s.lstrip("-").isdigit() for s in items):
            parser.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
        sizes = [int(s) for s in items]
    activations: str | list[str] | None = None
    if args.activations is not None:
        names = _parse_list(args.activations, "--activations", parser)
        activations = names[0] if len(names) == 1 else names
    try:
        return configs(sizes, activations, args.cost)
    except ValueError as exc:
        parser.error(str(exc))


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
    parser.add_argument("--impl", default="both",
                        help="vectorized, loop, both, or MODULE:FUNCTION (your own backprop)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (shape: see `pydoc checks.cli.app`)")
    parser.add_argument("--plot", metavar="PATH",
                        help="write a heatmap PNG of error/tolerance per element (needs "
                        "matplotlib); the sweep plots its first failure, else its "
                        "deepest network")
    return parser


def _check_plot_path(path: str, parser: argparse.ArgumentParser) -> None:
    """Fail before the checks run, not after: matplotlib and the directory must exist."""
    from checks.plot import INSTALL_HINT

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        parser.error(f"--plot needs matplotlib, which is not installed: {INSTALL_HINT}")
    if not Path(path).resolve().parent.is_dir():
        parser.error(f"--plot {path!r}: directory {str(Path(path).parent)!r} does not exist")


def _plotted(reports: list[dict[str, Any]], depths: list[int]) -> int:
    """Which report --plot draws: the first that failed, else the deepest network's first."""
    failed = [k for k, r in enumerate(reports) if not r["ok"]]
    return failed[0] if failed else max(range(len(reports)), key=lambda k: (depths[k], -k))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error(f"--batch must be >= 1, got {args.batch}")
    if args.directions is not None and args.directions < 1:
        parser.error(f"--directions must be >= 1, got {args.directions}")
    if args.plot is not None:
        _check_plot_path(args.plot, parser)
    impls: list[tuple[str, Impl | str]]
    if args.impl == "both":
        impls = [("vectorized", "vectorized"), ("loop", "loop")]
    elif args.impl in ("vectorized", "loop"):
        impls = [(args.impl, args.impl)]
    else:
        impls = [(args.impl, _guarded(_load_impl(args.impl, parser)))]
    networks = _chosen(args, parser)
    one = len(networks) == 1
    rows: dict[str, Row] = {}
    reports: list[dict[str, Any]] = []
    failed: list[tuple[str, Report]] = []  # (which check, its report), for the summary
    full: list[Report] = []  # kept for --plot
    depths: list[int] = []
    ok = True
    progress = Progress([elements(sizes, args.batch) for sizes, _, _ in networks
                         for _ in impls], sys.stderr, suggest=args.directions is None)
    for c, (sizes, acts, cost_name) in enumerate(networks):
        try:
            net = Network.random(sizes, activations=acts, cost=cost_name,
                                 seed=args.seed + c, dtype=np.dtype(args.dtype))
        except (TypeError, ValueError) as exc:
            parser.error(str(exc))
        X, Y = random_batch(net, args.batch, args.seed + c)
        for label, impl in impls:
            k, what = len(reports) + 1, f"{label} on {net.sizes} {net.cost}"
            progress.update(k, what)
            try:
                report = check_network(net, X, Y, impl=impl, method=args.method,
                                       directions=args.directions, seed=args.seed + c,
                                       progress=progress.within(k, what))
            except ImplCrashed as exc:
                progress.clear()
                print(_crash(exc, args.impl, net), end="", file=sys.stderr)
                return 3
            except (TypeError, ValueError) as exc:
                if isinstance(impl, str):
                    raise  # our own implementations: a bug, not a usage error
                progress.clear()  # a malformed result: the user's bug, not bad usage
                parser.exit(2, f"{parser.prog}: error: --impl {args.impl}: {exc}\n")
            progress.finished(k)
            ok &= report.ok
            if not report.ok:
                failed.append((f"[{label}] {net!r}", report))
            reports.append({"network": repr(net), "impl": label, **report.as_dict()})
            if args.plot is not None:
                full.append(report)
                depths.append(net.L)
            for block in report.blocks:
                equation = block.equation
                if equation == "BP1" and net.cost_fn.delta is not None:
                    equation = SIMPLIFIED
                rows.setdefault(equation, Row(equation)).add(
                    block.checked, len(block.skipped), block.worst_ratio, block.worst_error,
                    block.method, [f"[{label}] {net!r}: {e}" for e in block.mismatches])
            if one and not args.json:
                progress.clear()
                print(report, end="\n\n")
        simple = identity_check(net, X, Y)
        if simple is not None:
            ok &= simple.ok
            b = simple.blocks[0]
            rows.setdefault(IDENTITY, Row(IDENTITY)).add(
                b.checked, 0, b.worst_ratio, b.worst_error, "exact",
                [f"{net!r}: {e}" for e in b.mismatches])
    progress.done()
    plot: dict[str, Any] | None = None
    if args.plot is not None:
        from checks.plot import heatmap

        k = _plotted(reports, depths)
        heatmap(full[k], args.plot)
        plot = {"path": args.plot, "report": k}
    if args.json:
        result = {
            "ok": ok,
            "settings": {k: getattr(args, k) for k in vars(args)},
            "equations": {r.equation: {
                "arrays": r.arrays, "networks": r.arrays, "checked": r.checked,
                "skipped": r.skipped,
                "worst_error_over_tolerance": r.worst_ratio, "worst_error": r.worst_error,
                "methods": sorted(r.methods), "failures": r.failures} for r in rows.values()},
            "reports": reports,
        }
        if plot is not None:
            result["plot"] = plot
        print(json.dumps(result, indent=2))
        return 0 if ok else 1
    print(table(rows, len(networks), [label for label, _ in impls], args,
                 [] if one else failed))
    if plot is not None:
        r = reports[plot["report"]]
        print(f"heatmap of {r['impl']} on {r['network']}: {plot['path']}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

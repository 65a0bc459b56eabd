"""backprop-check: verify the backprop derivation equation by equation.

With no arguments, every hidden activation x cost (with the outputs each cost
allows: quadratic sigmoid or softmax, cross_entropy sigmoid,
categorical_cross_entropy softmax) is checked on random networks of sizes
[3, 2], [3, 4, 2] and [3, 5, 4, 3] (depth 1-3), 56 networks, for both
implementations, and one table per equation is printed. Exit status: 0 verified,
1 a mismatch, 2 bad usage (or --plot without matplotlib).

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

--plot PATH writes a heatmap of |analytic - numeric| / tolerance for every
element of delta, dW, db of one checked network (checks.plot.heatmap): the
first report with a mismatch, else the first report of the deepest network
checked (one network: its first implementation).

Progress ("[k/n] checking ...") goes to stderr, only when stderr is a terminal
or the run has lasted more than PROGRESS_AFTER seconds; stdout carries only the
table, or with --json only the JSON object, which has this shape:

    {
      "ok": bool,                     # every equation verified
      "settings": {"sizes", "activations", "cost", "batch", "dtype", "seed",
                   "method", "impl", "json", "plot"},   # the arguments as given
      "equations": {                  # one entry per row of the table, keyed by
        "BP1" | "BP1 δ^L = a^L − y" | "a−y = general BP1" | "BP2" | "BP3" | "BP4": {
          "networks": int, "checked": int, "skipped": int,
          "worst_error_over_tolerance": float, "worst_error": float,
          "methods": [str], "failures": [str]}},
      "reports": [                    # one per network x implementation
        {"network": str, "impl": str, **Report.as_dict()}],
      "plot": {"path": str, "report": int}   # only with --plot: index into reports
    }

Report.as_dict() is {"ok", "title", "method", "method_reason", "checked",
"skipped", "mismatched", "blocks": [Block.as_dict()]}, a block
{"equation", "name", "layer", "method", "checked", "skipped", "worst_error",
"tolerance_at_worst", "worst_error_over_tolerance", "mismatches": [element],
"skipped_elements": [element]}, an element {"where", "index", "analytic",
"numeric", "error", "tolerance"} (see checks/report.py).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from backprop import COSTS, Array, Network
from checks.network import Impl, check_network
from checks.numeric import METHODS
from checks.report import Report, compare
from checks.sweep import Config, configs, random_batch

SIMPLIFIED = "BP1 δ^L = a^L − y"
# Seconds after which progress is shown even when stderr is not a terminal (CI logs).
PROGRESS_AFTER = 1.0


class Progress:
    """"[k/n] checking ..." on stderr: a rewritten line on a terminal, else plain
    lines at most one a second, and only once the run has lasted PROGRESS_AFTER s."""

    def __init__(self, n: int, stream: TextIO) -> None:
        self.n, self.stream = n, stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.start = self.last = time.monotonic()
        self.width = 0  # characters of the current terminal line
        self.lines = 0  # plain lines written

    def update(self, k: int, what: str) -> None:
        now = time.monotonic()
        text = f"[{k}/{self.n}] checking {what}"
        if self.tty:
            text = text[:119]
            self.stream.write("\r" + text.ljust(self.width))
            self.width = len(text)
        elif now - self.start > PROGRESS_AFTER and (self.lines == 0 or now - self.last >= 1):
            self.stream.write(text + "\n")
            self.lines, self.last = self.lines + 1, now
        else:
            return
        self.stream.flush()

    def within(self, k: int, what: str) -> Callable[[int, int], None]:
        """A check_network progress callback: array done/total of item k."""

        def update(done: int, total: int) -> None:
            self.update(k, f"{what}: array {done}/{total}")

        return update

    def clear(self) -> None:
        """Wipe the terminal line, e.g. before printing to the same terminal."""
        if self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0

    def done(self) -> None:
        self.clear()
        if self.lines:
            seconds = time.monotonic() - self.start
            self.stream.write(f"[{self.n}/{self.n}] done in {seconds:.1f} s\n")
            self.stream.flush()


@dataclass
class Row:
    """One line of the summary: an equation over many networks."""

    equation: str
    networks: int = 0
    checked: int = 0
    skipped: int = 0
    worst_ratio: float = 0.0
    worst_error: float = 0.0
    methods: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)

    def add(self, checked: int, skipped: int, ratio: float, error: float, method: str,
            failures: Sequence[str]) -> None:
        self.networks += 1
        self.checked += checked
        self.skipped += skipped
        if ratio >= self.worst_ratio:
            self.worst_ratio, self.worst_error = ratio, error
        self.methods.add(method)
        self.failures.extend(failures)


def _simplification(net: Network, X: Array, Y: Array) -> Report | None:
    """The simplified delta^L = a - y against the general BP1 J^T dC/da (float64)."""
    cost_fn = net.cost_fn
    if cost_fn.delta is None:
        return None
    from backprop.network import forward_arrays

    W = [w.astype(np.float64) for w in net.weights]
    b = [v.astype(np.float64) for v in net.biases]
    trace = forward_arrays(W, b, net.sigma, X.astype(np.float64))
    a, z, Y64 = trace.a[-1], trace.z[-1], Y.astype(np.float64)
    if cost_fn.targets == "distributions":
        # The general form is then a sum_k y_k - y: a - y only where each column of
        # y sums to 1. check_XY accepts sums off by a few ulps of the network's
        # dtype (a float32 Y, read in float64, is off by ~1e-8): renormalise.
        Y64 = Y64 / Y64.sum(axis=0, keepdims=True)
    simple = cost_fn.delta(a, Y64)
    general = net.sigma[-1].backward(z, cost_fn.dC_da(a, Y64))
    # Both are computed in float64; the general form divides by a(1 - a) (or a),
    # whose rounding is relative to 1/a: allow 64 u on that scale.
    scale = (np.abs(a) + np.abs(Y64)) / np.minimum(np.abs(a), np.abs(1 - a))
    tol = 64 * np.finfo(np.float64).eps * scale
    block = compare("a-y=BP1", "delta[L-1]", net.L - 1, "exact", simple, general, tol,
                    np.zeros(simple.shape, dtype=bool), ("j", "x"))
    return Report([block], "exact", "simplification vs general BP1")


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
    parser.add_argument("--impl", default="both",
                        help="vectorized, loop, both, or MODULE:FUNCTION (your own backprop)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (shape: see `pydoc checks.cli`)")
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
    if args.plot is not None:
        _check_plot_path(args.plot, parser)
    impls: list[tuple[str, Impl | str]]
    if args.impl == "both":
        impls = [("vectorized", "vectorized"), ("loop", "loop")]
    elif args.impl in ("vectorized", "loop"):
        impls = [(args.impl, args.impl)]
    else:
        impls = [(args.impl, _load_impl(args.impl, parser))]
    networks = _chosen(args, parser)
    one = len(networks) == 1
    rows: dict[str, Row] = {}
    reports: list[dict[str, Any]] = []
    full: list[Report] = []  # kept for --plot
    depths: list[int] = []
    ok = True
    progress = Progress(len(networks) * len(impls), sys.stderr)
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
                                       progress=progress.within(k, what))
            except (TypeError, ValueError) as exc:
                if isinstance(impl, str):
                    raise  # our own implementations: a bug, not a usage error
                progress.clear()
                parser.error(f"--impl {args.impl}: {exc}")
            ok &= report.ok
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
        simple = _simplification(net, X, Y)
        if simple is not None:
            ok &= simple.ok
            b = simple.blocks[0]
            rows.setdefault("a−y = general BP1", Row("a−y = general BP1")).add(
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
                "networks": r.networks, "checked": r.checked, "skipped": r.skipped,
                "worst_error_over_tolerance": r.worst_ratio, "worst_error": r.worst_error,
                "methods": sorted(r.methods), "failures": r.failures} for r in rows.values()},
            "reports": reports,
        }
        if plot is not None:
            result["plot"] = plot
        print(json.dumps(result, indent=2))
        return 0 if ok else 1
    print(_table(rows, len(networks), [label for label, _ in impls], args))
    if plot is not None:
        r = reports[plot["report"]]
        print(f"heatmap of {r['impl']} on {r['network']}: {plot['path']}")
    return 0 if ok else 1


def _table(rows: dict[str, Row], n_configs: int, impls: list[str], args: Any) -> str:
    order = ["BP1", SIMPLIFIED, "a−y = general BP1", "BP2", "BP3", "BP4"]
    lines = [
        f"backprop-check: {n_configs} networks x {', '.join(impls)}, batch {args.batch}, "
        f"{args.dtype}, seed {args.seed}",
        "",
        f"{'equation':<20} {'nets':>5} {'method':<13} {'worst err/tol':>13} "
        f"{'worst error':>11} {'checked':>8} {'skipped':>8}  verdict",
    ]
    for name in order:
        if name not in rows:
            continue
        r = rows[name]
        lines.append(
            f"{name:<20} {r.networks:>5} {'/'.join(sorted(r.methods)):<13} "
            f"{r.worst_ratio:>13.2g} {r.worst_error:>11.2e} {r.checked:>8} {r.skipped:>8}  "
            + ("verified" if not r.failures else f"{len(r.failures)} MISMATCHED"))
    failures = [f for r in rows.values() for f in r.failures]
    if failures:
        lines.append("")
        lines.append(f"Mismatched elements: {len(failures)}")
        lines.extend("  " + f for f in failures[:30])
    lines.append("")
    lines.append("verified: every element within its error-model tolerance"
                 if not failures else "FAILED")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())

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
rest is still swept (`checks.cli.sweep.configs` lists the networks):

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

--delta mean checks a delta that is dC/dz of the batch mean cost, the per-example
delta divided by the batch size (CS231n's dscores): check_network's delta="mean".
--labels gives --impl's function integer class labels of shape (batch,) as Y
(drawn from seed + k after X; the built-in implementations get them one-hot): it
fits only categorical_cross_entropy, so without --cost it narrows the sweep to
those networks, and with another --cost it is a usage error.

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
                   "method", "directions", "delta", "labels", "impl", "json",
                   "plot"},  # as given
      "equations": {                  # one entry per row of the table, keyed by
        "BP1" | "BP1 δ^L = a^L − y" | "a−y = general BP1" | "BP2" | "BP3" | "BP4": {
          "arrays": int, "checked": int, "skipped": int,
          "worst_error_over_tolerance": float, "worst_error": float,
          "methods": [str], "failures": [str]}},
      "reports": [                    # one per network x implementation
        {"network": str, "impl": str, **Report.as_dict()}],
      "plot": {"path": str, "report": int}   # only with --plot: index into reports
    }

The keys of "equations" are those of earlier versions: "BP1 δ^L = a^L − y" is
the table's "BP1 (cost with a − y)" row, "a−y = general BP1" its
"a − y = general BP1 (identity check)" row.

Report.as_dict() is {"ok", "title", "method", "method_reason", "checked",
"skipped", "mismatched", "blocks": [Block.as_dict()], "diagnosis": [str]}, a block
{"equation", "name", "layer", "method", "checked", "skipped", "worst_error",
"tolerance_at_worst", "worst_error_over_tolerance", "mismatches": [element],
"skipped_elements": [element]}, an element {"where", "index", "analytic",
"numeric", "error", "tolerance"} (see checks/report.py). A block checked along
random directions has method "<method>/dir" and the name "<array>·u".
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence

from checks.cli import render
from checks.cli.load import ImplCrashed, MalformedResult, crash_text, implementations
from checks.cli.parse import Settings, UsageError, build_parser, check_settings, chosen, parse
from checks.cli.progress import Progress
from checks.cli.run import Tally, progress_of, run
from checks.report import Report


def main(argv: Sequence[str] | None = None) -> int:
    """backprop-check on argv (sys.argv[1:] when None): prints the results, returns the
    exit status (0 verified, 1 a mismatch, 3 --impl's function raised) or exits 2."""
    parser = build_parser()
    settings = parse(parser, argv)
    try:
        check_settings(settings)
        impls = implementations(settings.impl)
        networks = chosen(settings)
    except UsageError as exc:
        parser.error(str(exc))
    progress = progress_of(networks, impls, settings, sys.stderr)
    # One network: its full report per implementation, before the table.
    show = _printer(progress) if len(networks) == 1 and not settings.json else _ignore
    try:
        tally = run(networks, impls, settings, progress, show)
    except UsageError as exc:
        parser.error(str(exc))
    except ImplCrashed as exc:
        progress.clear()
        print(crash_text(exc, settings.impl), end="", file=sys.stderr)
        return 3
    except MalformedResult as exc:
        progress.clear()  # a malformed result: the user's bug, not bad usage
        parser.exit(2, f"{parser.prog}: error: --impl {settings.impl}: {exc}\n")
    progress.done()
    _print_results(tally, settings, len(networks), [label for label, _ in impls])
    return 0 if tally.ok else 1


def _printer(progress: Progress) -> Callable[[Report], None]:
    """run's show: each report printed in full, the progress line wiped first."""

    def show(report: Report) -> None:
        progress.clear()
        print(report, end="\n\n")

    return show


def _ignore(report: Report) -> None:
    """run's show in a sweep or with --json: the reports go into the table or the JSON."""


def _print_results(tally: Tally, settings: Settings, networks: int, impls: list[str]) -> None:
    """The JSON object, or the table (a sweep's failed checks under it) and which check
    --plot drew, after writing the plot."""
    plotted = render.plot(tally.checks, settings.plot) if settings.plot is not None else None
    if settings.json:
        print(json.dumps(render.json_object(tally, settings, plotted), indent=2))
        return
    failed = [] if networks == 1 else [c for c in tally.checks if not c.report.ok]
    print(render.table(tally.rows(), failed, networks=networks, impls=impls, settings=settings))
    if plotted is not None:
        check = tally.checks[plotted["report"]]
        print(f"heatmap of {check.label} on {check.net!r}: {plotted['path']}")


if __name__ == "__main__":
    raise SystemExit(main())

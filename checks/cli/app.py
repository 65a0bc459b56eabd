"""backprop-check: verify the backprop derivation equation by equation.

With no arguments, every hidden activation x cost (with the outputs each cost
allows: quadratic sigmoid or softmax, cross_entropy sigmoid,
categorical_cross_entropy softmax) is checked on random networks of sizes
[3, 2], [3, 4, 2] and [3, 5, 4, 3] (depth 1-3), 56 networks, for both
implementations, and one table per equation is printed. Exit status (never 0
unless every requested check ran and passed):

    0    verified
    1    a mismatch, non-finite gradients (NaN, inf) included
    2    bad usage, with the usage banner: an option argparse rejects or no network
         fits, a module or file that does not exist (--impl), your file shadowed by
         an installed package of its name (a backprop.py, a checks.py: the message
         says how to fix it), --plot without matplotlib, a --batch or --sizes too
         large for memory; stdout is then empty, even with --json
    3    your code failed: --impl's module did not import (a SyntaxError, an
         exception or an ImportError inside it), its code called sys.exit or
         os._exit (any code, 0 too), its function raised or returned a malformed
         result (not gradients of the network: the message says what). stderr
         names your file and line, then shows your traceback without the frames of
         backprop-check itself; with --json, stdout is the failure object (below)
    4    an internal error of backprop-check (a bug: please report it); its
         traceback is on stderr, and with --json the failure object on stdout
    130  interrupted (Ctrl-C), quietly

--impl MODULE:FUNCTION imports MODULE from the current directory; a file of that
name there that an installed package shadows (backprop.py, checks.py) exits 2
saying so. --impl PATH:FUNCTION, PATH ending in .py or containing a slash
(./mynet.py:backprop, src/mynet.py:backprop, an absolute path; split at the last
':'), loads that file, its folder first on sys.path for its own imports.
While your code runs (its import and each call), what it writes to stdout goes
to stderr, so stdout carries only the table or the JSON. Piped into a reader
that stops early (| head -1), the rest of the output is dropped quietly and the
exit status is still the verdict; so it is when stderr's reader goes (`2>&1 |
head -1`): what your code prints and what backprop-check writes to stderr after
that is dropped (checks.cli.streams), never failing your code or the run. With
stdout closed (`>&-`), the results are printed to nothing.

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

--junit-xml FILE writes the run as a JUnit XML report for CI (checks.cli.junit):
a testcase per network x implementation (classname "backprop-check.<impl>", name
the network) and one per identity check, a failing one with the diagnosis in one
line as its failure's message and the full report as its text. It is written
whether the checks pass or fail, with --json too, and its failures count is above
0 exactly when the exit status is 1.

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

Of each row's worst element (the largest |analytic - numeric| / tolerance) the
table shows that ratio, the error, and the relative error |analytic - numeric| /
|numeric| ("rel. error": 1e-16 is rounding, 1 is 100 % off, inf a nonzero value
where the numerical derivative is exactly 0). Its verdict is "verified", "k
MISMATCHED" (with "(follow from BP1)" when those mismatches are only consequences
of a broken BP1 or BP2 upstream, "(j follow from BP1)" when some are), or "not
given" for arrays the implementation did not return ("verified (2 not given)"
when some were returned and some not; a row with none given shows "-" for its
numbers, and the last line says "verified: every element given ... (not given:
...)"). A worst error of inf or nan is a value the implementation returned.

A failing sweep lists each failing network with its first broken equations,
unless the failures coincide with a part of the sweep: when every network that
one --activations NAME, --cost COST or both would choose passed, and every other
network failed (or all but a few that passed by chance, named; checks.cli.explain),
the summary says which networks fail and
which pass, prints that narrowing command (the options as given, plus the
narrowing), which checks only what passed, and the command whose report shows
the first failing network.

Progress goes to stderr, only when stderr is a terminal or the run has lasted
more than PROGRESS_AFTER seconds (then in plain lines, at most one a second):
"[k/n] checking <what>: <done>/<total> elements, ~<s> s left", where k/n counts
network x implementation and done/total the elements of delta, dW and db over the
whole run (the totals are known up front from the sizes and the batch), the time
left being elapsed / done * remaining. When that puts the whole run above
LONG_RUN seconds (and --directions is not given), one line suggests --directions.
stdout carries only the table, or with --json only the JSON object, which has
this shape (schema 2):

    {
      "schema": 2,                    # the version of this shape
      "ok": bool,                     # every equation verified
      "settings": {"sizes", "activations", "cost", "batch", "dtype", "seed",
                   "method", "directions", "delta", "labels", "impl", "json",
                   "plot", "junit_xml"},      # as given
      "equations": {                  # one entry per row of the table, keyed by its label:
        "BP1" | "BP1 (cost with a − y)" | "a − y = general BP1 (identity check)" |
        "BP2" | "BP3" | "BP4": {
          "arrays": int, "checked": int, "skipped": int,
          "worst_error_over_tolerance": float, "worst_error": float,
          "methods": [str], "failures": [str]}},
      "reports": [                    # one per network x implementation
        {"network": str, "impl": str, **Report.as_dict()}],
      "plot": {"path": str, "report": int},  # only with --plot: index into reports
      "non_finite": [str]             # the paths of the values that are null for NaN or inf
    }

The object is strict JSON: a NaN or inf anywhere in it (a NaN gradient's analytic
value and error, the worst error over tolerance it makes) is null, and its path
is listed in "non_finite", such as "reports[0].blocks[1].mismatches[0].analytic"
or 'equations["BP1 (cost with a − y)"].worst_error' (a key that is not a name in
brackets); [] when there is none.

With --json, a run that reached no verdict prints instead (same schema):

    {"schema": 2, "ok": false,
     "status": 3 | 4,                 # the exit status: your code failed, or backprop-check
     "error": str}                    # what failed and where in one line, e.g. "--impl
                                      # m:f raised ValueError while being imported, at
                                      # FILE, line N, in <module>: message"

Schema 1 (before "schema" was given) keyed the two a − y rows
"BP1 δ^L = a^L − y" and "a−y = general BP1", and printed NaN and inf as the
tokens NaN and Infinity, which strict parsers reject.

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
import contextlib
import json
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence

from checks.cli import junit, render
from checks.cli.load import UserCodeFailed, failure_summary, failure_text, implementations
from checks.cli.parse import (
    INTERNAL_ERROR,
    INTERRUPTED,
    MISMATCH,
    USER_CODE_FAILED,
    VERIFIED,
    Settings,
    UsageError,
    build_parser,
    check_settings,
    chosen,
    parse,
)
from checks.cli.progress import Progress
from checks.cli.run import Tally, progress_of, run
from checks.cli.streams import forgiving_stderr, streams_present, to_devnull
from checks.report import Report


def main(argv: Sequence[str] | None = None) -> int:
    """backprop-check on argv (sys.argv[1:] when None): prints the results and returns the
    exit status (module docstring); bad usage exits 2 (SystemExit) with the usage banner.
    No other exception leaves it: a write to stdout or stderr whose reader has gone is
    dropped (checks.cli.streams), and the status is still the verdict."""
    streams_present()
    settings = None
    with forgiving_stderr():
        try:
            parser = build_parser()
            settings = parse(parser, argv)
            return _checked(parser, settings)
        except KeyboardInterrupt:
            return INTERRUPTED
        except Exception as exc:  # the user's code's exceptions are UserCodeFailed by now
            with contextlib.suppress(Exception):  # nothing left to tell the failure to
                print("backprop-check: internal error: this is a bug in backprop-check, not in "
                      "your code; please report it with this traceback:", file=sys.stderr)
                traceback.print_exc()
                if settings is not None and settings.json:
                    _print_failure(INTERNAL_ERROR, _internal_summary(exc))
            return INTERNAL_ERROR


def _internal_summary(exc: Exception) -> str:
    """An internal error in one line: the exception, and the innermost line that raised it."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f", at {frames[-1].filename}, line {frames[-1].lineno}" if frames else ""
    message = " ".join(str(exc).split())
    return (f"internal error of backprop-check: {type(exc).__name__}{where}"
            + (f": {message}" if message else ""))


def _print_failure(status: int, error: str) -> None:
    """--json's object for a run that reached no verdict (render.failure_object)."""
    with _stdout_may_close():
        print(json.dumps(render.failure_object(status, error), indent=2))


def _checked(parser: argparse.ArgumentParser, settings: Settings) -> int:
    """main's run: each failure mapped to its exit status, bad usage to parser.error."""
    progress = None
    try:
        check_settings(settings)
        networks = chosen(settings)  # the options checked before the user's code is imported
        impls = implementations(settings.impl)
        progress = progress_of(networks, impls, settings, sys.stderr)
        # One network: its full report per implementation, before the table.
        show = _printer(progress) if len(networks) == 1 and not settings.json else _ignore
        tally = run(networks, impls, settings, progress, show)
    except UsageError as exc:
        parser.error(str(exc))
    except MemoryError:  # raised in backprop-check's code: the user's is UserCodeFailed
        if progress is not None:
            progress.clear()
        sizes = "" if settings.sizes is None else f" and --sizes {settings.sizes}"
        parser.error(f"not enough memory to check --batch {settings.batch}{sizes}: give a "
                     "smaller --batch or --sizes")
    except UserCodeFailed as exc:
        if progress is not None:
            progress.clear()
        print(failure_text(exc, settings.impl), end="", file=sys.stderr)
        if settings.json:
            _print_failure(USER_CODE_FAILED, failure_summary(exc, settings.impl))
        return USER_CODE_FAILED
    progress.done()
    with _stdout_may_close():
        _print_results(tally, settings, [label for label, _ in impls])
    return VERIFIED if tally.ok else MISMATCH


@contextlib.contextmanager
def _stdout_may_close() -> Iterator[None]:
    """What is printed inside, flushed; when stdout's reader has gone (`| head -1`), the rest
    goes to devnull, as Python's documentation on SIGPIPE recommends (so the interpreter's
    own flush at exit does not raise again), and the run goes on to its exit status."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        to_devnull(sys.stdout)


def _printer(progress: Progress) -> Callable[[Report], None]:
    """run's show: each report printed in full, the progress line wiped first."""

    def show(report: Report) -> None:
        progress.clear()
        with _stdout_may_close():
            print(report, end="\n\n")

    return show


def _ignore(report: Report) -> None:
    """run's show in a sweep or with --json: the reports go into the table or the JSON."""


def _print_results(tally: Tally, settings: Settings, impls: list[str]) -> None:
    """The JSON object, or the table (a sweep's failed checks under it) and which check
    --plot drew, after writing the plot and the JUnit report."""
    plotted = render.plot(tally.checks, settings.plot) if settings.plot is not None else None
    if settings.junit_xml is not None:
        junit.write(settings.junit_xml, tally, settings)
    if settings.json:
        # allow_nan=False: a NaN that json_object missed raises instead of printing
        # the NaN token that strict parsers reject.
        print(json.dumps(render.json_object(tally, settings, plotted), indent=2, allow_nan=False))
        return
    print(render.table(tally, impls=impls, settings=settings))
    if plotted is not None:
        check = tally.checks[plotted["report"]]
        print(f"heatmap of {check.label} on {check.net!r}: {plotted['path']}")


if __name__ == "__main__":
    raise SystemExit(main())

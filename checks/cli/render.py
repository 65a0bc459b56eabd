"""What a backprop-check run prints: the table, or the JSON object; and which report --plot draws.

The table has one row per equation over every check (run.Tally), each saying
what it counts (arrays checked, elements checked and skipped; of the worst
element its error over tolerance, its error and its relative error) and its
`verdict`; the two a - y rows are labelled and explained in a legend line; a
failing sweep lists each failing check once with its first broken equations
(checks.netcheck.diagnose), or, when its failures coincide with a part of the
sweep, says so (checks.cli.explain). The JSON object's shape is documented in
checks.cli.app's docstring.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any

from checks.cli.explain import explanation
from checks.cli.parse import Settings
from checks.cli.run import IDENTITY, ROW_ORDER, SIMPLIFIED, Check, Row, Tally
from checks.report import finding_lines

# The labels of the two a - y rows in the table (their keys: run.SIMPLIFIED, run.IDENTITY).
LABELS = {SIMPLIFIED: "BP1 (cost with a − y)",
          IDENTITY: "a − y = general BP1 (identity check)"}
LEGEND = ("(cost with a − y): BP1 where the cost gives δ^L = a^L − y; (identity check): "
          "a^L − y = Jᵀ ∂C/∂a in float64, per network, not using the code checked")
# The version of --json's shape (checks.cli.app's docstring says what each one changed):
# raised whenever a key is renamed or a value changes meaning.
JSON_SCHEMA = 2
# Under a table whose rel. error (|analytic − numeric| / |numeric| at the worst element) is inf.
ZERO_LEGEND = ("rel. error inf: the numerical derivative is exactly 0 there (a relu unit "
               "that is off, say) and yours is not")
# Under a table whose worst error is inf or nan: the gradient itself is not finite.
NONFINITE_LEGEND = "worst error inf or nan: a value your code returned is inf or NaN"
FAILED_SHOWN = 10  # failing checks of a sweep summarised under the table


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _failed_lines(failed: Sequence[Check], explained: Sequence[str]) -> list[str]:
    """Each failing check of a sweep once: the network, how many elements, and the
    first broken equations with their slips (the full report: check that network alone);
    only their count when the failures coincide with a part of the configuration
    (explained: checks.cli.explain's lines, which say so)."""
    lines = ["", f"Failed: {_count(len(failed), 'check')} (network x implementation)"]
    if explained:
        return lines + list(explained)
    for check in failed[:FAILED_SHOWN]:
        report = check.report
        lines.append(f"  {check.name}: {len(report.mismatches)} of {report.checked} elements")
        for finding in report.findings[:2]:
            lines.extend(finding_lines(finding, "    "))
        if len(report.findings) > 2:
            lines.append(f"    ... and {len(report.findings) - 2} more broken equations")
    if len(failed) > FAILED_SHOWN:
        lines.append(f"  ... and {len(failed) - FAILED_SHOWN} more")
    lines.append("  (the full report of one network: give its --sizes, --activations and --cost)")
    return lines


def verdict(row: Row) -> str:
    """A row's verdict: 'verified', 'k MISMATCHED' (and how many of them only follow
    from a broken BP1 or BP2), or 'not given'; with how many arrays were not given
    when some were and some were not."""
    if not row.arrays:
        return "not given"
    notes = []
    if row.failures:
        follow = sum(row.follow.values())
        sources = ", ".join(sorted(row.follow))
        if follow == len(row.failures):
            notes.append(f"follow from {sources}")
        elif follow:
            notes.append(f"{follow} {'follows' if follow == 1 else 'follow'} from {sources}")
    if row.not_given:
        notes.append(f"{row.not_given} not given")
    text = f"{len(row.failures)} MISMATCHED" if row.failures else "verified"
    return text + (f" ({'; '.join(notes)})" if notes else "")


def table(tally: Tally, *, impls: Sequence[str], settings: Settings) -> str:
    """The summary: a header line (networks x impls, batch, dtype, seed), one line per
    row in ROW_ORDER, the legend of the a - y rows, a sweep's failed checks (or what
    their failures coincide with: checks.cli.explain), the verdict."""
    rows = tally.rows()
    networks = len(tally.networks)
    order = [name for name in ROW_ORDER if name in rows]
    labels = {name: LABELS.get(name, name) for name in order}
    methods = {name: ", ".join(sorted(rows[name].methods)) for name in order}
    w = max([20, *(len(label) for label in labels.values())])
    w_method = max([13, *(len(m) for m in methods.values())])
    lines = [
        f"backprop-check: {_count(networks, 'network')} x "
        f"{_count(len(impls), 'implementation')} ({', '.join(impls)}), "
        f"batch {settings.batch}, {settings.dtype}, seed {settings.seed}",
        "",
        f"{'equation':<{w}} {'arrays':>6} {'method':<{w_method}} {'worst err/tol':>13} "
        f"{'worst error':>11} {'rel. error':>11} {'checked':>8} {'skipped':>8}  verdict",
    ]
    for name in order:
        r = rows[name]
        # A row of arrays none of which was given has no numbers: dashes, not zeros.
        numbers = (f"{r.worst_ratio:>13.2g} {r.worst_error:>11.2e} {r.worst_relative:>11.2g}"
                   if r.arrays else f"{'-':>13} {'-':>11} {'-':>11}")
        lines.append(f"{labels[name]:<{w}} {r.arrays:>6} {methods[name]:<{w_method}} "
                     f"{numbers} {r.checked:>8} {r.skipped:>8}  {verdict(r)}")
    if SIMPLIFIED in rows or IDENTITY in rows:
        lines.append(LEGEND)
    if any(r.worst_relative == math.inf and math.isfinite(r.worst_error) for r in rows.values()):
        lines.append(ZERO_LEGEND)
    if any(not math.isfinite(r.worst_error) for r in rows.values()):
        lines.append(NONFINITE_LEGEND)
    failures = [f for r in rows.values() for f in r.failures]
    failed = [c for c in tally.checks if not c.report.ok] if networks > 1 else []
    if failed:
        lines.extend(_failed_lines(failed, explanation(tally, settings)))
    lines.append("")
    lines.append(_verdict_line(failures, [labels[name] for name in order
                                          if not rows[name].arrays or rows[name].not_given]))
    return "\n".join(lines)


def _verdict_line(failures: Sequence[str], not_given: Sequence[str]) -> str:
    """The run's last line: FAILED, or verified, saying which rows had arrays not given
    (checked only through the equations that use them)."""
    if failures:
        return "FAILED"
    if not_given:
        return ("verified: every element given within its error-model tolerance (not given: "
                f"{', '.join(not_given)})")
    return "verified: every element within its error-model tolerance"


def json_object(tally: Tally, settings: Settings,
                plot: dict[str, Any] | None) -> dict[str, Any]:
    """--json's object (shape: checks.cli.app's docstring); plot: where --plot wrote what.
    Strict JSON: each NaN or inf in it is null, its path listed in "non_finite"."""
    rows = tally.rows()
    result: dict[str, Any] = {
        "schema": JSON_SCHEMA,
        "ok": tally.ok,
        "settings": dataclasses.asdict(settings),
        "equations": {LABELS.get(name, name): {
            "arrays": r.arrays, "checked": r.checked, "skipped": r.skipped,
            "worst_error_over_tolerance": r.worst_ratio, "worst_error": r.worst_error,
            "methods": sorted(r.methods), "failures": r.failures}
            for name in ROW_ORDER if (r := rows.get(name)) is not None},
        "reports": [{"network": repr(c.net), "impl": c.label, **c.report.as_dict()}
                    for c in tally.checks],
    }
    if plot is not None:
        result["plot"] = plot
    non_finite: list[str] = []
    finite = _finite(result, "", non_finite)
    finite["non_finite"] = non_finite
    return finite


def failure_object(status: int, error: str) -> dict[str, Any]:
    """--json's object when no verdict was reached: the user's code failed (status 3) or
    backprop-check did (4); error: what failed and where, in one line."""
    return {"schema": JSON_SCHEMA, "ok": False, "status": status, "error": error}


def _finite(value: Any, path: str, non_finite: list[str]) -> Any:
    """value with every NaN and inf replaced by None, the path of each (as
    'reports[0].blocks[1].mismatches[0].analytic') appended to non_finite."""
    if isinstance(value, float) and not math.isfinite(value):
        non_finite.append(path)
        return None
    if isinstance(value, dict):
        return {key: _finite(v, _key_path(path, key), non_finite) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v, f"{path}[{k}]", non_finite) for k, v in enumerate(value)]
    return value


def _key_path(path: str, key: str) -> str:
    """path.key, or path["key"] for a key that is not an identifier (the equations'
    labels)."""
    if key.isidentifier():
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def plotted(ok: Sequence[bool], depths: Sequence[int]) -> int:
    """Which check --plot draws, given each check's verdict and its network's depth: the
    first that failed, else the deepest network's first."""
    failed = [k for k, verified in enumerate(ok) if not verified]
    return failed[0] if failed else max(range(len(ok)), key=lambda k: (depths[k], -k))


def plot(checks: Sequence[Check], path: str) -> dict[str, Any]:
    """The heatmap of the plotted check written to path; --json's "plot": {"path", "report"}."""
    from checks.plot import heatmap

    k = plotted([c.report.ok for c in checks], [c.net.L for c in checks])
    heatmap(checks[k].report, path)
    return {"path": path, "report": k}

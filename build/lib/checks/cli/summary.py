"""The summary table of a backprop-check run: one row per equation over every check.

Each row says what it counts (arrays checked, elements checked and skipped, the
worst error over tolerance); the two a - y rows are labelled and explained in a
legend line; a failing sweep lists each failing check once with its first
broken equations (checks.diagnose), and `identity_check` compares a - y with
the general BP1 for costs that have the simplification.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backprop import Array, Network
from checks.report import NOT_GIVEN, Report, compare

# The keys of the two a - y rows (JSON, unchanged) and their labels in the table.
SIMPLIFIED, IDENTITY = "BP1 δ^L = a^L − y", "a−y = general BP1"
LABELS = {SIMPLIFIED: "BP1 (cost with a − y)",
          IDENTITY: "a − y = general BP1 (identity check)"}
LEGEND = ("(cost with a − y): BP1 where the cost gives δ^L = a^L − y; (identity check): "
          "a^L − y = Jᵀ ∂C/∂a in float64, per network, not using the code checked")


@dataclass
class Row:
    """One line of the summary: an equation over many networks."""

    equation: str
    arrays: int = 0
    checked: int = 0
    skipped: int = 0
    worst_ratio: float = 0.0
    worst_error: float = 0.0
    methods: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)

    def add(self, checked: int, skipped: int, ratio: float, error: float, method: str,
            failures: Sequence[str]) -> None:
        self.arrays += method != NOT_GIVEN
        self.checked += checked
        self.skipped += skipped
        if ratio >= self.worst_ratio:
            self.worst_ratio, self.worst_error = ratio, error
        self.methods.add(method)
        self.failures.extend(failures)


def identity_check(net: Network, X: Array, Y: Array) -> Report | None:
    """The simplified delta^L = a - y against the general BP1 J^T dC/da (float64)."""
    cost_fn = net.cost_fn
    if cost_fn.delta is None:
        return None
    from backprop.feedforward import forward_arrays

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


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


FAILED_SHOWN = 10  # failing checks of a sweep summarised under the table


def _failed_lines(failed: list[tuple[str, Report]]) -> list[str]:
    """Each failing check of a sweep once: the network, how many elements, and the
    first broken equations with their slips (the full report: check that network alone)."""
    lines = ["", f"Failed: {_count(len(failed), 'check')} (network x implementation)"]
    for what, report in failed[:FAILED_SHOWN]:
        lines.append(f"  {what}: {len(report.mismatches)} of {report.checked} elements")
        for finding in report.findings[:2]:
            lines.append("    " + finding.text)
            if finding.slip:
                lines.append("      " + finding.slip)
        if len(report.findings) > 2:
            lines.append(f"    ... and {len(report.findings) - 2} more broken equations")
    if len(failed) > FAILED_SHOWN:
        lines.append(f"  ... and {len(failed) - FAILED_SHOWN} more")
    lines.append("  (the full report of one network: give its --sizes, --activations and --cost)")
    return lines


def table(rows: dict[str, Row], n_configs: int, impls: list[str], args: Any,
           failed: list[tuple[str, Report]]) -> str:
    order = [name for name in ("BP1", SIMPLIFIED, IDENTITY, "BP2", "BP3", "BP4") if name in rows]
    labels = {name: LABELS.get(name, name) for name in order}
    methods = {name: ", ".join(sorted(rows[name].methods)) for name in order}
    w = max([20, *(len(label) for label in labels.values())])
    w_method = max([13, *(len(m) for m in methods.values())])
    lines = [
        f"backprop-check: {_count(n_configs, 'network')} x "
        f"{_count(len(impls), 'implementation')} ({', '.join(impls)}), batch {args.batch}, "
        f"{args.dtype}, seed {args.seed}",
        "",
        f"{'equation':<{w}} {'arrays':>6} {'method':<{w_method}} {'worst err/tol':>13} "
        f"{'worst error':>11} {'checked':>8} {'skipped':>8}  verdict",
    ]
    for name in order:
        r = rows[name]
        lines.append(
            f"{labels[name]:<{w}} {r.arrays:>6} {methods[name]:<{w_method}} "
            f"{r.worst_ratio:>13.2g} {r.worst_error:>11.2e} {r.checked:>8} {r.skipped:>8}  "
            + ("verified" if not r.failures else f"{len(r.failures)} MISMATCHED"))
    if SIMPLIFIED in rows or IDENTITY in rows:
        lines.append(LEGEND)
    failures = [f for r in rows.values() for f in r.failures]
    if failed:
        lines.extend(_failed_lines(failed))
    lines.append("")
    lines.append("verified: every element within its error-model tolerance"
                 if not failures else "FAILED")
    return "\n".join(lines)

"""The verdict of a check: per equation and layer, and per mismatched element.

Closeness rule (one rule, everywhere): an element passes when
|analytic - numeric| <= tolerance, where the tolerance is set per element by
the error model of the check that produced it (see `checks.network` and
`checks.gradcheck`). An element at a kink that check_network checks as a
subgradient passes when the analytic value lies between the one-sided derivatives
(within its tolerance). Elements that cannot be checked are skipped, counted and
listed, with the reason when the check gives one; they never fail a check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backprop import ArrayId
from backprop.arrays import listing_key


@dataclass(frozen=True)
class Element:
    """One compared (or skipped) element: where it is and both values."""

    equation: str
    name: str
    index: tuple[int, ...]
    index_names: tuple[str, ...]
    analytic: float
    numeric: float
    error: float
    tolerance: float
    # Why an element was not verified ("not differentiable here", "f too noisy ..."):
    # for skipped (unverified) elements; their tolerance is then the smallest error
    # the check could have seen there.
    reason: str = ""

    def where(self) -> str:
        """'BP4 dW[1][j=1, i=3]': indices named as in the derivation; an index whose
        name is empty (the single column of db) is left out."""
        idx = ", ".join(f"{k}={i}" for k, i in zip(self.index_names, self.index, strict=True)
                        if k)
        return f"{self.equation} {self.name}[{idx}]"

    @property
    def relative(self) -> float:
        """|analytic - numeric| / |numeric| (`relative_error`)."""
        return relative_error(self.error, self.numeric)

    def __str__(self) -> str:
        relative = self.relative  # nan when a value is: the line says so already
        return (
            f"{self.where()}: analytic={self.analytic:.10g} numeric={self.numeric:.10g} "
            f"error={self.error:.2e} > tolerance {self.tolerance:.2e}"
            + ("" if relative != relative else f" (relative error {relative:.2g})")
        )


def relative_error(error: float, numeric: float) -> float:
    """error / |numeric|: how wrong in proportion to the right value (numpy's relative
    difference). 0 when error is 0; inf when only the numeric value is 0."""
    if error == 0:
        return 0.0
    return error / abs(numeric) if numeric != 0 else float("inf")


@dataclass(frozen=True)
class Finding:
    """One broken equation found by checks.netcheck.diagnose: where, and the slip if named."""

    id: ArrayId  # the array whose own equation fails
    text: str  # the equation as it fails, in the derivation's words
    slip: str | None = None  # what the numbers show: a catalogue match, a ratio, a pattern

    @property
    def equation(self) -> str:
        """The equation that fails: BP1 ... BP4."""
        return self.id.equation

    @property
    def layer(self) -> int:
        return self.id.layer


@dataclass(frozen=True)
class Note:
    """What the numbers of one failing array show, for a check that knows nothing of
    the derivation (checks.engine.patterns): the array, and the slip in words."""

    name: str  # the array, as the report names it
    text: str

    def __str__(self) -> str:
        return f"{self.name}: {self.text}"


@dataclass(frozen=True)
class Block:
    """The comparison of one gradient array (delta[l], dW[l], db[l] or params[p])."""

    equation: str
    name: str
    layer: int | None
    method: str
    checked: int
    skipped: list[Element]
    mismatches: list[Element]
    worst_error: float
    worst_tolerance: float
    worst_ratio: float
    # |analytic - numeric| / tolerance for every element, NaN where skipped
    # (inf where either side is NaN): what checks.plot.heatmap draws.
    ratios: np.ndarray | None = None
    # The array of the derivation for check_network; None for gradcheck's params[p]
    # and the identity check.
    id: ArrayId | None = None
    # The compared arrays themselves (float64), for the diagnosis of a failure.
    analytic: np.ndarray | None = None
    numeric: np.ndarray | None = None
    tolerance: np.ndarray | None = None
    # When this array is wrong only because the delta it is built from is: that
    # delta (checks.netcheck.diagnose finds it after the comparison, so
    # checks.network makes each Block anew with it).
    follows_from: ArrayId | None = None
    # Of the checked elements, those at a kink verified as subgradients: the analytic
    # value lies between the one-sided derivatives there.
    subgradients: int = 0
    # The detection floor: the smallest error in one element, relative to the array's
    # scale, that this check would have caught (None: not computed by this check).
    floor: float | None = None
    # The numeric value at the worst element (where worst_error was measured).
    worst_numeric: float = 0.0

    @property
    def worst_relative(self) -> float:
        """The relative error at the worst element: worst_error / |worst_numeric|."""
        return relative_error(self.worst_error, self.worst_numeric)

    @property
    def ok(self) -> bool:
        """No element mismatched (unverified elements are the report's to judge)."""
        return not self.mismatches

    def as_dict(self) -> dict[str, Any]:
        return {
            "equation": self.equation,
            "name": self.name,
            "layer": self.layer,
            "method": self.method,
            "checked": self.checked,
            "skipped": len(self.skipped),
            "worst_error": self.worst_error,
            "tolerance_at_worst": self.worst_tolerance,
            "worst_error_over_tolerance": self.worst_ratio,
            "mismatches": [_element_dict(e) for e in self.mismatches],
            "skipped_elements": [_element_dict(e) for e in self.skipped],
        }


def _element_dict(e: Element) -> dict[str, Any]:
    return {
        "where": e.where(),
        "index": list(e.index),
        "analytic": e.analytic,
        "numeric": e.numeric,
        "error": e.error,
        "tolerance": e.tolerance,
    }


@dataclass(frozen=True)
class Report:
    """Everything a check found. `ok` is the verdict; str() is the readable table."""

    blocks: list[Block]
    method: str
    method_reason: str
    title: str = "gradient check"
    # What the numbers say about a failure (checks.netcheck.diagnose): the broken
    # equations in backward order.
    findings: list[Finding] = field(default_factory=list)
    # What the numbers of each failing array show, for a black-box check
    # (checks.engine.patterns): at most one Note per array.
    notes: list[Note] = field(default_factory=list)
    # Whether elements left unverified (skipped) still let the report be ok.
    accept_unverified: bool = True

    @property
    def ok(self) -> bool:
        """Every element verified and matched; unverified ones only if accepted."""
        return all(b.ok for b in self.blocks) and (self.accept_unverified
                                                   or self.skipped == 0)

    @property
    def checked(self) -> int:
        """Number of elements compared (skipped ones not included)."""
        return sum(b.checked for b in self.blocks)

    @property
    def skipped(self) -> int:
        return sum(len(b.skipped) for b in self.blocks)

    @property
    def mismatches(self) -> list[Element]:
        return [e for b in self.blocks for e in b.mismatches]

    @property
    def diagnosis(self) -> list[str]:
        """The findings and notes as report lines (diagnosis_lines, note_lines)."""
        return diagnosis_lines(self.findings, self.blocks) + note_lines(self.notes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "title": self.title,
            "method": self.method,
            "method_reason": self.method_reason,
            "checked": self.checked,
            "skipped": self.skipped,
            "mismatched": len(self.mismatches),
            "blocks": [b.as_dict() for b in self.blocks],
            "diagnosis": self.diagnosis,
        }

    def __str__(self) -> str:
        return render(self)


# --- rendering: the text of a report, of its findings, of its mismatches ------------


def render(report: Report) -> str:
    """The readable table: one line per array in backward order, the diagnosis, then
    the mismatched elements in the order of the derivation, the count of subgradients
    verified at kinks, then the skipped elements."""
    head = f"{report.title}: {'OK' if report.ok else 'FAILED'}  (method: {report.method}"
    lines = [head + f" - {report.method_reason})" if report.method_reason else head + ")"]
    lines.append(
        f"{'equation':<8} {'array':<10} {'method':<13} {'worst error':>12} "
        f"{'tolerance':>10} {'err/tol':>8} {'checked':>8} {'skipped':>8}"
    )
    lines.extend(_block_line(b) for b in report.blocks)
    if any(b.method == NOT_GIVEN for b in report.blocks):
        lines.append("delta not given: BP1 and BP2 are checked only through db and dW "
                     "(BP3, BP4), which are built from delta")
    lines.extend(report.diagnosis)
    bad = report.mismatches
    if bad:
        lines.append(f"Mismatched elements: {len(bad)} / {report.checked}")
        for b in sorted(report.blocks, key=_listing_key):
            lines.extend(_mismatch_lines(b))
    subgradients = sum(b.subgradients for b in report.blocks)
    if subgradients:
        lines.append(f"Verified as subgradients at kinks: {subgradients} (the analytic value "
                     "lies between the one-sided derivatives)")
    lines.extend(_unverified_lines(report))
    floors = [b for b in report.blocks if b.floor is not None]
    if floors:
        lines.append("Detection floor (the smallest error in one element, relative to its "
                     "array's largest gradient, that this check catches): "
                     + ", ".join(f"{_label(b, floors)} {b.floor:.1e}" for b in floors))
    return "\n".join(lines)


def _label(b: Block, blocks: Sequence[Block]) -> str:
    """The array's name, with its equation when another block has the same name (the
    cotangents of check_vjp)."""
    return b.name if sum(c.name == b.name for c in blocks) == 1 else f"{b.equation} {b.name}"


def _unverified_lines(report: Report) -> list[str]:
    """The elements not verified: at most 10, each with its reason when it has one and
    the smallest error the check could have seen there."""
    skipped = [e for b in report.blocks for e in b.skipped]
    if not skipped:
        return []
    if not any(e.reason for e in skipped):
        lines = [f"Skipped (not differentiable here): {len(skipped)}"]
        lines.extend("  " + e.where() for e in skipped[:10])
    else:
        verdict = ("accepted (accept_unverified=True)" if report.accept_unverified
                   else "so the check is not ok; accept_unverified=True accepts them")
        lines = [f"Unverified elements: {len(skipped)}, {verdict}"]
        lines.extend(f"  {e.where()}: {e.reason}; the smallest error it could see there: "
                     f"{e.tolerance:.2e}" for e in skipped[:10])
    if len(skipped) > 10:
        lines.append(f"  ... and {len(skipped) - 10} more")
    return lines


def _block_line(b: Block) -> str:
    if b.method == NOT_GIVEN:
        return f"{b.equation:<8} {b.name:<10} {NOT_GIVEN}"
    return (
        f"{b.equation:<8} {b.name:<10} {b.method:<13} {b.worst_error:>12.2e} "
        f"{b.worst_tolerance:>10.2e} {b.worst_ratio:>8.2g} {b.checked:>8} "
        f"{len(b.skipped):>8}" + ("" if b.ok else "  MISMATCH")
        + (f" (follows from {b.follows_from.name})" if b.follows_from else "")
    )


def finding_lines(finding: Finding, indent: str = "  ") -> list[str]:
    """One broken equation: its text, and under it the slip when the numbers show one."""
    return [indent + finding.text] + ([indent + "  " + finding.slip] if finding.slip else [])


def diagnosis_lines(findings: Sequence[Finding], blocks: Sequence[Block]) -> list[str]:
    """The diagnosis as report lines: the broken equations from the output layer down,
    the arrays wrong only as consequences, and what a missing delta leaves open."""
    if not findings:
        return []
    lines = ["Diagnosis (the backward pass, from the output layer down):"]
    for finding in findings:
        lines.extend(finding_lines(finding))
    consequences = [(b, b.follows_from) for b in blocks if b.follows_from is not None]
    if consequences:
        lines.append("  Wrong only because the delta they are built from is wrong: "
                     + ", ".join(f"{b.name} ({b.equation}, from {source.name})"
                                 for b, source in consequences))
    if any(b.method == NOT_GIVEN for b in blocks):
        lines.append("  delta not given: a wrong dW or db may come from BP1/BP2 or from "
                     "BP3/BP4 itself; return delta to tell them apart")
    return lines


def note_lines(notes: Sequence[Note]) -> list[str]:
    """A black-box check's diagnosis: one line per failing array whose numbers show
    a slip."""
    return ["Diagnosis:"] + ["  " + str(n) for n in notes] if notes else []


def headline(report: Report) -> str:
    """The verdict in one line, what a CI shows of a failure (a JUnit failure's message,
    the first line of an assert helper's AssertionError): the first broken equation and
    its slip (a black-box check: the first array's note; without either, the first
    mismatched element in the order of the derivation), then how many elements
    mismatched, and how many of them are NaN or inf."""
    bad = report.mismatches
    if report.ok:
        unverified = f", {report.skipped} unverified (accepted)" if report.skipped else ""
        return f"OK: {report.checked} element{'s' * (report.checked != 1)} verified{unverified}"
    if report.findings:
        first = report.findings[0]
        what = first.text + (f" ({first.slip})" if first.slip else "")
        if len(report.findings) > 1:
            more = len(report.findings) - 1
            what += f", and {more} more broken equation{'s' if more > 1 else ''}"
    elif report.notes:
        what = str(report.notes[0])
    elif bad:
        first_block = min((b for b in report.blocks if b.mismatches), key=_listing_key)
        what = str(first_block.mismatches[0])
    else:
        return (f"elements left unverified: {report.skipped} (accept_unverified=True "
                "accepts them); none mismatched")
    non_finite = sum(not np.isfinite(e.analytic) for e in bad)
    return (f"{what}; {len(bad)} of {report.checked} elements mismatched"
            + (f", {non_finite} of them NaN or inf" if non_finite else ""))


def _listing_key(b: Block) -> tuple[bool, int]:
    """In the order of the derivation (backprop.arrays.listing_key); gradcheck's
    blocks, which have no ArrayId, keep their order."""
    return listing_key(b.id) if b.id is not None else (True, 0)


SHOWN_PER_ARRAY = 3  # mismatched elements listed per array; the rest are counted


def _mismatch_lines(b: Block) -> list[str]:
    """An array's mismatches, worst (error / tolerance) first, at most SHOWN_PER_ARRAY."""
    if not b.mismatches:
        return []
    follows = f", follows from {b.follows_from.name}" if b.follows_from else ""
    lines = [f"  {b.name} ({b.equation}{follows}): {len(b.mismatches)} of {b.checked} "
             "elements"]
    worst = sorted(b.mismatches, key=lambda e: -e.error / max(e.tolerance, 1e-300))
    lines.extend("    " + str(e) for e in worst[:SHOWN_PER_ARRAY])
    if len(worst) > SHOWN_PER_ARRAY:
        lines.append(f"    ... and {len(worst) - SHOWN_PER_ARRAY} more in {b.name}")
    return lines


def compare(
    equation: str,
    name: str,
    layer: int | None,
    method: str,
    analytic: np.ndarray,
    numeric: np.ndarray,
    tolerance: np.ndarray,
    skip: np.ndarray,
    index_names: tuple[str, ...],
    id: ArrayId | None = None,
) -> Block:
    """Apply the closeness rule |analytic - numeric| <= tolerance element by element.

    analytic, numeric, tolerance: float64 arrays of one shape (each front door casts
    its inputs to float64 once, where it takes them).
    """
    assert analytic.dtype == numeric.dtype == tolerance.dtype == np.float64, (
        analytic.dtype, numeric.dtype, tolerance.dtype)
    error = np.abs(analytic - numeric)
    # NaN in either side is a mismatch, never a pass.
    bad = ~(error <= tolerance) & ~skip
    ratio = np.where(skip, 0.0, error / np.maximum(tolerance, np.finfo(np.float64).tiny))
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    worst = np.unravel_index(int(np.argmax(ratio)), ratio.shape) if ratio.size else ()

    def element(idx: tuple[int, ...]) -> Element:
        return Element(equation, name, tuple(int(i) for i in idx), index_names,
                       float(analytic[idx]), float(numeric[idx]), float(error[idx]),
                       float(tolerance[idx]))

    return Block(
        equation=equation,
        name=name,
        layer=layer,
        method=method,
        checked=int(np.sum(~skip)),
        skipped=[element(tuple(i)) for i in np.argwhere(skip)],
        mismatches=[element(tuple(i)) for i in np.argwhere(bad)],
        worst_error=float(error[worst]) if ratio.size else 0.0,
        worst_tolerance=float(tolerance[worst]) if ratio.size else 0.0,
        worst_ratio=float(ratio[worst]) if ratio.size else 0.0,
        worst_numeric=float(numeric[worst]) if ratio.size else 0.0,
        ratios=np.where(skip, np.nan, ratio),
        id=id,
        analytic=analytic,
        numeric=numeric,
        tolerance=tolerance,
    )


NOT_GIVEN = "not given"


def not_given(array: ArrayId) -> Block:
    """The block of an array the implementation did not return (delta, for a backprop
    that keeps only dW and db): nothing checked, nothing failed, method "not given"."""
    return Block(equation=array.equation, name=array.name, layer=array.layer,
                 method=NOT_GIVEN, checked=0, skipped=[], mismatches=[], worst_error=0.0,
                 worst_tolerance=0.0, worst_ratio=0.0, ratios=None, id=array)

"""The verdict of a check: per equation and layer, and per mismatched element.

Closeness rule (one rule, everywhere): an element passes when
|analytic - numeric| <= tolerance, where the tolerance is set per element by
the error model of the check that produced it (see `checks.network` and
`checks.gradcheck`). Elements where the function is not differentiable are
skipped, counted and listed; they never fail a check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


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

    def where(self) -> str:
        idx = ", ".join(f"{k}={i}" for k, i in zip(self.index_names, self.index, strict=True))
        return f"{self.equation} {self.name}[{idx}]"

    def __str__(self) -> str:
        return (
            f"{self.where()}: analytic={self.analytic:.10g} numeric={self.numeric:.10g} "
            f"error={self.error:.2e} > tolerance {self.tolerance:.2e}"
        )


@dataclass
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
    # The kind of array: "delta", "dW" or "db" for check_network, None for gradcheck.
    array: str | None = None

    @property
    def ok(self) -> bool:
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


@dataclass
class Report:
    """Everything a check found. `ok` is the verdict; str() is the readable table."""

    blocks: list[Block]
    method: str
    method_reason: str
    title: str = "gradient check"

    @property
    def ok(self) -> bool:
        return all(b.ok for b in self.blocks)

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
        }

    def __str__(self) -> str:
        head = f"{self.title}: {'OK' if self.ok else 'FAILED'}  (method: {self.method}"
        lines = [head + f" - {self.method_reason})" if self.method_reason else head + ")"]
        lines.append(
            f"{'equation':<8} {'array':<10} {'method':<13} {'worst error':>12} "
            f"{'tolerance':>10} {'err/tol':>8} {'checked':>8} {'skipped':>8}"
        )
        for b in self.blocks:
            if b.method == NOT_GIVEN:
                lines.append(f"{b.equation:<8} {b.name:<10} {NOT_GIVEN}")
                continue
            lines.append(
                f"{b.equation:<8} {b.name:<10} {b.method:<13} {b.worst_error:>12.2e} "
                f"{b.worst_tolerance:>10.2e} {b.worst_ratio:>8.2g} {b.checked:>8} "
                f"{len(b.skipped):>8}" + ("" if b.ok else "  MISMATCH")
            )
        if any(b.method == NOT_GIVEN for b in self.blocks):
            lines.append("delta not given: BP1 and BP2 are checked only through db and dW "
                         "(BP3, BP4), which are built from delta")
        bad = self.mismatches
        total = self.checked
        if bad:
            lines.append(f"Mismatched elements: {len(bad)} / {total}")
            shown = sorted(bad, key=lambda e: -e.error / max(e.tolerance, 1e-300))[:20]
            lines.extend("  " + str(e) for e in shown)
            if len(bad) > len(shown):
                lines.append(f"  ... and {len(bad) - len(shown)} more")
        skipped = [e for b in self.blocks for e in b.skipped]
        if skipped:
            lines.append(f"Skipped (not differentiable here): {len(skipped)}")
            lines.extend("  " + e.where() for e in skipped[:10])
            if len(skipped) > 10:
                lines.append(f"  ... and {len(skipped) - 10} more")
        return "\n".join(lines)


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
    array: str | None = None,
) -> Block:
    """Apply the closeness rule |analytic - numeric| <= tolerance element by element."""
    analytic = np.asarray(analytic, dtype=np.float64)
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
        ratios=np.where(skip, np.nan, ratio),
        array=array,
    )


NOT_GIVEN = "not given"


def not_given(equation: str, array: str, layer: int) -> Block:
    """The block of an array the implementation did not return (delta, for a backprop
    that keeps only dW and db): nothing checked, nothing failed, method "not given"."""
    return Block(equation=equation, name=f"{array}[{layer}]", layer=layer, method=NOT_GIVEN,
                 checked=0, skipped=[], mismatches=[], worst_error=0.0, worst_tolerance=0.0,
                 worst_ratio=0.0, ratios=None, array=array)

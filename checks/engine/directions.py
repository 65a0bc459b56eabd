"""Directions mode: each array checked along a few seeded random directions, and an
array that fails localised by bisection.

For params[p] and a direction d (unit length in units of each element's step
scale, `blackbox.BlackBox.direction`), the analytic side is <g_p, d> and the
numerical side the derivative of f along d: one evaluation of f by complex step,
or the method's stencil along d. The tolerance is the exhaustive one projected:

  tol_d = A_p sum|d| + N_d + atol + rtol |<g_p, d>|

with A_p the analytic side's allowance per element (`elements`), N_d the
directional estimate's own error (complex step: 64 u64 sum|g d| + 4 eps / X_p
sum|d| + underflow; finite differences: `stencils.Reading.error`).

A direction that fails is split: d restricted to each half of its elements (in
flat order) is checked the same way, and each failing half split again, down
to single elements, which are then checked as the exhaustive check does
(`elements.Elements`). So a wrong element is named after O(k + log n)
evaluations of f instead of n. A direction sees an error e in element k as
e |d_k|, |d_k| ~ 1/sqrt(n): the detection floor of a pass is about
tol_d sqrt(n) / max|g_p|, and the report says so (Block.floor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from backprop import Array
from checks.engine.blackbox import GRADIENT_ULPS, NOISE_ULPS, TINY, UNDERFLOW_ULPS, scale
from checks.engine.stencils import U64, read
from checks.report import Block

if TYPE_CHECKING:  # elements calls this module; the type only is needed here
    from checks.engine.elements import Elements

SEED = 1_000  # the directions' seeds are SEED + 1000 p + j, apart from the survey's


@dataclass(frozen=True)
class Projection:
    """One direction's comparison: analytic <g, d>, numeric, and the tolerance."""

    analytic: float
    numeric: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return abs(self.analytic - self.numeric) <= self.tolerance


def unit(shape: tuple[int, ...], seed: int) -> Array:
    """A seeded direction on the unit sphere of an array of this shape."""
    u = np.random.default_rng(seed).standard_normal(shape)
    return u / np.sqrt(float(np.sum(u**2)))


def project(el: Elements, p: int, analytic: Array, d: Array, A_p: float) -> Projection:
    """<analytic, d> against the derivative of f along d (in params[p] only)."""
    full = [np.zeros_like(q) for q in el.box.work]
    full[p] = d
    method = el.method
    X_p = el.box.step_scale(p)
    if method.complex_step:
        h = el.survey.steps[p]
        value = el.box.value(el.box.moved(full, 1j * h), f"{el.box.where[p]} + ih d", False)
        numeric = value.imag / h
        own = (GRADIENT_ULPS * U64 * float(np.sum(np.abs(analytic * d)))
               + NOISE_ULPS * el.survey.eps / X_p * float(np.sum(np.abs(d)))
               + UNDERFLOW_ULPS * TINY / h)
    else:
        h = el.survey.steps[p]
        values = el.box.along(full, h * np.asarray(method.offsets), f"{el.box.where[p]} + t d")
        r = read(method, values, el.center, h, el.survey.eps)
        numeric, own = r.d, r.error
    a = float(np.sum(analytic * d))
    tol = A_p * float(np.sum(np.abs(d))) + own + el.atol + el.rtol * abs(a)
    return Projection(a, float(numeric), tol)


def bisect(el: Elements, p: int, analytic: Array, d: Array, A_p: float) -> list[
        tuple[int, ...]]:
    """The elements of params[p] to which a failing direction d's error is traced:
    halves of d's support checked by projection, recursively, down to single
    elements (returned, to be checked one by one)."""
    support = [tuple(int(i) for i in k) for k in np.argwhere(d != 0)]
    if len(support) == 1:
        return support
    found = []
    for half in (support[: len(support) // 2], support[len(support) // 2:]):
        part = np.zeros_like(d)
        for index in half:
            part[index] = d[index]
        if not project(el, p, analytic, part, A_p).ok:
            found += bisect(el, p, analytic, part, A_p)
    return found


def directional_block(el: Elements, p: int, analytic: Array, k: int, A_p: float,
                      equation: str, name: str) -> tuple[Block, list[tuple[int, ...]]]:
    """params[p] along k seeded directions: the Block (checked = directions that
    passed; floor = the projection's detection floor) and the elements that failing
    directions were traced to, for the caller to check one by one."""
    shape = analytic.shape
    suspects: list[tuple[int, ...]] = []
    floors = []
    passed = 0
    for j in range(k):
        d = unit(shape, SEED + 1000 * p + j) * scale(el.box.work[p], el.box.scales[p])
        got = project(el, p, analytic, d, A_p)
        floors.append(got.tolerance * np.sqrt(d.size))
        if got.ok:
            passed += 1
        else:
            suspects += [i for i in bisect(el, p, analytic, d, A_p) if i not in suspects]
    top = float(np.max(np.abs(analytic), initial=0.0))
    block = Block(equation=equation, name=name, layer=None, method=f"{el.method.name} x{k}",
                  checked=passed, skipped=[], mismatches=[], worst_error=0.0,
                  worst_tolerance=0.0, worst_ratio=0.0,
                  floor=max(floors) / top if top > 0 else None)
    return block, suspects


def element_lines(block: Block, found: Block) -> Block:
    """A directional block with the suspects' exhaustive verdicts folded in."""
    return Block(equation=block.equation, name=block.name, layer=None, method=block.method,
                 checked=block.checked + found.checked, skipped=found.skipped,
                 mismatches=found.mismatches, worst_error=found.worst_error,
                 worst_tolerance=found.worst_tolerance, worst_ratio=found.worst_ratio,
                 floor=block.floor, worst_numeric=found.worst_numeric)



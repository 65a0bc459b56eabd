"""Each element of a black-box gradient: its numerical derivative, tolerance and verdict.

Error model (element k of params[p]; eps, f's error, and the steps from
`checks.engine.blackbox.survey`):

  tol_k = A_p + N_k + atol + rtol G_p
  A_p   = GRADIENT_ULPS (u_a G + eps / X_p)        the analytic side's round-off
  N_k   = complex step: GRADIENT_ULPS (u64 G_p + eps / X_p) + UNDERFLOW_ULPS tiny / h
                        (+ 4/3 |d(h) - d(2h)| at any step but its own, 2^-66)
          finite differences: 4 |trunc| + eps sum|w| / h + |J| / 2  (`stencils.Reading`)

  G    = max |numeric| over every params array: the gradient's scale. A gradient
         summed from terms of size G rounds like u G, however small the sum: the
         cancellation that a floor on the array's own largest element misses
         (mean(A - Y) = 6e-5 from terms of size 0.5).
  eps / X_p, X_p = max `blackbox.scale` over params[p] (max(1, |params|), or the
         array's size where that is tiny): f's error over a move of the size of the
         params. f's round-off is u times the terms f summed, and a
         derivative's terms are those over the params' scale: this is the floor
         of what either side can resolve, measured, not assumed (a float32 f
         has eps ~ 6e-8 |terms|, so its gradient is allowed float32 round-off).
  u_a  = the unit roundoff of the analytic gradient's dtype (or the params', if
         coarser); G_p = max |numeric| over params[p]; tiny = 2^-1022.

Verdicts. An element within tol_k is *verified*, unless tol_k exceeds
VERIFY_LIMIT G: then f is too noisy there to verify anything, and it is
*unverified*, with that reason and tol_k as the smallest error it could have
seen. An element whose finite-difference stencil reaches a kink (the jump test,
or the estimate at a quarter of the step not where step halving predicts) is
read again at steps 4x smaller until f is smooth within it (the kink is then
outside: a jump that stays as the step shrinks is a kink, an error that grows
like noise / h is noise), and judged by that reading; if f is not smooth at any
step the noise allows, it is checked as a *subgradient*: the one-sided
difference quotients D- = (f(x) - f(x - h)) / h and D+ = (f(x + h) - f(x)) / h are
each a convex combination of f's one-sided derivatives when one kink lies
between, so the analytic value must lie in [min(D-, D+), max(D-, D+)] within
their truncation (step halving) and round-off 2 eps / h. Noise is not taken for
a kink: the jump test allows for the measured noise. A complex-step estimate
that fails an element is confirmed by Richardson at that element in real
arithmetic first: a kink there makes it a subgradient check, and a smooth
disagreement means f is not complex-safe (`NotComplexSafe`; the front door then
reads everything again in real arithmetic).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from backprop import Array
from checks.engine import directions
from checks.engine.blackbox import (
    GRADIENT_ULPS,
    NOISE_ULPS,
    TINY,
    UNDERFLOW_ULPS,
    BlackBox,
    Survey,
    best_step,
    in_real_arithmetic,
    quiet,
    scale,
)
from checks.engine.stencils import (
    CENTRAL,
    COMPLEX_STEP,
    RICHARDSON,
    U64,
    Method,
    Reading,
    read,
    steady,
)
from checks.report import Block, compare

VERIFY_LIMIT = 0.1  # a tolerance above this fraction of G verifies nothing
REFINE = 4.0  # a reading whose error is this many times its round-off is read at h/4
EXAMINE_STEPS = 14  # steps 4x apart at which a kinked element is read again
TOO_NOISY = "f too noisy here for the check to see an error below the tolerance"
KINK = "a kink the one-sided quotients cannot resolve"
NONDETERMINISTIC = "grad is nondeterministic: two calls at the same params differ here"


class NotComplexSafe(Exception):
    """Complex step and real arithmetic disagree where f is smooth: f mishandles Im."""


@dataclass
class Outcome:
    """One array's elements as checked: the numbers `compare` takes, and which were
    verified as subgradients, or left unverified (and why)."""

    numeric: Array
    tol: Array
    subgradient: Array
    reasons: dict[tuple[int, ...], str]


@dataclass
class Ticker:
    """progress(done, total) for the caller, called every TICK elements and at the end."""

    progress: Callable[[int, int], None] | None
    total: int
    done: int = 0

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.progress is not None and (self.done % TICK < n or self.done >= self.total):
            self.progress(min(self.done, self.total), self.total)


TICK = 64  # elements between two calls of progress


@dataclass(frozen=True)
class Elements:
    """f as a `BlackBox`, the `Survey` of it, the user's step (None: the survey's),
    f(params), and the widening rtol/atol."""

    box: BlackBox
    survey: Survey
    center: float
    rtol: float
    atol: float
    ticker: Ticker | None = None
    steps: dict[tuple[int, str], float] = field(default_factory=dict, compare=False)

    @property
    def method(self) -> Method:
        return self.survey.method

    def fd_step(self, p: int, method: Method) -> float:
        """The base step of params[p] for a finite-difference method (found once per
        array and method: every element examined in real arithmetic needs it)."""
        if method is self.method:
            return self.survey.steps[p]
        if (p, method.name) not in self.steps:
            self.steps[p, method.name] = best_step(self.box, p, method, self.survey.eps)
        return self.steps[p, method.name]

    def read(self, p: int, index: tuple[int, ...], method: Method, base: float,
             shrink: float = 1.0) -> Reading:
        """A finite-difference stencil at element index, at base * `scale`(x) / shrink."""
        h = base * self.box.step_scale(p, index) / shrink
        values = self.box.evaluate(p, index, h * np.asarray(method.offsets)).real
        return read(method, values, self.center, h, self.survey.eps)

    def complex_step(self, p: int, index: tuple[int, ...], h: float,
                     own: bool) -> tuple[float, float]:
        """Im f(x + ih) / h at h times `scale`(x), and its error: the underflow of Im
        (UNDERFLOW_ULPS tiny / h), and unless own the truncation, estimated from 2h."""
        h = h * self.box.step_scale(p, index)
        values = self.box.evaluate(p, index, 1j * h * np.array([1.0] if own else [1.0, 2.0]),
                                   hushed=True)
        d = float(values[0].imag / h)
        # Im f(x + ih)/h = f' - h^2 f'''/6 + ...: at 2h the error is 4x, the change 3x.
        truncation = 0.0 if own else 4 * abs(d - values[1].imag / (2 * h)) / 3
        return d, truncation + UNDERFLOW_ULPS * TINY / h

    def numerics(self, p: int, only: list[tuple[int, ...]] | None = None,
                 fill: Array | None = None) -> tuple[Array, Array, Array]:
        """params[p]'s numerical derivatives, their own errors, and the jump J where
        the stencil reaches a kink (0 elsewhere): at every element, or only at those
        listed (the others hold fill, the analytic values, with no error)."""
        shape = self.box.work[p].shape
        numeric = np.zeros(shape) if fill is None else np.nan_to_num(fill.copy())
        err, jumps = np.zeros(shape), np.zeros(shape)
        h = self.survey.steps[p]
        with quiet():
            self.fill(p, numeric, err, jumps, h, only)
        if self.method.complex_step:
            G_p = float(np.max(np.abs(numeric), initial=0.0))
            err += GRADIENT_ULPS * U64 * G_p
        return numeric, err, jumps

    def fill(self, p: int, numeric: Array, err: Array, jumps: Array, h: float,
             only: list[tuple[int, ...]] | None) -> None:
        """`numerics`' loop over the elements (inside `quiet`)."""
        for index in np.ndindex(*numeric.shape) if only is None else only:
            if self.ticker is not None:
                self.ticker.advance()
            if self.method.complex_step:
                numeric[index], err[index] = self.complex_step(
                    p, index, h, h == self.method.step(U64))
            else:
                r = self.refined(p, index, self.read(p, index, self.method, h), h)
                numeric[index], err[index] = r.d, r.error
                jumps[index] = r.jump if r.kinked else 0.0

    def refined(self, p: int, index: tuple[int, ...], r: Reading, h: float) -> Reading:
        """A smooth reading whose error is mostly truncation (over REFINE times its
        round-off: the array's step is too large for this element's curvature) read
        again at h/4, and the better of the two kept when they agree."""
        if r.kinked or r.error <= REFINE * r.rounding:
            return r
        fine = self.read(p, index, self.method, h, shrink=4.0)
        if fine.kinked or not steady(r, fine, self.method.order) or fine.error >= r.error:
            return r
        return fine

    def redo_underflowing(self, p: int, numeric: Array) -> tuple[Array, Array] | None:
        """Complex step again at a larger step when Im f(x + ih) comes near underflow:
        h G_p below 2^40 tiny (a loss scaled by 1e-290), where the underflow allowance
        UNDERFLOW_ULPS tiny / h is no longer negligible. The step is then the least
        power of two that keeps Im f 2^42 tiny, its truncation estimated from 2h."""
        G_p = float(np.max(np.abs(numeric), initial=0.0))
        X = float(np.min(scale(self.box.work[p], self.box.scales[p])))
        h = self.survey.steps[p]
        if not self.method.complex_step or G_p == 0 or h * X * G_p >= TINY * 2.0**40:
            return None
        h = float(2.0 ** np.ceil(np.log2(TINY * 2.0**42 / (G_p * X))))
        shape = self.box.work[p].shape
        numeric, err = np.zeros(shape), np.zeros(shape)
        with quiet():
            for index in np.ndindex(*shape):
                numeric[index], err[index] = self.complex_step(p, index, h, own=False)
        return numeric, err + GRADIENT_ULPS * U64 * G_p

    def subgradient(self, p: int, index: tuple[int, ...], h: float) -> tuple[
            float, float, float]:
        """The one-sided quotients' interval at element index at step h (module
        docstring): (min(D-, D+), max(D-, D+), their error: truncation + 2 eps / h)."""
        up, down, up2, down2 = self.box.evaluate(p, index, h * np.array([1.0, -1.0, 2.0, -2.0])
                                                 ).real
        right, left = (up - self.center) / h, (self.center - down) / h
        right2, left2 = (up2 - self.center) / (2 * h), (self.center - down2) / (2 * h)
        # Each quotient is a convex combination of the one-sided derivatives plus
        # curvature h f''/2; the extrapolations 2 D(h) - D(2h) remove the curvature of
        # a smooth side. The hull of all four holds both sides' derivatives.
        quotients = (right, left, 2 * right - right2, 2 * left - left2)
        # round-off: eps on f(x) and on f(x + h), f(x + 2h), at most 5 eps / h in any
        return min(quotients), max(quotients), 5 * self.survey.eps / h

    def examine(self, p: int, index: tuple[int, ...], numeric: float, analytic: float,
                jump: float) -> Reading | float:
        """A failing element, or one whose stencil reaches a kink (of jump J), read
        again at steps 4x smaller until f is smooth within the stencil (no jump, and
        the estimate at a quarter of the step where step halving predicts): that
        Reading, for the element to be judged by. The search ends where the
        reading's noise could no longer show the kink seen so far (its jump, or
        what it moved the estimate by): noise never passes for smoothness. A
        complex-step estimate is so confirmed in real arithmetic (module
        docstring). No smooth step: the step at which to check a subgradient."""
        method = CENTRAL if self.method is CENTRAL else RICHARDSON
        h = self.fd_step(p, method)
        x = self.box.step_scale(p, index)
        coarse = self.read(p, index, method, h)
        kinks = int(coarse.kinked)  # readings so far whose jump test fired
        seen = abs(coarse.jump) * coarse.kinked  # the largest jump they saw
        for _ in range(EXAMINE_STEPS):
            fine = self.read(p, index, method, h, shrink=4.0)
            effect = max(abs(coarse.jump) * coarse.kinked, abs(coarse.d - fine.d), abs(jump))
            if not fine.kinked and steady(coarse, fine, method.order):
                # Smooth at h/4. Blame the gradient only where that reading would have
                # shown the kink seen at h; a jump seen at the first step only, which
                # a smooth f's high orders can fake at a large step, is settled by
                # the finer reading agreeing with the gradient.
                if kinks == 0:  # no kink seen: the reading with the smaller error
                    best = coarse if coarse.error <= fine.error else fine
                    return self.confirmed(p, index, best, numeric, analytic)
                if not coarse.kinked:  # just past a kink: the step that stays clear of it
                    return self.confirmed(p, index, fine, numeric, analytic)
                apart = abs(analytic - fine.d)
                if (2 * fine.jump_noise < abs(coarse.jump)
                        or (kinks == 1 and apart <= fine.error)
                        or apart > fine.error + 2 * seen):  # more than a kink can explain
                    return self.confirmed(p, index, fine, numeric, analytic)
                return h * x
            kinks += fine.kinked
            seen = max(seen, abs(fine.jump) * fine.kinked)
            if fine.jump_noise > effect:
                return h * x  # a smaller step could not tell that kink from noise
            h, coarse = h / 4, fine
        return h * x

    def confirmed(self, p: int, index: tuple[int, ...], coarse: Reading, numeric: float,
                  analytic: float) -> Reading:
        """A smooth reading, after confirming a complex-step estimate by it."""
        if (self.method.complex_step and abs(analytic - coarse.d) <= coarse.error
                and abs(numeric - coarse.d) > coarse.error):
            raise NotComplexSafe(
                f"complex step gave {numeric:.10g} at {self.box.where[p]}[{index}], real "
                f"arithmetic (Richardson) {coarse.d:.10g} +- {coarse.error:.2g}: f drops or "
                "mishandles Im somewhere (abs, norm, var, conj, a cast to real?)")
        return coarse

    def check(self, analytic: list[Array], u_a: list[float], names: list[str],
              equation: str, again: list[Array] | None = None,
              directions: int | None = None) -> list[Block]:
        """Every params[p]'s analytic derivative (float64; u_a[p] its unit roundoff)
        against its numerical one; rows read `equation names[p][i0=.., ..]`. again:
        the analytic derivatives of a second call at the same params, to see a
        nondeterministic grad (None: not asked). directions: check each array along
        that many seeded directions instead of element by element."""
        if directions is not None:
            return self.along_directions(analytic, u_a, names, equation, directions)
        readings = []
        for p in range(len(self.box.work)):
            numeric, err, jumps = self.numerics(p)
            redone = self.redo_underflowing(p, numeric)
            if redone is not None:
                numeric, err = redone
            readings.append((numeric, err, jumps))
        G = max(float(np.max(np.abs(n), initial=0.0)) for n, _, _ in readings)
        blocks = []
        for p, (numeric, err, jumps) in enumerate(readings):
            outcome, G_p = self.judged(p, analytic[p], u_a[p], numeric, err, jumps, G)
            if again is not None:
                self.nondeterministic(outcome, analytic[p], again[p], u_a[p], G, p)
            blocks.append(self.block(p, analytic[p], outcome, equation, names[p], G_p or G))
        return blocks

    def allowance(self, p: int, u_a: float, G: float) -> tuple[float, float]:
        """(A_p, the noise floor eps / X_p part of it): the analytic side's round-off."""
        X_p = self.box.step_scale(p)
        floor = NOISE_ULPS * self.survey.eps / X_p
        return GRADIENT_ULPS * u_a * G + floor, floor

    def judged(self, p: int, analytic: Array, u_a: float, numeric: Array, err: Array,
               jumps: Array, G: float) -> tuple[Outcome, float]:
        """params[p]'s Outcome under the error model, and G_p."""
        A_p, floor = self.allowance(p, u_a, G)
        G_p = float(np.max(np.abs(numeric), initial=0.0))
        if self.method.complex_step:
            err = err + floor
        allowed = A_p + self.atol + self.rtol * G_p
        return self.outcome(p, analytic, numeric, allowed + err, jumps, allowed, G), G_p

    def nondeterministic(self, out: Outcome, analytic: Array, again: Array, u_a: float,
                         G: float, p: int) -> None:
        """Elements whose two calls of grad differ beyond round-off: unverified."""
        A_p, _ = self.allowance(p, u_a, G)
        changed = ~(np.abs(analytic - again) <= A_p) & np.isfinite(analytic)
        out.reasons.update({tuple(int(i) for i in k): NONDETERMINISTIC
                            for k in np.argwhere(changed)})

    def along_directions(self, analytic: list[Array], u_a: list[float], names: list[str],
                         equation: str, k: int) -> list[Block]:
        """Each array along k seeded directions, failing ones bisected down to the
        elements to check one by one (`checks.engine.directions`). G, the gradient's
        scale, is the analytic side's here (the numerical one is not computed)."""
        G = max(float(np.max(np.abs(a[np.isfinite(a)]), initial=0.0)) for a in analytic)
        blocks = []
        for p in range(len(self.box.work)):
            A_p, _ = self.allowance(p, u_a[p], G)
            block, suspects = directions.directional_block(self, p, analytic[p], k, A_p,
                                                           equation, names[p])
            if suspects:
                numeric, err, jumps = self.numerics(p, suspects, analytic[p])
                outcome, G_p = self.judged(p, analytic[p], u_a[p], numeric, err, jumps, G)
                outcome.reasons = {i: r for i, r in outcome.reasons.items() if i in suspects}
                found = self.block(p, analytic[p], outcome, equation, names[p], G_p or G)
                block = directions.element_lines(
                    block, replace(found, checked=len(suspects) - len(found.skipped)))
            blocks.append(block)
        return blocks

    def outcome(self, p: int, analytic: Array, numeric: Array, tol: Array, jumps: Array,
                allowed: float, G: float) -> Outcome:
        """Each element's verdict (module docstring). allowed: what the analytic side
        is allowed beyond the numerical side's error (A_p + atol + rtol G_p)."""
        out = Outcome(numeric.copy(), tol.copy(), np.zeros(numeric.shape, dtype=bool), {})
        fails = ~(np.abs(analytic - numeric) <= tol) & np.isfinite(analytic)
        for i in np.argwhere((jumps != 0) | fails):
            index = tuple(int(k) for k in i)
            seen = self.examine(p, index, float(numeric[index]), float(analytic[index]),
                                float(jumps[index]))
            if isinstance(seen, Reading):
                if not self.method.complex_step:  # judged by the smooth reading
                    out.numeric[index], out.tol[index] = seen.d, seen.error + allowed
                continue
            # At the step the kink was last seen, or larger, up to the array's own,
            # so that round-off (5 eps / h) stays a 16th of what would still verify.
            x = self.box.step_scale(p, index)
            base = self.fd_step(p, CENTRAL if self.method is CENTRAL else RICHARDSON) * x
            h = min(base, max(seen, 16 * 5 * self.survey.eps / self.limit(G)))
            lo, hi, error = self.subgradient(p, index, h)
            out.numeric[index] = np.clip(analytic[index], lo, hi)
            out.tol[index] = error + allowed
            out.subgradient[index] = True
            inside = abs(analytic[index] - out.numeric[index]) <= out.tol[index]
            if error > self.limit(G) and inside:
                out.reasons[index] = KINK
        passed = np.abs(analytic - out.numeric) <= out.tol
        for i in np.argwhere((out.tol > self.limit(G)) & passed):
            index = tuple(int(k) for k in i)
            out.reasons.setdefault(index, TOO_NOISY)
        return out

    @staticmethod
    def limit(G: float) -> float:
        """The largest tolerance that still verifies: VERIFY_LIMIT G, and never less
        than complex step's own underflow floor (where the gradient is 0 everywhere,
        agreeing to within that is all a check can show)."""
        return VERIFY_LIMIT * G + UNDERFLOW_ULPS * TINY / COMPLEX_STEP.step(U64)

    def block(self, p: int, analytic: Array, out: Outcome, equation: str, name: str,
              G_p: float) -> Block:
        """The Block of params[p]: unverified elements skipped with their reason, the
        subgradients counted, and the detection floor max tol / G_p over the rest."""
        shape = analytic.shape
        skip = np.zeros(shape, dtype=bool)
        for index in out.reasons:
            skip[index] = True
        names = tuple(f"i{d}" for d in range(len(shape)))
        block = compare(equation, name, None, self.method.name, analytic, out.numeric,
                        out.tol, skip, names)
        verified = ~skip & np.isfinite(analytic)
        floor = (float(np.max(out.tol[verified])) / G_p if np.any(verified) and G_p > 0
                 else None)
        return replace(block, skipped=[replace(e, reason=out.reasons[e.index])
                                       for e in block.skipped],
                       subgradients=int(np.sum(out.subgradient & verified)), floor=floor)


def unit_roundoff(*dtypes: np.dtype[Any]) -> float:
    """The unit roundoff of the coarsest of the dtypes (float64's if none is floating)."""
    return max([float(np.finfo(d).eps) / 2 for d in dtypes if d.kind == "f"] + [U64])


def judge(box: BlackBox, found: Survey, center: float, rtol: float, atol: float,
          analytic: list[Array], u_a: list[float], names: list[str], equation: str,
          again: list[Array] | None, directions: int | None,
          ticker: Ticker | None = None) -> tuple[list[Block], Survey]:
    """`Elements.check`, read again in real arithmetic if complex step turns out not
    to be safe (`NotComplexSafe`, raised by complex step only: once at most); the
    blocks and the survey they were read with."""
    try:
        return Elements(box, found, center, rtol, atol, ticker).check(
            analytic, u_a, names, equation, again, directions), found
    except NotComplexSafe as exc:
        found = in_real_arithmetic(box, found, str(exc))
        return Elements(box, found, center, rtol, atol, ticker).check(
            analytic, u_a, names, equation, again, directions), found

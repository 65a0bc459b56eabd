"""A function known only as f: its numerical derivatives element by element, their
tolerance, the kink re-reads and the complex-safety probe.

Shared by every front door that is given f as a black box: gradcheck (f -> a
scalar), and next a vector-valued check_vjp (which differentiates <v, f>). f is
called only on moved float64 copies of the params (`BlackBox`); the front door
brings what only it knows: f's output as one number (or the error saying why
not), the arrays' names, and the label of the report's rows.

Error model (tolerance of element k of params[p]):
  tol_k = GRADIENT_ULPS u G_p + numeric_k + atol + rtol * G_p
where G_p = max(|analytic|, |numeric|) over the array params[p] (the array's
scale, so tiny elements neither fail falsely nor escape), GRADIENT_ULPS u = 64 u
the round-off allowed to the analytic gradient in the params' dtype (u = 2^-53
for float64, 2^-24 for float32), and numeric_k the error of the numerical
derivative: 64 u_64 G_p for complex step (no cancellation, so only round-off of
the same kind); for finite differences `stencils.Reading.error`: 4x the
truncation error estimated by step halving, the round-off of f
(`stencils.f_roundoff`: 16 u_64 |f|) divided by the step, and half the jump test
J (a kink at x too small to be seen moves the estimate by half its jump).
The reference is always computed in float64 (complex128). rtol and atol
default to 0 and only ever widen the tolerance.

Kinks (relu, max, |x|). A finite difference whose stencil reaches a kink is
wrong by up to half the jump of f' there. Such an element is skipped, "not
differentiable here", never failed: when its jump test fires
(`Reading.kinked`), or when it would fail and its estimate at a quarter of the
step is not where step halving predicts (`stencils.steady`). Complex step
evaluates f on the real point's side of every kink, so only a kink at x itself
(z exactly 0) can fool it: an element that would fail is then read by central
differences, whose stencil is 8e-6 wide, and skipped if they show a kink. The
tests look at f alone, so a wrong gradient away from kinks still fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from backprop import Array
from backprop import validate as v
from checks.engine.probe import probe
from checks.engine.stencils import (
    CENTRAL,
    COMPLEX_STEP,
    U64,
    Method,
    Reading,
    f_roundoff,
    read,
    steady,
)
from checks.report import Block, compare

# Round-off allowed to a computed gradient, in units of its dtype's unit roundoff:
# 64 u G for the analytic side (u of the params' dtype) and 64 u64 G for complex
# step (float64, and like the analytic side free of cancellation).
GRADIENT_ULPS = 64

Call = Callable[[list[Array]], Any]
# f's output as one number: (output, where f was evaluated, must it be real) -> the
# number, or TypeError/ValueError saying what is wrong with the output there.
Number = Callable[[Any, str, bool], complex]


def check_tolerances(rtol: float, atol: float) -> None:
    """rtol and atol: finite numbers >= 0 (TypeError for a non-number)."""
    v.check_number(rtol, "rtol")
    v.check_number(atol, "atol")


@dataclass(frozen=True)
class BlackBox:
    """f at the point work: call (a list of arrays -> f's output, as the front
    door's user gives it), number (that output as one number, `Number`), the
    float64 params (work) and each array's name in an error message (where)."""

    call: Call
    number: Number
    work: list[Array]
    where: tuple[str, ...]

    def evaluate(self, p: int, index: tuple[int, ...], offsets: Array) -> Array:
        """f with work[p][index] moved by each offset (on copies)."""
        values = []
        for offset in offsets:
            moved = [q.copy() for q in self.work]
            if np.iscomplexobj(offset):
                moved[p] = moved[p].astype(np.complex128)
            moved[p][index] += offset
            values.append(self.number(self.call(moved), f"{self.where[p]}[{index}] + {offset}",
                                      not np.iscomplexobj(offset)))
        return np.array(values)

    def complex_safe(self) -> tuple[bool, str]:
        """`checks.engine.probe.probe` along a seeded random direction of every params[p]."""
        rng = np.random.default_rng(0)
        u = [rng.standard_normal(q.shape) for q in self.work]

        def at(offset: complex) -> Any:
            return self.call([q + offset * d for q, d in zip(self.work, u, strict=True)])

        def along(method: Method) -> tuple[Array, Array]:
            h = method.step(U64)
            if method.complex_step:
                value = at(1j * h)
                number = self.number(value, "params + ih*u", False)
                real = not np.iscomplexobj(np.asarray(value))
                return np.array([number.real if real else number]), np.zeros(1, dtype=bool)
            values = [self.number(at(c * h), "probe", True) for c in method.offsets]
            return np.array(values), np.zeros(1, dtype=bool)

        return probe(along, lambda values: f_roundoff(np.abs(values[0])),
                     lambda derivative: GRADIENT_ULPS * U64 * np.abs(derivative))


@dataclass(frozen=True)
class Numerics:
    """What every element's numerical derivative needs: f as a `BlackBox`, the
    method and base step (None: the method's own), f(params), and the tolerances."""

    box: BlackBox
    method: Method
    step: float | None
    center: float
    rtol: float
    atol: float

    def complex_step(self, p: int, index: tuple[int, ...]) -> tuple[float, float]:
        """Im f(x + ih) / h and its error: 0 at the method's own h, else the
        truncation error h^2 |f^(3)| / 6 estimated from the same step at 2h."""
        h = COMPLEX_STEP.step(U64) if self.step is None else self.step
        values = self.box.evaluate(p, index, 1j * h * np.array([1.0] if self.step is None
                                                               else [1.0, 2.0]))
        d = float(values[0].imag / h)
        if self.step is None:
            return d, 0.0
        # Im f(x + ih)/h = f' - h^2 f^(3)/6 + ...: at 2h the error is 4x, the change 3x.
        return d, 4 * abs(d - values[1].imag / (2 * h)) / 3

    def read(self, p: int, index: tuple[int, ...], method: Method,
             shrink: float = 1.0) -> Reading:
        """A finite-difference stencil at element index, at its step / shrink: the
        base step times max(1, |x|) rounded up to a power of two, so x + ch is exact.
        The base step is the user's for the chosen method, else the method's own."""
        base = self.step if self.step is not None and method is self.method else method.step(U64)
        x = float(self.box.work[p][index])
        h = base * 2.0 ** np.ceil(np.log2(max(1.0, abs(x)))) / shrink
        values = self.box.evaluate(p, index, h * np.asarray(method.offsets)).real
        return read(method, values, self.center, h)

    def kinked(self, p: int, index: tuple[int, ...], coarse: Reading | None) -> bool:
        """Does a failing element's stencil reach a kink? Its finite-difference
        reading (coarse), or for complex step central differences', read again at
        h/4: the jump test on either, or the two-steps test (`stencils.steady`).

        Complex step is exact on either side of a kink, so only one at x itself
        can make it fail: central's stencil, 8e-6 wide, looks for that one.
        """
        method = self.method if coarse is not None else CENTRAL
        coarse = coarse or self.read(p, index, method)
        fine = self.read(p, index, method, shrink=4.0)
        return coarse.kinked or fine.kinked or not steady(coarse, fine, method.order)

    def block(self, p: int, analytic: Array, dtype: np.dtype[Any], equation: str,
              name: str) -> Block:
        """Compare params[p]'s analytic derivative (float64, in dtype originally)
        with its numerical one; the report's rows read `equation name[i0=.., ..]`."""
        shape = self.box.work[p].shape
        numeric, err = np.zeros(shape), np.zeros(shape)
        kinked = np.zeros(shape, dtype=bool)
        readings: dict[tuple[int, ...], Reading] = {}
        for index in np.ndindex(*shape):
            if self.method.complex_step:
                numeric[index], err[index] = self.complex_step(p, index)
            else:
                r = readings[index] = self.read(p, index, self.method)
                numeric[index], err[index], kinked[index] = r.d, r.error, r.kinked
        G = max(float(np.max(np.abs(analytic), initial=0.0)),
                float(np.max(np.abs(numeric), initial=0.0)))
        u_a = float(np.finfo(dtype).eps) / 2
        numeric_round = GRADIENT_ULPS * U64 * G if self.method.complex_step else 0.0
        tol = GRADIENT_ULPS * u_a * G + numeric_round + err + self.atol + self.rtol * G
        # Only an element that would fail is examined further (cost), but the
        # verdict depends on f alone.
        for i in np.argwhere(~(np.abs(analytic - numeric) <= tol) & ~kinked):
            index = tuple(int(k) for k in i)
            kinked[index] = self.kinked(p, index, readings.get(index))
        names = tuple(f"i{d}" for d in range(len(shape)))
        return compare(equation, name, None, self.method.name, analytic, numeric, tol, kinked,
                       names)

"""A function known only as f: what can be measured of it before any element is checked.

Shared by every front door that is given f as a black box: gradcheck (f -> a
scalar), and next a vector-valued check_vjp (which differentiates <v, f>). f is
called only on moved float64 copies of the params (`BlackBox`); the front door
brings what only it knows: f's output as one number (or the error saying why
not), and the arrays' names.

`survey` measures, with a few dozen evaluations of f along seeded random
directions, what the elements' checks (`checks.engine.elements`) then rely on:
  noise   f's noise level (`checks.engine.noise`, ECnoise), so that round-off of
          a float32 f, or cancellation inside a float64 one, is never read as
          signal (a kink, a wrong gradient);
  method  "auto": complex step when the probe finds f complex-safe along a
          direction of every params array (one random direction of all of them
          can miss the one array f mishandles), else Richardson;
  steps   for finite differences, each array's base step: the one of a ladder
          of steps (4x apart) whose error bound, 4 |truncation| (step halving)
          + noise x sum|w| / h, is least for a few of its elements: the balance
          of truncation and noise that Moré & Wild (2012) derive for a noisy f,
          read off f itself rather than from an assumed curvature. A float32 f
          is so differentiated at a float32-sized step.
Warnings that complex input raises inside f (numpy's ComplexWarning, a
framework's cast warning) are the probe's business and are not shown.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from backprop import Array
from backprop import validate as v
from checks.engine.noise import NOISE_POINTS, Noise, measure
from checks.engine.probe import probe
from checks.engine.stencils import (
    COMPLEX_STEP,
    METHODS,
    RICHARDSON,
    U64,
    Method,
    check_method,
    combine,
    f_roundoff,
)

# Round-off allowed to a computed gradient, in units of its dtype's unit roundoff
# (`checks.engine.elements` states the whole rule).
GRADIENT_ULPS = 64
UNDERFLOW_ULPS = 4
# f's error eps over the params' scale, in this many: the floor of both sides' round-off
NOISE_ULPS = 4
TINY = float(np.finfo(np.float64).tiny)
# The measured noise s is one standard deviation, from a handful of values: one
# value of f is taken to be off by up to NOISE_SAFETY s.
NOISE_SAFETY = 8.0
# The ladder of finite-difference steps tried along each array's direction.
LADDER_TOP, LADDER_SHRINK, LADDER_STEPS = 2.0**-2, 4.0, 13
PROBE_SHIFT = 2.0**-10
LADDER_SLACK = 4.0
LADDER_ELEMENTS = 3
TINY_PARAMS = float(np.sqrt(np.finfo(np.float64).eps))  # 1.5e-8 (see `scale`)

Call = Callable[[list[Array]], Any]
# f's output as one number: (output, where f was evaluated, must it be real) -> the
# number, or TypeError/ValueError saying what is wrong with the output there.
Number = Callable[[Any, str, bool], complex]


@contextmanager
def quiet() -> Iterator[None]:
    """Warnings not shown: around f's complex evaluations, whose warnings (numpy's
    ComplexWarning, a framework's cast warning) are the probe's business, not the
    user's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def check_tolerances(rtol: float, atol: float) -> None:
    """rtol and atol: finite numbers >= 0 (TypeError for a non-number)."""
    v.check_number(rtol, "rtol")
    v.check_number(atol, "atol")


def array_scale(array: Array) -> float:
    """S of an array (`scale`): 1, or max |array| where the whole array is below
    TINY_PARAMS."""
    top = float(np.max(np.abs(array), initial=0.0))
    return top if 0 < top < TINY_PARAMS else 1.0


def scale(x: Array | float, S: float) -> Array:
    """max(S, |x|) rounded up to a power of two: what every step at x, an element of
    an array of scale S (`array_scale`), is multiplied by (a power of two keeps
    x + c h exact). S = 1 unless the whole array is tiny: params of size 1e-300
    are moved by steps of their own size, not by 1e-3, which would throw f far
    off; params of ordinary small sizes, biases of 0.01, keep S = 1 (f varies
    over distances of order 1 in them as much as in any)."""
    return 2.0 ** np.ceil(np.log2(np.maximum(S, np.abs(x))))


@dataclass(frozen=True)
class BlackBox:
    """f at the point work: call (a list of arrays -> f's output, as the front
    door's user gives it), number (that output as one number, `Number`), the
    float64 params (work) and each array's name in an error message (where)."""

    call: Call
    number: Number
    work: list[Array]
    where: tuple[str, ...]

    @cached_property
    def scales(self) -> tuple[float, ...]:
        """Each array's S (`array_scale`), computed once."""
        return tuple(array_scale(q) for q in self.work)

    def step_scale(self, p: int, index: tuple[int, ...] | None = None) -> float:
        """`scale` of work[p][index], or (index None) the largest of the array's."""
        x = self.work[p][index] if index is not None else np.max(np.abs(self.work[p]))
        return float(scale(x, self.scales[p]))

    def evaluate(self, p: int, index: tuple[int, ...], offsets: Array,
                 hushed: bool = False) -> Array:
        """f with work[p][index] moved by each offset (on copies). hushed: the caller
        already keeps complex input's warnings from the user (`quiet`)."""
        real = not np.iscomplexobj(offsets)
        values = []
        for offset in offsets:
            moved = [q.copy() if k != p else q.astype(np.complex128 if not real else q.dtype)
                     for k, q in enumerate(self.work)]
            moved[p][index] += offset
            at = f"{self.where[p]}[{index}] + {offset}"
            values.append(self.number(self.call(moved), at, real) if real or hushed
                          else self.value(moved, at, real))
        return np.array(values)

    def value(self, arrays: list[Array], at: str, real: bool) -> complex:
        """f(arrays) as one number; warnings that complex input raises are not shown."""
        if real:
            return self.number(self.call(arrays), at, True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.number(self.call(arrays), at, False)

    def direction(self, p: int | None) -> list[Array]:
        """A seeded random direction: in params[p] only (p None, or past the last
        array: in all, seeded by p), of unit length in units of each element's step
        `scale` (so params of size 1e-100 move by 1e-100 times as much)."""
        rng = np.random.default_rng(0 if p is None else p + 1)
        p = None if p is not None and p >= len(self.work) else p
        u = [rng.standard_normal(q.shape) if p in (None, k) else np.zeros(q.shape)
             for k, q in enumerate(self.work)]
        norm = np.sqrt(sum(float(np.sum(e**2)) for e in u))
        return [e / norm * scale(q, S) for e, q, S in zip(u, self.work, self.scales, strict=True)]

    def moved(self, d: list[Array], t: complex) -> list[Array]:
        """The params moved by t along direction d."""
        return [q + t * e for q, e in zip(self.work, d, strict=True)]

    def along(self, d: list[Array], offsets: Array, what: str) -> Array:
        """f at work + t d for each real offset t."""
        return np.array([self.value(self.moved(d, t), what, True) for t in offsets]).real

    def along_far(self, d: list[Array], offsets: Array, what: str) -> Array | None:
        """`along`, or None where f fails or is not finite: a far point may leave f's
        domain, and only the survey moves that far."""
        try:
            return self.along(d, offsets, what)
        except (TypeError, ValueError, ArithmeticError):
            return None


@dataclass(frozen=True)
class Survey:
    """What the elements' checks rely on (module docstring): the method and why, f's
    noise and the error eps allowed to one value of f, and each array's base step
    for finite differences (None: complex step, or the user's step)."""

    method: Method
    reason: str
    noise: Noise
    eps: float
    steps: tuple[float, ...]

    def header(self) -> str:
        """The report's header: why this method, and f's measured noise."""
        measured = "measured" if self.noise.accepted else "at most, measured"
        return (f"{self.reason}; f's noise {self.noise.s:.1e} ({measured} along a random "
                "direction)")


def survey(box: BlackBox, method: str, step: float | None, center: float) -> Survey:
    """Measure f's noise, choose the method and each array's finite-difference step."""
    noise = measure_noise(box)
    eps = max(f_roundoff(abs(center)), NOISE_SAFETY * noise.s)
    chosen, reason = _method(box, method, eps)
    if chosen.complex_step or step is not None:
        steps = tuple(step if step is not None else chosen.step(U64) for _ in box.work)
    else:
        steps = tuple(best_step(box, p, chosen, eps) for p in range(len(box.work)))
    return Survey(chosen, reason, noise, eps, steps)


def in_real_arithmetic(box: BlackBox, found: Survey, why: str) -> Survey:
    """The survey redone for Richardson, after complex step was caught disagreeing
    with real arithmetic where f is smooth (`checks.engine.elements.NotComplexSafe`)."""
    steps = tuple(best_step(box, p, RICHARDSON, found.eps) for p in range(len(box.work)))
    return Survey(RICHARDSON, f"complex step unusable ({why}); read in real arithmetic "
                  "(Richardson)", found.noise, found.eps, steps)


def nearby(box: BlackBox) -> BlackBox:
    """f at a nearby point: the params moved by PROBE_SHIFT along a seeded direction
    (f at the params themselves if f cannot be evaluated there).

    Noise and complex-safety are properties of f's code, not of the point, and
    are measured here: at the params themselves a unit may sit exactly on a kink
    (a net with zero biases and a zero input), and a kink at the point looks like
    noise to every table and disagrees with every finite difference.
    """
    d = box.direction(None)
    if box.along_far(d, np.array([PROBE_SHIFT]), "a point near params") is None:
        return box
    return replace(box, work=box.moved(d, PROBE_SHIFT))


def measure_noise(box: BlackBox) -> Noise:
    """`checks.engine.noise.measure` at a `nearby` point, along another direction."""
    offsets = np.arange(NOISE_POINTS) - NOISE_POINTS // 2
    near = nearby(box)
    d = near.direction(len(box.work))

    def table(h: float) -> Array | None:
        return near.along_far(d, h * offsets, "the noise direction")

    return measure(table)


def _method(box: BlackBox, method: str, eps: float) -> tuple[Method, str]:
    """"auto": complex step if the probe finds f complex-safe along every array;
    any other name as given."""
    if check_method(method) != "auto":
        return METHODS[method], "requested"
    for p in range(len(box.work)):
        safe, why = complex_safe(box, p, eps)
        if not safe:
            return RICHARDSON, (f"auto: complex step unusable ({why}, along {box.where[p]}); "
                                "fell back to Richardson")
    return COMPLEX_STEP, f"auto: {why}" + (" (every params array probed)"
                                           if len(box.work) > 1 else "")


def complex_safe(box: BlackBox, p: int, eps: float) -> tuple[bool, str]:
    """`checks.engine.probe.probe` along a seeded random direction of params[p] at a
    `nearby` point, with f's error eps (measured) as the round-off of its values."""
    box = nearby(box)
    d = box.direction(p)

    def along(method: Method) -> tuple[Array, Array]:
        h, none = method.step(U64), np.zeros(1, dtype=bool)
        if not method.complex_step:
            return box.along(d, h * np.array(method.offsets), f"{box.where[p]} + probe"), none
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = box.call(box.moved(d, 1j * h))
        number = box.number(out, f"{box.where[p]} + ih*u", False)
        return np.array([number if np.iscomplexobj(np.asarray(out)) else number.real]), none

    return probe(along, lambda values: np.maximum(f_roundoff(np.abs(values[0])), eps),
                 lambda derivative: GRADIENT_ULPS * U64 * np.abs(derivative))


def best_step(box: BlackBox, p: int, method: Method, eps: float) -> float:
    """The base step of params[p] for a finite-difference method: the least of the
    steps chosen for LADDER_ELEMENTS seeded elements of the array, each of which
    is, of the ladder below LADDER_TOP, the one whose error bound
    4 |trunc| + eps sum|w| / h for that element (at a `nearby` point) is least;
    the method's own step when no rung can be read.

    No larger than LADDER_SLACK times the step that balances truncation and noise
    for an f of unit size and curvature, (eps / f_roundoff(1))^(1 / (order + 1))
    times the method's own: the method's own for rounding-level noise, a
    float32-sized one for a float32 f. (A kink can make a large step look exact;
    the cap keeps that from mattering.)"""
    near = nearby(box)
    own = method.step(U64)
    cap = LADDER_SLACK * own * max(1.0, eps / f_roundoff(1.0)) ** (1 / (method.order + 1))
    rng = np.random.default_rng(p)
    size = near.work[p].size
    chosen = []
    for flat in rng.choice(size, min(size, LADDER_ELEMENTS), replace=False):
        index = tuple(int(i) for i in np.unravel_index(int(flat), near.work[p].shape))
        x = near.step_scale(p, index)
        best, at = np.inf, own
        for n in range(LADDER_STEPS):
            h = LADDER_TOP / LADDER_SHRINK**n
            if h > cap:
                continue
            try:
                values = near.evaluate(p, index, h * x * np.array(method.offsets)).real
            except (TypeError, ValueError, ArithmeticError):
                continue  # a far point may leave f's domain
            _, trunc = combine(method, values[:, None], h * x)
            bound = 4 * float(trunc[0]) + eps * method.weight_sum / (h * x)
            if bound < best:
                best, at = bound, h
        chosen.append(at)
    return min(chosen)

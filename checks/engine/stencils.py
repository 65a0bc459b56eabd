"""Numerical differentiation: the stencils, their steps and their error estimates.

Each method evaluates f at theta + c_s * h * e_k for a few offsets c_s and
combines the values with weights w_s:

  complex step   f'(x) ~ Im f(x + ih) / h                          h = 2^-66 ~ 1e-20
  central        D(h) = [f(x+h) - f(x-h)] / 2h                     h = u^(1/3) max(1, |x|)
  richardson     R(h) = [8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))] / 12h
                                                                   h = u^(1/5) max(1, |x|)

Complex step has no subtraction, so no cancellation: its error is round-off
of the same order as the analytic gradient's own, and h can be tiny enough
that the truncation error h^2 f'''/6 vanishes. Central and Richardson trade
truncation (O(h^2), O(h^4)) against round-off (`f_roundoff` / h = 16 u64 |f| / h):
the steps above balance the two. Both also evaluate the same stencil at twice
the step; the change between the two estimates measures the truncation error,
which goes into the tolerance (step halving, as in Richardson's own error
estimate).

A kink of f (relu, max, |x|) at x + t with |t| < 2h breaks that estimate: when
|t| << h both stencils are off by about half the jump of f' there, and agree.
Two tests see a kink (`Reading.kinked` and `steady`, used by
checks.engine.blackbox):
  jump       J = sum_c w_c S_c / h over the second differences
             S_c = f(x + ch) - 2 f(x) + f(x - ch) of the offset pairs +-c. A smooth f
             has S_c = c^2 h^2 f'' + c^4 h^4 f''''/12 + ..., which w cancels (J is
             O(h^3) or O(h^5)); a kink at x has S_c = c h D, and J = D, the jump of f':
             forward and backward differences disagree by an amount that does not
             shrink with the step.
  two steps  the estimate at h/4 is not where step halving predicts from the
             stencil at h (`predicts`): a kink moves the two by different
             fractions of its jump.

`choose_method` resolves method="auto" with the complex-safety probe
(`checks.engine.probe`), which the front door hands in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np

U64 = float(np.finfo(np.float64).eps) / 2  # unit roundoff of float64, the reference's dtype
# The round-off assumed of one value of f computed in float64, in units of u64: a
# few operations' worth, so that a stencil's differences of f are not read as signal.
F_ROUNDOFF_ULPS = 16
Size = TypeVar("Size", float, np.ndarray)


def f_roundoff(size: Size) -> Size:
    """eps = 16 u64 |f|: what round-off can do to one value of f of that size."""
    return F_ROUNDOFF_ULPS * U64 * size


@dataclass(frozen=True)
class Method:
    """A finite-difference stencil: offsets (in units of h) and weights (per h).

    `order` is the power p of the truncation error O(h^p); the estimate at
    step 2h then differs by about (2^p - 1) times the truncation error.
    `jump`: the weights w_c of the jump test (module docstring), one per pair of
    offsets +-c. `scale` multiplies the step (the probe's retries shrink it).
    """

    name: str
    offsets: tuple[float, ...]
    weights: tuple[float, ...]
    complex_step: bool
    order: int
    jump: tuple[float, ...] = ()
    scale: float = 1.0

    def step(self, u: float) -> float:
        """The base step for unit roundoff u (times max(1, |theta|)), times scale."""
        if self.complex_step:
            return 2.0**-66 * self.scale
        # Rounded to a power of two so that theta + h is exact for |theta| <= 1.
        return float(2.0 ** np.round(np.log2(u ** (1.0 / (self.order + 1))))) * self.scale

    def shrunk(self, factor: float) -> Method:
        """The same stencil at step / factor."""
        return replace(self, scale=self.scale / factor)

    @property
    def weight_sum(self) -> float:
        """sum |w_s|: round-off in f of size eps becomes eps * weight_sum / h."""
        return float(np.sum(np.abs(self.weights)))


COMPLEX_STEP = Method("complex_step", (1.0,), (1.0,), complex_step=True, order=2)
# Jump weights. Central (c = 1, 2): 2 S_1 - S_2 / 2 cancels c^2; a kink gives h D, a
# smooth f -h^4 f''''/2. Richardson (c = 1, 2, 4): (64 S_1 - 20 S_2 + S_4) / 28 cancels
# c^2 and c^4; a kink gives h D, a smooth f 0.29 h^6 f^(6).
CENTRAL = Method("central", (1.0, -1.0, 2.0, -2.0), (0.5, -0.5, 0.0, 0.0),
                 complex_step=False, order=2, jump=(2.0, -0.5))
RICHARDSON = Method(
    "richardson",
    (1.0, -1.0, 2.0, -2.0, 4.0, -4.0),
    (8.0 / 12, -8.0 / 12, -1.0 / 12, 1.0 / 12, 0.0, 0.0),
    complex_step=False,
    order=4,
    jump=(64.0 / 28, -20.0 / 28, 1.0 / 28),
)
METHODS: dict[str, Method] = {m.name: m for m in (COMPLEX_STEP, CENTRAL, RICHARDSON)}


def combine(method: Method, values: np.ndarray, h: np.ndarray | float) -> tuple[
        np.ndarray, np.ndarray]:
    """The derivative and its truncation-error estimate from f at every offset.

    values: (S, ...) with one slice per offset in method.offsets; h broadcasts.
    The estimate compares the stencil at h with the same stencil at 2h (central:
    offsets +-2h; richardson: +-2h and +-4h): their difference is
    (2^order - 1) times the truncation error at h. Complex step: zero.
    """
    if method.complex_step:
        d = np.imag(values[0]) / h
        return d, np.zeros_like(d)
    d_h, d_2h = both_steps(method, values, h)
    return d_h, np.abs(d_h - d_2h) / (2**method.order - 1)


def both_steps(method: Method, values: np.ndarray, h: np.ndarray | float) -> tuple[
        np.ndarray, np.ndarray]:
    """A finite-difference stencil's estimates at h and at 2h (see `combine`)."""
    v = np.real(values)
    if method.name == CENTRAL.name:
        return (v[0] - v[1]) / (2 * h), (v[2] - v[3]) / (4 * h)
    return ((8 * (v[0] - v[1]) - (v[2] - v[3])) / (12 * h),
            (8 * (v[2] - v[3]) - (v[4] - v[5])) / (24 * h))


@dataclass(frozen=True)
class Reading:
    """One element's finite-difference stencil at step h, read for f' and for kinks.

    d: the estimate at h; trunc: its truncation error, signed, from step halving
    ((d(2h) - d(h)) / (2^order - 1)); jump: J (module docstring); rounding and
    jump_noise: what f's round-off eps = 16 u64 max |f| can do to d and to J.
    """

    d: float
    trunc: float
    jump: float
    rounding: float
    jump_noise: float

    @property
    def error(self) -> float:
        """4 |trunc| + rounding + |jump| / 2: a kink at x too small for `kinked` to
        see still moves d by half its jump, so half of J is allowed for."""
        return 4 * abs(self.trunc) + self.rounding + abs(self.jump) / 2

    @property
    def kinked(self) -> bool:
        """The jump test: J beyond its round-off and 2 |trunc|. A smooth f's J is
        O(h) times its truncation error (module docstring); a kink's is the jump."""
        return abs(self.jump) > self.jump_noise + 2 * abs(self.trunc)


def read(method: Method, values: np.ndarray, center: float, h: float,
         noise: float = 0.0) -> Reading:
    """The Reading of a finite-difference stencil: values = f at the method's
    offsets times h, center = f(x); noise: what one value of f may be off by as
    measured (`checks.engine.noise`), when more than `f_roundoff` of its size."""
    d, d_2h = (float(e) for e in both_steps(method, values, h))
    pairs = np.reshape(values, (-1, 2))
    S = pairs[:, 0] + pairs[:, 1] - 2 * center  # the second differences S_c
    w = np.asarray(method.jump)
    eps = max(f_roundoff(max(abs(center), float(np.max(np.abs(values))))), noise)
    # Each value off by up to eps: J by eps (2 sum|w| + 2 |sum w|) / h, f(x) being in every S_c.
    in_jump = 2 * float(np.sum(np.abs(w))) + 2 * abs(float(np.sum(w)))
    return Reading(d, (d_2h - d) / (2**method.order - 1), float(w @ S) / h,
                   eps * method.weight_sum / h, eps * in_jump / h)


def predicts(d: Any, trunc: Any, d_fine: Any, rounding: Any, order: int,
             shrink: float) -> Any:
    """The two-steps test: is d_fine, the same stencil at h / shrink, where step
    halving predicts, d - trunc (1 - shrink^-order), within rounding + |trunc|?

    d, trunc: the estimate at h and its signed truncation error (`Reading`);
    rounding: what round-off can do to both estimates. A smooth f passes (what
    remains of the truncation error is O(h^2) times trunc); a kink within the
    stencil at h moves the two estimates by different fractions of its jump.
    """
    predicted = d - trunc * (1 - shrink ** -float(order))
    return np.abs(d_fine - predicted) <= rounding + np.abs(trunc)


def steady(coarse: Reading, fine: Reading, order: int) -> bool:
    """`predicts` for one element read at h (coarse) and h/4 (fine)."""
    return bool(predicts(coarse.d, coarse.trunc, fine.d, coarse.rounding + fine.rounding,
                         order, 4.0))


def check_method(method: Any) -> str:
    """A method name: "auto" or one of METHODS (TypeError for a non-string)."""
    if not isinstance(method, str):
        raise TypeError(f"method must be a name, got {method!r}")
    if method != "auto" and method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: auto, {', '.join(METHODS)}")
    return method


def choose_method(method: str, probe: Callable[[], tuple[bool, str]]) -> tuple[Method, str]:
    """Resolve "auto" with the complex-safety probe; look up any other name."""
    if check_method(method) == "auto":
        safe, why = probe()
        if safe:
            return COMPLEX_STEP, f"auto: {why}"
        return RICHARDSON, f"auto: complex step unusable ({why}); fell back to Richardson"
    return METHODS[method], "requested"

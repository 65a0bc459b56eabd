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
truncation (O(h^2), O(h^4)) against round-off (u |f| / h): the steps above
balance the two. Both also evaluate the same stencil at twice the step; the
change between the two estimates measures the truncation error, which goes
into the tolerance (step halving, as in Richardson's own error estimate).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

U64 = float(np.finfo(np.float64).eps) / 2  # unit roundoff of float64, the reference's dtype


@dataclass(frozen=True)
class Method:
    """A finite-difference stencil: offsets (in units of h) and weights (per h).

    `order` is the power p of the truncation error O(h^p); the estimate at
    step 2h then differs by about (2^p - 1) times the truncation error.
    """

    name: str
    offsets: tuple[float, ...]
    weights: tuple[float, ...]
    complex_step: bool
    order: int

    def step(self, u: float) -> float:
        """The base step for unit roundoff u (times max(1, |theta|))."""
        if self.complex_step:
            return 2.0**-66
        # Rounded to a power of two so that theta + h is exact for |theta| <= 1.
        return float(2.0 ** np.round(np.log2(u ** (1.0 / (self.order + 1)))))

    @property
    def weight_sum(self) -> float:
        """sum |w_s|: round-off in f of size eps becomes eps * weight_sum / h."""
        return float(np.sum(np.abs(self.weights)))


COMPLEX_STEP = Method("complex_step", (1.0,), (1.0,), complex_step=True, order=2)
CENTRAL = Method("central", (1.0, -1.0, 2.0, -2.0), (0.5, -0.5, 0.0, 0.0),
                 complex_step=False, order=2)
RICHARDSON = Method(
    "richardson",
    (1.0, -1.0, 2.0, -2.0, 4.0, -4.0),
    (8.0 / 12, -8.0 / 12, -1.0 / 12, 1.0 / 12, 0.0, 0.0),
    complex_step=False,
    order=4,
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
    v = np.real(values)
    if method is CENTRAL:
        d_h = (v[0] - v[1]) / (2 * h)
        d_2h = (v[2] - v[3]) / (4 * h)
    else:
        d_h = (8 * (v[0] - v[1]) - (v[2] - v[3])) / (12 * h)
        d_2h = (8 * (v[2] - v[3]) - (v[4] - v[5])) / (24 * h)
    return d_h, np.abs(d_h - d_2h) / (2**method.order - 1)


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


COMPLEX_SAFE = "complex-safe: complex step agreed with Richardson on a random direction"
Along = Callable[[Method], tuple[np.ndarray, np.ndarray]]


def probe(along: Along, noise: Callable[[np.ndarray], np.ndarray],
          allowance: Callable[[np.ndarray], np.ndarray]) -> tuple[bool, str]:
    """Is f complex-safe? Complex step against Richardson along one seeded direction.

    along(method) evaluates f at the method's offsets times its step along the
    direction: (values (S, ...), one slice per offset; a mask of elements to
    skip, e.g. at a kink). The direction runs through everything f computes,
    so an f that drops or mishandles Im (abs, norm, conj, a cast to real) shows
    up as a disagreement larger than Richardson's error: 4 x its truncation
    estimate + noise(values) (the round-off of f) x weight_sum / h +
    allowance(derivative) (the callers' rounding of the derivative itself).
    """
    try:
        with np.errstate(all="ignore"):
            values, skip = along(COMPLEX_STEP)
    except Exception as exc:  # whatever f does with complex input, it is not complex-safe
        return False, f"complex input raised {type(exc).__name__}: {exc}"
    if not np.iscomplexobj(values):
        return False, "a real value came back for complex input"
    cs, _ = combine(COMPLEX_STEP, values, COMPLEX_STEP.step(U64))
    h = RICHARDSON.step(U64)
    values_r, skip_r = along(RICHARDSON)
    rich, trunc = combine(RICHARDSON, np.real(values_r), h)
    tol = 4 * trunc + noise(values_r) * RICHARDSON.weight_sum / h + allowance(rich)
    bad = ~(np.abs(cs - rich) <= tol) & ~skip & ~skip_r
    if np.any(bad):
        k = np.unravel_index(int(np.argmax(bad)), np.shape(bad))
        cs, rich = (np.broadcast_to(v, np.shape(bad))[k] for v in (cs, rich))
        return False, (f"complex step gave {cs:.6g}, Richardson {rich:.6g} along a random "
                       "direction: something drops "
                       "or mishandles Im (abs, norm, conj, a cast to real?)")
    return True, COMPLEX_SAFE

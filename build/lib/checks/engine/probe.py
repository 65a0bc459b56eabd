"""Is f complex-safe? The probe that decides whether the complex step may be used.

Complex step against Richardson along one seeded direction; a disagreement is
told apart from a kink by shrinking Richardson's step (`retry`). Used by
every front door (check_network, gradcheck) through `choose_method`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from checks.engine.stencils import (
    COMPLEX_STEP,
    RICHARDSON,
    U64,
    Method,
    both_steps,
    combine,
    predicts,
)

COMPLEX_SAFE = "complex-safe: complex step agreed with Richardson on a random direction"
# The probe's retries at smaller steps: 2^-11 / 16^k down to 2^-27, where Richardson
# still resolves f' of an f of size 1 to about 1e-7 (its round-off: 16 u |f| / h).
PROBE_SHRINK, PROBE_RETRIES = 16.0, 4
Along = Callable[[Method], tuple[np.ndarray, np.ndarray]]
Noise = Callable[[np.ndarray], np.ndarray]


def probe(along: Along, noise: Noise, allowance: Noise) -> tuple[bool, str]:
    """Is f complex-safe? Complex step against Richardson along one seeded direction.

    along(method) evaluates f at the method's offsets times its step along the
    direction: (values (S, ...), one slice per offset; a mask of elements to
    skip, e.g. at a kink). The direction runs through everything f computes,
    so an f that drops or mishandles Im (abs, norm, conj, a cast to real) shows
    up as a disagreement larger than Richardson's error: 4 x its truncation
    estimate + noise(values) (the round-off of f) x weight_sum / h +
    allowance(derivative) (the callers' rounding of the derivative itself).
    Not complex-safe: complex input raises, a real value comes back, or a
    disagreement survives `retry`; a kink within the step does not.
    """
    try:
        with np.errstate(all="ignore"):
            values, skip = along(COMPLEX_STEP)
    except Exception as exc:  # whatever f does with complex input, it is not complex-safe
        return False, f"complex input raised {type(exc).__name__}: {exc}"
    if not np.iscomplexobj(values):
        return False, "a real value came back for complex input"
    cs, _ = combine(COMPLEX_STEP, values, COMPLEX_STEP.step(U64))
    rich = _Richardson.along(along, noise, allowance, RICHARDSON)
    unexplained = ~(np.abs(cs - rich.d) <= rich.error) & ~skip & ~rich.skip
    if not np.any(unexplained):
        return True, COMPLEX_SAFE
    return retry(along, noise, allowance, cs, rich, unexplained)


def retry(along: Along, noise: Noise, allowance: Noise, cs: np.ndarray,
          coarse: _Richardson, unexplained: np.ndarray) -> tuple[bool, str]:
    """Complex step cs and Richardson (coarse) disagreed where `unexplained`: tell
    a kink from an f that is not complex-safe by shrinking Richardson's step 16-fold.

    Richardson is the suspect first: a kink at distance t moves its estimate as
    long as the stencil (4h) reaches it, and once 4h < t it agrees with complex
    step: complex-safe, "not smooth within the probe's step". Complex step is
    blamed only where f is smooth at the smaller step (step halving sees no more
    than round-off there, where a smooth f's truncation error is 16^4 times
    smaller than at the larger) and the estimate there is where step halving
    predicts from the larger (`predicts`), which disagrees with complex step. No
    agreement of either kind down to 2^-27: f is not smooth at any of the
    probe's steps, and complex step, which neither raised nor dropped Im, is used.
    """
    method = RICHARDSON
    for _ in range(PROBE_RETRIES):
        smaller = method.shrunk(PROBE_SHRINK)
        fine = _Richardson.along(along, noise, allowance, smaller)
        smooth = (np.abs(fine.trunc) <= fine.rounding) & predicts(
            coarse.d, coarse.trunc, fine.d, coarse.rounding + fine.rounding, RICHARDSON.order,
            PROBE_SHRINK)
        blamed = unexplained & smooth & ~fine.skip
        if np.any(blamed):
            at = np.unravel_index(int(np.argmax(blamed)), np.shape(blamed))
            c, r, r_s = (float(np.broadcast_to(v, np.shape(blamed))[at])
                         for v in (cs, coarse.d, fine.d))
            return False, (f"complex step gave {c:.6g}, Richardson {r:.6g} at step "
                           f"{_power(method)} and {r_s:.6g} at {_power(smaller)} along a random "
                           "direction: something drops or mishandles Im (abs, norm, conj, a "
                           "cast to real?), or the point sits exactly on a kink")
        unexplained = unexplained & ~(np.abs(cs - fine.d) <= fine.error) & ~fine.skip
        if not np.any(unexplained):
            return True, (f"complex-safe: complex step agreed with Richardson at step "
                          f"{_power(smaller)} on a random direction; f is not smooth within "
                          f"the probe's step {_power(RICHARDSON)} (a kink such as relu or max "
                          "near the point)")
        method, coarse = smaller, fine
    return True, ("complex-safe as far as a probe can tell: complex step kept Im, and "
                  f"Richardson never settled at steps {_power(RICHARDSON)} to {_power(method)} "
                  "on a random direction: f is not smooth within the probe's steps (a kink "
                  "such as relu or max near the point)")


@dataclass(frozen=True)
class _Richardson:
    """Richardson along the probe's direction: the estimate d, its signed
    truncation error, its error bound (`probe`), the round-off part of that
    bound, and the elements to skip."""

    d: np.ndarray
    trunc: np.ndarray
    error: np.ndarray
    rounding: np.ndarray
    skip: np.ndarray

    @staticmethod
    def along(along: Along, noise: Noise, allowance: Noise, method: Method) -> _Richardson:
        values, skip = along(method)
        h = method.step(U64)
        d, d_2h = both_steps(method, values, h)
        trunc = (d_2h - d) / (2**method.order - 1)
        rounding = noise(values) * method.weight_sum / h
        return _Richardson(d, trunc, 4 * np.abs(trunc) + rounding + allowance(d),
                           rounding + allowance(d), skip)


def _power(method: Method) -> str:
    """The method's step as a power of two, e.g. 2^-11."""
    return f"2^{round(float(np.log2(method.step(U64))))}"

"""Elements at kinks, checked as subgradients (the kink half of checks.netcheck.perturb).

Kinks: when some z that an element's perturbed evaluation moves lies at a kink of its
activation (relu, leaky_relu), within the step of one, or within the rounding radius
u * E_z of one, the element is checked as a subgradient instead (`at_kinks`): the
analytic value must lie between the one-sided derivatives of the cost along the
element. An element that cannot be checked so stays skipped, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backprop import Array
from checks.engine.stencils import U64, Method, f_roundoff
from checks.netcheck.error_model import Model
from checks.netcheck.moves import (
    CHUNK_BYTES,
    Target,
    Targets,
    cost_noise,
    costs_and_kinks,
    element_targets,
    underflow,
)

# The one-sided derivatives at a kink, from C at 0, +-h/2, +-h and +-2h. A kink within
# +-h/2 of the point (exactly at it, or where a z within its rounding of one crosses it)
# leaves the pieces beyond clean: their first-order quotients over [h/2, h] and [h, 2h],
# extrapolated linearly to 0 (2 R1 - R2), give the derivative of the piece on that side
# at 0, whichever side of the kink the point itself is on. The quotients over [0, h/2]
# (the derivative at 0 when no kink is that close) complete the interval. The weights
# are those of 2 R1 - R2 (the largest round-off). The step balances first-order
# truncation and round-off, u^(1/2), for the network's own u: a float32 network's z
# may be on the other side of a kink within its rounding, and 2^-12 reaches over that.
ONE_SIDED = Method("one_sided", (2.0, 1.0, 0.5, 0.0, -0.5, -1.0, -2.0),
                   (-1.0, 5.0, -4.0, 0.0, 0.0, 0.0, 0.0), complex_step=False, order=1)
INNER = (2, 3, 4)  # the offsets 0.5, 0 and -0.5 of ONE_SIDED


@dataclass(frozen=True)
class Kinks:
    """The elements at kinks checked as subgradients (`at_kinks`), each of the array's shape."""

    value: Array  # the point of [min(D-, D+), max(D-, D+)] nearest the analytic value
    tol: Array  # the analytic side's tolerance + the one-sided quotients' own error
    inside: Array  # verified as subgradients
    unverified: Array  # left skipped, each with reasons[index]
    reasons: dict[tuple[int, ...], str]


def at_kinks(model: Model, l: int, t: Target, kinked: Array, structured: bool) -> Kinks:
    """Check the elements at kinks as subgradients: analytic in [min(D-, D+), max(D-, D+)].

    Along an element the cost is piecewise smooth, with one-sided derivatives D- and
    D+ at a kink (`one_sided` reads them from the pieces beyond it); a chain-rule
    value taking any sigma'(0) between the slopes (relu: 0, leaky_relu: 0.01) is a
    convex combination of the two, and lies between them. For db and
    dW (the mean cost) the interval is the mean of the examples' intervals, since
    examples whose z moves over the kink in opposite directions put D- and D+ on
    opposite sides. The tolerance: the element's own (the error model) plus the
    quotients' error (`one_sided`). Outside the interval is a mismatch, unless the
    step moves several z over kinks in one example (the chain rule through several
    kinks at once need not lie between D- and D+), reaches no kink that a z is
    within rounding of, or f is not finite there: those elements stay skipped.
    """
    per_example = t.per_example
    ks = np.flatnonzero(np.any(kinked, axis=1) if per_example else kinked.reshape(-1))
    targets = element_targets(model, l, t, ONE_SIDED.step(model.ref.u), False, structured)
    lo, hi, err, crossed, beyond = one_sided(model, l, targets, ks)
    if not per_example:  # each example's interval, then their mean
        lo, hi, err = lo.mean(axis=-1), hi.mean(axis=-1), err.mean(axis=-1)
        crossed, beyond = crossed.max(axis=-1), beyond.max(axis=-1)
    full = np.zeros((5, *t.analytic.shape))  # rows ks of delta, elements ks of db and dW
    (full if per_example else full.reshape(5, -1))[:, ks] = (lo, hi, err, crossed, beyond)
    lo, hi, err, crossed, beyond = full
    if t.unit != 1:  # delta of the mean cost: see in_units
        lo, hi = lo * t.unit, hi * t.unit
        err = err * t.unit + (t.u + U64) * np.maximum(np.abs(lo), np.abs(hi))
    value, tol = np.clip(t.analytic, lo, hi), t.tol + err
    inside = kinked & (np.abs(t.analytic - value) <= tol)
    finite = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(err)
    unverified = (kinked & ~inside & np.isfinite(t.analytic)
                  & (~finite | (crossed > 1) | (beyond > 0)))
    reasons = {tuple(int(i) for i in idx): kink_reason(finite[tuple(idx)],
                                                        int(crossed[tuple(idx)]))
               for idx in np.argwhere(unverified)}
    return Kinks(value, tol, inside, unverified, reasons)


def kink_reason(finite: bool, crossed: int) -> str:
    """Why an element at a kink could not be checked as a subgradient (`at_kinks`)."""
    if not finite:
        return "the one-sided derivatives are not finite here"
    if crossed > 1:
        return (f"the step moves {crossed} z over kinks at once: the chain rule's value "
                "need not lie between the one-sided derivatives")
    return "a z within its rounding of a kink that the steps +-h/2 do not move it over"


def one_sided(model: Model, l: int, targets: Targets, ks: Array) -> Array:
    """For each example x of each target in ks, from C at the offsets of ONE_SIDED:

      lo, hi    the least and greatest of the one-sided derivatives: on each side, the
                quotient over [0, h/2] and 2 R1 - R2 from the quotients R1 over
                [h/2, h] and R2 over [h, 2h] (see ONE_SIDED)
      err       4 |R2 - R1| on the side where it is larger (the drift of f' over the
                step, which bounds what the extrapolation and the inner quotient miss)
                + the round-off eps * weight_sum / h + underflow (as elsewhere)
      crossed   how many z the stencil moves over a kink (or that sit exactly on one)
      beyond    how many z lie within their rounding of a kink that the offsets +-h/2
                do not move them over
    Returns (5, len(ks), m).
    """
    ref = model.ref
    n, m = ref.z[l].shape
    width = n + sum(W.shape[0] for W in ref.W[l:])
    chunk = max(1, CHUNK_BYTES // (len(ONE_SIDED.offsets) * width * m * 16))
    out = np.empty((5, len(ks), m))
    noise = cost_noise(model)
    for start in range(0, len(ks), chunk):
        p = slice(start, min(len(ks), start + chunk))
        rows, change, h = targets(ks[p])
        C, _, (crossed, near_inner, crossed_inner) = costs_and_kinks(
            model, l, rows, change, ONE_SIDED, inner=INNER)
        h = h if h.ndim == 2 else h[:, None]
        right = [(C[2] - C[3]) / (h / 2), (C[1] - C[2]) / (h / 2), (C[0] - C[1]) / h]
        left = [(C[3] - C[4]) / (h / 2), (C[4] - C[5]) / (h / 2), (C[5] - C[6]) / h]
        sides = np.stack([right[0], 2 * right[1] - right[2], left[0], 2 * left[1] - left[2]])
        drift = np.maximum(np.abs(right[2] - right[1]), np.abs(left[2] - left[1]))
        eps = f_roundoff(np.abs(C[3])) + noise
        out[:, p] = (sides.min(axis=0), sides.max(axis=0),
                     4 * drift + eps * ONE_SIDED.weight_sum / h + underflow(h), crossed,
                     near_inner - crossed_inner)
    return out

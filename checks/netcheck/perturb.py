"""The perturbation engine: numerical derivatives of delta, dW and db, and the comparison.

What is differentiated, and how (index convention of `backprop`):
  delta[l][j, x] = dC_x / dz[l][j, x]   perturb z[l][j, x], run the network onward
                                        from layer l, difference the cost C_x of example x
  db[l][j]       = dC / db[l][j]        perturb b[l][j]: z[l][j, :] moves by the step
  dW[l][j, i]    = dC / dW[l][j, i]     perturb W[l][j, i]: z[l][j, :] moves by step * a[l][i, :]
Perturbing a parameter of layer l changes only row j of z[l] (z = W a + b), so the
unperturbed prefix is computed once and many perturbations run onward together as
one batched pass; every numerical derivative is still a difference (or imaginary
part) of genuinely perturbed costs, never derived from a numerical delta via BP3/BP4.

With the complex step, the perturbed costs' imaginary parts come from forward
tangents (checks.netcheck.tangent): the same numbers to within rounding, as real matrix
products, each perturbation's tangent carried onward on its own. Central
differences and Richardson, the complex-safety probe, and `tangents=False`
evaluate the perturbed network itself (`perturbed_costs`).

The tolerance of element k is the error model's (checks.netcheck.error_model) plus the
numerical method's own error: 4 * 2^-1022 / h (underflow) for complex step; for
finite differences 4x the truncation error estimated by step halving and the
cost's round-off divided by the step.

Kinks: when some z that an element's perturbed evaluation moves lies at a kink of its
activation (relu, leaky_relu), within the step of one, or within the rounding radius
u * E_z of one, the element is checked as a subgradient instead (`at_kinks`): the
analytic value must lie between the one-sided derivatives of the cost along the
element. An element that cannot be checked so stays skipped, with the reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from backprop import Array, ArrayId, Gradients, backward_order
from backprop.feedforward import per_example_cost
from checks.engine.probe import probe
from checks.engine.stencils import U64, Method, combine, f_roundoff
from checks.netcheck import tangent
from checks.netcheck.error_model import Model
from checks.netcheck.tangent import Locals, within
from checks.report import Block, compare, not_given

CHUNK_BYTES = 32 * 2**20
TINY = float(np.finfo(np.float64).tiny)


def perturbed_costs(model: Model, l: int, rows: Array | None, change: Array,
                    method: Method) -> tuple[Array, Array]:
    """Per-example costs with z[l] moved by each offset times `change`, and kink flags.

    rows None: change is dense, (K, n_l, m), one perturbation of all of z[l] per k.
    Otherwise change is (K, m): perturbation k moves only row rows[k] of z[l], the
    case of every single element of delta, b or W (z = W a + b). Then only that
    row of a[l + 1] moves too, and z[l + 1] = z[l + 1] + W[l + 1][:, j] * (change
    of a_j): the network is run onward from one row instead of the whole layer,
    which is what makes the exhaustive check cheap. Returns C: (S, K, m) for the
    method's S offsets, and kinked: (K, m), True where a z that the perturbation
    moves lies at, or within the step or rounding radius of, a kink.
    """
    C, near, _ = costs_and_kinks(model, l, rows, change, method)
    return C, near > 0


def costs_and_kinks(model: Model, l: int, rows: Array | None, change: Array, method: Method,
                    inner: tuple[int, ...] = ()) -> tuple[Array, Array, Array]:
    """perturbed_costs, with the kinks counted: C (S, K, m); near (K, m), how many z
    that the perturbation moves lie at, or within the step or rounding radius of, a
    kink; and if inner names some of the offsets of a finite-difference stencil (else
    zeros), counts (3, K, m): how many z the whole stencil moves over a kink (or that
    sit on one), how many lie within their rounding radius of a kink over the inner
    offsets' range, and how many the inner offsets move over a kink."""
    ref, net = model.ref, model.ref.net
    offsets = np.asarray(method.offsets)
    shift = (1j * change[None] if method.complex_step
             else offsets.reshape(-1, *[1] * change.ndim) * change[None])
    K, m = change.shape[0], change.shape[-1]
    near, counts = np.zeros((K, m), dtype=int), np.zeros((3, K, m), dtype=int)
    at = np.zeros(())  # no radius: the kink itself

    def count(kinks: tuple[float, ...], z: Array, base: Array, radius: Array) -> None:
        near[...] += near_kink(kinks, z, base, radius, method.complex_step)
        if inner:
            counts[0] += near_kink(kinks, z, base, at, method.complex_step)
            counts[1] += near_kink(kinks, z[list(inner)], base, radius, method.complex_step)
            counts[2] += near_kink(kinks, z[list(inner)], base, at, method.complex_step)

    if rows is None:
        z = ref.z[l] + shift
    elif net.sigma[l].elementwise and l < ref.L - 1:
        z_row = (ref.z[l][rows] + shift)[..., None, :]  # (S, K, 1, m)
        if net.sigma[l].kinks:
            count(net.sigma[l].kinks, z_row, ref.z[l][rows][:, None, :],
                  model.r_z[l][rows][:, None, :])
        moved_a = net.sigma[l].sigma(z_row) - ref.a[l + 1][rows][:, None, :]
        l += 1
        z = ref.z[l] + ref.W[l][:, rows].T[:, :, None] * moved_a
    else:
        z = np.broadcast_to(ref.z[l], (len(shift), K, *ref.z[l].shape)).astype(shift.dtype)
        z[:, np.arange(K), rows, :] += shift
    while True:
        if net.sigma[l].kinks:
            count(net.sigma[l].kinks, z, ref.z[l], model.r_z[l])
        if l == ref.L - 1:
            return per_example_cost(net.cost_fn, z, net.sigma[-1].sigma, ref.Y), near, counts
        l += 1
        z = ref.W[l] @ net.sigma[l - 1].sigma(z) + ref.b[l]


def near_kink(kinks: tuple[float, ...], z: Array, base: Array, radius: Array,
              complex_step: bool) -> Array:
    """How many z (units, axis -2) move over [lo - radius, hi + radius] holding a kink."""
    if complex_step:
        moved = np.imag(z[0]) != 0
        lo = hi = np.real(z[0])
    else:
        moved = np.any(z != base, axis=0)
        lo, hi = np.minimum(z.min(axis=0), base), np.maximum(z.max(axis=0), base)
    return np.sum(within(kinks, lo, hi, radius) & moved, axis=-2)


Targets = Callable[[Array], tuple[Array | None, Array, Array]]


@dataclass(frozen=True)
class Derivatives:
    """Numerical derivatives of K targets: each (K, m) per example, else (K,)."""

    value: Array
    error: Array  # the numerical method's own error estimate
    kinked: Array  # True where a z the perturbation moves is at or near a kink (see at_kinks)


def numerical_derivatives(model: Model, l: int, targets: Targets, K: int, method: Method,
                          per_example: bool, advance: Callable[[int], None] | None = None,
                          tangents: Locals | None = None) -> Derivatives:
    """Numerical derivatives of K targets in layer l, in chunks that fit in memory.

    targets(ks) gives, for targets ks, the rows they move (or None), the change of
    z[l] for one step (see perturbed_costs) and the steps h ((len(ks), m) if per_example
    else (len(ks),)). Per target: (K, m) if per_example (the cost C_x of each
    column) else (K,) (the batch mean C). tangents (complex step only): Im C from
    checks.netcheck.tangent instead of complex evaluations of the network.
    """
    ref = model.ref
    n, m = ref.z[l].shape
    width = n + sum(W.shape[0] for W in ref.W[l:])
    chunk = max(1, CHUNK_BYTES // (len(method.offsets) * width * m * 16))
    if tangents is not None:  # a chunk of changes, dense at worst (K, n_l, m), in float64
        chunk = max(1, CHUNK_BYTES // (n * m * 8))
    shape = (K, m) if per_example else (K,)
    d, err, kinked = np.empty(shape), np.empty(shape), np.empty(shape, dtype=bool)
    noise = cost_noise(model)
    for start in range(0, K, chunk):
        ks = np.arange(start, min(K, start + chunk))
        rows, change, h = targets(ks)
        if tangents is not None:
            im_C, kink = tangent.tangent_costs(tangents, l, rows, change)
            if not per_example:
                im_C, kink = im_C.mean(axis=-1), np.any(kink, axis=-1)
            d[ks], err[ks], kinked[ks] = im_C / h, underflow(h), kink
        else:
            C, kink = perturbed_costs(model, l, rows, change, method)
            eps = f_roundoff(np.abs(np.real(C[0]))) + noise
            if not per_example:
                C, eps, kink = C.mean(axis=-1), eps.mean(axis=-1), np.any(kink, axis=-1)
            d_k, trunc = combine(method, C, h)
            rounding = (0.0 if method.complex_step else eps * method.weight_sum / h) + underflow(h)
            d[ks], err[ks], kinked[ks] = d_k, 4 * trunc + rounding, kink
        if advance is not None:  # elements done: a row of delta is m of them
            advance(len(ks) * (m if per_example else 1))
    return Derivatives(d, err, kinked)


def underflow(h: Array) -> Array:
    """A change of f smaller than the smallest normal number is lost: for complex
    step (h ~ 1e-20), derivatives below ~1e-288."""
    return 4 * TINY / h


def cost_noise(model: Model) -> Array:
    """Round-off of one cost value C_x in float64: a few ulps of the terms it adds up."""
    ref = model.ref
    return f_roundoff(np.sum(np.abs(ref.z[-1]) + np.abs(ref.a[-1]) + np.abs(ref.Y), axis=0))


@dataclass(frozen=True)
class Target:
    """One gradient array of layer l and how its elements move z[l] (z = W a + b)."""

    id: ArrayId
    analytic: Array  # the array under test
    scale: Array  # E: the error model's bound, same shape
    tol: Array  # the analytic side's tolerance (checks.netcheck.error_model.Model.tol)
    per_example: bool  # delta: each column is its own cost C_x
    values: Array  # the perturbed quantity (z, b or W), for the finite-difference step
    row: Callable[[Array], tuple[Array, Array]]  # k -> (row of z[l], its change per unit)
    moves: Callable[[Array], Array]  # (K, *shape) directions -> (K, n_l, m) changes of z[l]
    unit: float = 1.0  # the array in units of the derivatives of C_x: 1/m for delta of the mean
    u: float = 0.0  # the unit roundoff of the division by m (the network's dtype's), if any

    @property
    def layer(self) -> int:
        return self.id.layer


def targets_of(model: Model, g: Gradients, l: int, delta_unit: float = 1.0) -> list[Target]:
    """delta[l] (BP1 or BP2), db[l] (BP3), dW[l] (BP4), in backward order.

    delta_unit: 1 for delta = dC_x/dz (per example), 1/m for delta = dC/dz of the batch
    mean cost: its bound and tolerance are then divided by m, and so are its numerical
    values (`in_units`).
    """
    ref, E, tol = model.ref, model.E, model.tol
    m = ref.z[l].shape[1]
    n_prev = ref.a[l].shape[0]

    def ones(js: Array) -> tuple[Array, Array]:
        return js, np.ones((len(js), m))

    def weight(ks: Array) -> tuple[Array, Array]:
        j, i = np.divmod(ks, n_prev)  # W[l][j, i] moves z[l][j, :] by a[l][i, :]
        return j, ref.a[l][i, :]

    def target(a: ArrayId) -> Target:
        if a.kind == "delta" and delta_unit != 1:
            return Target(a, a.of(g), E[a] * delta_unit, tol[a] * delta_unit, per_example=True,
                          values=ref.z[l], row=ones, moves=lambda U: U, unit=delta_unit,
                          u=ref.u)
        if a.kind == "delta":  # z[l][j, x] itself: each column its own cost C_x
            return Target(a, a.of(g), E[a], tol[a], per_example=True, values=ref.z[l],
                          row=ones, moves=lambda U: U)
        if a.kind == "db":  # b[l][j] moves z[l][j, :] by the step, in every column
            return Target(a, a.of(g), E[a], tol[a], per_example=False, values=ref.b[l],
                          row=ones, moves=lambda U: np.broadcast_to(U, (*U.shape[:2], m)))
        return Target(a, a.of(g), E[a], tol[a], per_example=False, values=ref.W[l],
                      row=weight, moves=lambda U: U @ ref.a[l])

    return [target(a) for a in backward_order(ref.L)
            if a.layer == l and (a.kind != "delta" or g.delta)]


def element_targets(model: Model, l: int, t: Target, h0: float, complex_step: bool,
                    structured: bool = True) -> Targets:
    """Targets (see numerical_derivatives) that move each element of t on its own,
    by h0 (complex step) or h0 max(1, |value|); structured: see elementwise."""
    ref = model.ref
    scale_of = t.values if t.per_example else t.values.reshape(-1, 1)

    def targets(ks: Array) -> tuple[Array | None, Array, Array]:
        rows, unit = t.row(ks)
        h = np.full((len(ks), scale_of.shape[1]), h0) if complex_step else (
            h0 * np.maximum(1.0, np.abs(scale_of[ks])))
        change = unit * (h if t.per_example else h[:, :1])
        if not t.per_example:
            h = h[:, 0]
        if structured:
            return rows, change, h
        dense = np.zeros((len(ks), *ref.z[l].shape))
        dense[np.arange(len(ks)), rows, :] = change
        return None, dense, h

    return targets


def elementwise(model: Model, l: int, t: Target, method: Method,
                structured: bool = True,
                advance: Callable[[int], None] | None = None,
                tangents: Locals | None = None) -> Block:
    """Perturb every element of the array on its own: the full, localising check.

    delta is perturbed a row at a time: moving z[l][j, x] for every column x at
    once is m independent perturbations, one per example's cost C_x.
    structured: run each perturbation onward from its one row of z[l] (see
    perturbed_costs); False perturbs all of z[l] densely, the simple path the tests
    compare the fast one against. tangents: see numerical_derivatives. Elements
    at kinks are checked as subgradients (`at_kinks`).
    """
    numeric = element_derivatives(model, l, t, method, structured, advance, tangents)
    value, tol, kinked = numeric.value, t.tol + numeric.error, numeric.kinked
    if not np.any(kinked):
        return compare(t.id.equation, t.id.name, l, method.name, t.analytic, value, tol,
                       kinked, t.id.index_names, id=t.id)
    kinks = at_kinks(model, l, t, kinked, structured)
    block = compare(t.id.equation, t.id.name, l, method.name, t.analytic,
                    np.where(kinked, kinks.value, value), np.where(kinked, kinks.tol, tol),
                    kinks.unverified, t.id.index_names, id=t.id)
    return dataclasses.replace(
        block, subgradients=int(np.sum(kinks.inside)),
        skipped=[dataclasses.replace(e, reason=kinks.reasons[e.index]) for e in block.skipped])


def element_derivatives(model: Model, l: int, t: Target, method: Method,
                        structured: bool = True,
                        advance: Callable[[int], None] | None = None,
                        tangents: Locals | None = None) -> Derivatives:
    """numerical_derivatives of every element of t on its own, in t's shape (see
    elementwise): its kinked are the elements that check as subgradients."""
    shape = t.analytic.shape
    K = shape[0] if t.per_example else t.analytic.size
    targets = element_targets(model, l, t, method.step(U64), method.complex_step, structured)
    numeric = numerical_derivatives(model, l, targets, K, method, per_example=t.per_example,
                                    advance=advance, tangents=tangents)
    numeric = in_units(numeric, t)
    return Derivatives(numeric.value.reshape(shape), numeric.error.reshape(shape),
                       numeric.kinked.reshape(shape))


def in_units(numeric: Derivatives, t: Target) -> Derivatives:
    """The numerical derivatives of C_x in t's units: for delta of the mean cost (unit
    1/m), value / m, and error / m plus the division's rounding, in the analytic side's
    dtype (u) and the reference's (u64), |value| / m (u + u64). Unchanged for unit 1."""
    if t.unit == 1:
        return numeric
    value = numeric.value * t.unit
    return Derivatives(value, numeric.error * t.unit + (t.u + U64) * np.abs(value),
                       numeric.kinked)


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


def directional(model: Model, l: int, t: Target, method: Method, k: int,
                rng: np.random.Generator, tangents: Locals | None = None) -> Block | None:
    """Compare <g, u> with the numerical directional derivative for k random u.

    Returns None when a direction disagrees or crosses a kink: the caller then
    localises with the element-wise check. The tolerance is the error model
    applied to the projection: (2 (u + u64) + N u64) <E, |u|> + numeric error,
    the N u64 covering the rounding of the N-term sum <g, u> itself.
    """
    shape = t.analytic.shape
    U = rng.standard_normal((k, *shape))
    h0 = method.step(U64)
    h_scale = 1.0 if method.complex_step else max(1.0, float(np.max(np.abs(t.values))))
    dZ = t.moves(U)

    def targets(ks: Array) -> tuple[None, Array, Array]:
        h = np.full((len(ks), shape[1]) if t.per_example else len(ks), h0 * h_scale)
        return None, dZ[ks] * h0 * h_scale, h

    numeric = in_units(numerical_derivatives(model, l, targets, k, method,
                                             per_example=t.per_example, tangents=tangents), t)
    axes = (1,) if t.per_example else (1, 2)
    analytic = np.sum(t.analytic * U, axis=axes)
    tol = (np.sum(t.tol * np.abs(U), axis=axes)
           + t.analytic.size * U64 * np.sum(t.scale * np.abs(U), axis=axes))
    block = compare(t.id.equation, f"{t.id.name}·u", l, f"{method.name}/dir", analytic,
                    numeric.value, tol + numeric.error, np.zeros(numeric.value.shape, dtype=bool),
                    ("u", "x") if t.per_example else ("u",), id=t.id)
    return block if block.ok and not np.any(numeric.kinked) else None


def complex_safe(model: Model) -> tuple[bool, str]:
    """checks.engine.probe along one seeded random direction of z[0]: through every
    layer's activation and the cost. Elements whose probe crosses a kink are skipped."""
    ref = model.ref
    dZ = np.random.default_rng(0).standard_normal((1, *ref.z[0].shape))

    def along(method: Method) -> tuple[Array, Array]:
        return perturbed_costs(model, 0, None, dZ * method.step(U64), method)

    scale = np.sum(np.abs(dZ[0]) * model.E[ArrayId("delta", 0, ref.L)], axis=0)
    return probe(along, lambda _: cost_noise(model), lambda _: ref.tolerance_per_E * scale)


def forward_tangents(model: Model, method: Method) -> Locals | None:
    """The local derivatives for Im C by forward tangents (checks.netcheck.tangent),
    when method is the complex step and the network is one tangents apply to."""
    if method.complex_step and tangent.applies(model.ref.net):
        return tangent.local_derivatives(model, method.step(U64))
    return None


def check_arrays(model: Model, g: Gradients, method: Method, *, directions: int | None = None,
                 rng: np.random.Generator | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 structured: bool = True, tangents: bool = True,
                 delta_unit: float = 1.0) -> list[Block]:
    """One Block per array, in backprop order: delta[L-1], db[L-1], dW[L-1], delta[L-2], ...

    g: the gradients under test, float64 (check_network casts them once).
    An empty g.delta (not given) gives each delta[l] a block that checks nothing.
    directions: check each array along that many random directions first (rng
    draws them) and element by element only if that fails. progress(done, total)
    is called as elements are checked (a row of delta at a time, or a chunk).
    tangents: with the complex step, Im C from forward tangents (checks.netcheck.tangent);
    False evaluates the network in complex arithmetic for every perturbation.
    delta_unit: 1/m when g.delta is dC/dz of the batch mean cost (see targets_of).
    """
    blocks: list[Block] = []
    L = model.ref.L
    local = forward_tangents(model, method) if tangents else None
    targets = [targets_of(model, g, l, delta_unit) for l in range(L - 1, -1, -1)]
    total = sum(t.analytic.size for per_layer in targets for t in per_layer)
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)

    for per_layer in targets:
        l = per_layer[0].layer
        if not g.delta:
            blocks.append(not_given(ArrayId("delta", l, L)))
        for target in per_layer:
            block = None
            if directions is not None:
                assert rng is not None
                block = directional(model, l, target, method, directions, rng, local)
                if block is not None:
                    advance(target.analytic.size)
            blocks.append(block or elementwise(model, l, target, method, structured, advance,
                                               local))
    return blocks

"""Perturbed costs: what moving one z, weight or bias of a layer does to the cost.

The machinery under checks.netcheck.perturb (which says what is differentiated and
how): the batched onward passes (`perturbed_costs`, `costs_and_kinks`), the
numerical derivatives they give (`numerical_derivatives`), and the targets, the
arrays of one layer that a check moves (`targets_of`, `element_targets`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from backprop import Array, ArrayId, Gradients, backward_order
from backprop.feedforward import per_example_cost
from checks.engine.stencils import Method, combine, f_roundoff
from checks.netcheck import tangent
from checks.netcheck.error_model import Model
from checks.netcheck.tangent import Locals, within

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

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

Kinks: elements whose perturbation moves a z over a kink of its activation are
checked as subgradients instead (checks.netcheck.kinks).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from backprop import Array, ArrayId, Gradients
from checks.engine.probe import probe
from checks.engine.stencils import U64, Method
from checks.netcheck import tangent
from checks.netcheck.error_model import Model
from checks.netcheck.kinks import at_kinks
from checks.netcheck.moves import (
    Derivatives,
    Target,
    cost_noise,
    element_targets,
    numerical_derivatives,
    perturbed_costs,
    targets_of,
)
from checks.netcheck.tangent import Locals
from checks.report import Block, compare, not_given


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

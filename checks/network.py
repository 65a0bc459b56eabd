"""check_network: every delta[l], dW[l] and db[l] of a backprop against numerical derivatives.

What is differentiated, and how (index convention of `backprop`):
  delta[l][j, x] = dC_x / dz[l][j, x]   perturb z[l][j, x], run the network onward
                                        from layer l, difference the cost C_x of example x
  db[l][j]       = dC / db[l][j]        perturb b[l][j]: z[l][j, :] moves by the step
  dW[l][j, i]    = dC / dW[l][j, i]     perturb W[l][j, i]: z[l][j, :] moves by step * a[l][i, :]
Perturbing a parameter of layer l changes only row j of z[l] (z = W a + b), so the
unperturbed prefix is computed once and many perturbations run onward together as
one batched pass; every numerical derivative is still a difference (or imaginary
part) of genuinely perturbed costs, never derived from a numerical delta via BP3/BP4.

Error model (tolerance per element k):
  tol_k = min(2 (u + u64) E_k, SAFETY * D_k) + numeric_k + 16 tiny
where E_k is a first-order bound, in units of the unit roundoff, on the rounding
error of any correct computation of element k, propagated through the network
alongside the gradient itself: each dot product of length n contributes (n + 1)
times the sum of its absolute terms, each product and activation a few ulps, each
sigma' also curvature * (error of z) of itself and curvature * 4 |a| absolute (a
derivative computed from a cached activation, 1 - a^2, is only that good), and errors of z,
a, delta carry forward and backward through |W| and |sigma'|. u is the network's
dtype (float32 networks are judged by float32 rounding), u64 the float64
numerical reference; the factor 2 covers the bound being first-order.
For a cost with a simplified BP1 (delta^L = a - y) the general form dC/da ⊙
sigma'(z) is allowed too (_general_bp1): its extra rounding, a's own rounding
times s = |sigma' d(dC/da)/da| for s up to 16, is added to E at the output.
E assumes that every error has the sign that hurts most; where an element is a
sum of cancelling terms it can exceed the actual rounding by 10^3-10^5. D_k is the
largest deviation of element k over SAMPLES = 16 re-runs of the gradient
computation (in float64) in which every intermediate - z, a, sigma', dC/da,
delta, each product - is moved by a random fraction, uniform in [-1, 1], of its
own local rounding bound (u + u64) * (the local terms of E), except that a sum
of n terms moves by sqrt(n + 1), not n + 1, times the sum of its absolute terms
(n + 1 independent roundings, each at most u times that sum, have a standard
deviation of at most sqrt((n + 1) / 3) u times it: the probabilistic rounding
model of Higham and Mary). This is Monte Carlo arithmetic: it keeps the signs,
so it sees the cancellation. SAFETY = 8 on the largest of the 16 deviations;
`python -m checks.calibrate` measures how much of their tolerance correct
gradients use (where D decides: at most ~0.12 in float32, ~0.05 in float64).
16 tiny (the dtype's smallest normal number) covers underflow of the analytic side. numeric_k is
4 * 2^-1022 / h (underflow) for complex step; for finite differences it adds 4x
the truncation error estimated by step halving and the cost's round-off divided
by the step.

Kinks: an element is skipped ("not differentiable here") when some z that its
perturbed evaluation actually moves lies at a kink of its activation, within the step
of one, or within the rounding radius u * E_z of one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from backprop import Gradients, Network, loop, vectorized
from backprop._types import Array
from backprop.activations import Activation
from backprop.network import check_XY, forward_arrays
from backprop.validate import check_seed
from checks.numeric import COMPLEX_STEP, RICHARDSON, Method, choose_method, combine
from checks.report import Block, Report, compare

Impl = Callable[[Network, Array, Array], Gradients]
U64 = float(np.finfo(np.float64).eps) / 2
CHUNK_BYTES = 32 * 2**20
# Exploit the row structure of single-element perturbations (see _onward). False
# runs every perturbation densely through the whole network: the simple path the
# tests compare the fast one against.
STRUCTURED = True
TINY = float(np.finfo(np.float64).tiny)
SAMPLES = 16  # perturbed re-runs of the gradient computation (_sampled_deviations)
SAFETY = 8  # tolerance factor on the largest deviation seen over the samples


@dataclass
class _Reference:
    """The network in float64, its forward pass, and the error model's scales.

    E_* are first-order error bounds in units of the unit roundoff u: a correct
    computation of that quantity in a dtype with unit roundoff u is off by at
    most about u * E.
    """

    net: Network
    W: list[Array]
    b: list[Array]
    X: Array
    Y: Array
    z: list[Array]
    a: list[Array]
    u: float  # unit roundoff of the network's dtype
    floor: float  # underflow: results below the dtype's smallest normal lose their digits
    r_z: list[Array]  # rounding radius of z in the network's dtype (for kinks)
    E_delta: list[Array]
    E_dW: list[Array]
    E_db: list[Array]
    # The tolerance of the analytic side: min(2 (u + u64) E, SAFETY * sampled deviation)
    T_delta: list[Array]
    T_dW: list[Array]
    T_db: list[Array]

    @property
    def L(self) -> int:
        return len(self.W)


def _reference(net: Network, X: Array, Y: Array, cached: bool = True) -> _Reference:
    W = [w.astype(np.float64) for w in net.weights]
    b = [v.astype(np.float64) for v in net.biases]
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    trace = forward_arrays(W, b, net.sigma, X64)
    z, a, L, m = trace.z, trace.a, net.L, X.shape[1]
    absW = [np.abs(W_l) for W_l in W]

    # Forward. A dot product of length n is off by at most (n + 1) u times the
    # sum of its absolute terms, plus what the errors of its inputs carry.
    E_z: list[Array] = []
    E_a: list[Array] = [np.zeros_like(X64)]
    for l in range(L):
        terms = absW[l] @ np.abs(a[l]) + np.abs(b[l])
        E_z.append((W[l].shape[1] + 2) * terms + absW[l] @ E_a[l])
        ulps = 4 if net.sigma[l].elementwise else a[l + 1].shape[0] + 4
        E_a.append(_abs_vjp(net.sigma[l], z[l], E_z[l]) + ulps * np.abs(a[l + 1]))

    def E_sigma_prime(l: int) -> Array:
        # sigma' is off by a few ulps of itself, by |sigma''| (error of z), and,
        # when computed from a cached activation (1 - a^2, a (1 - a)), by
        # |d sigma'/da| (error of a) <= curvature * 4 |a| u: absolute, not
        # relative, which matters where a saturates and sigma' -> 0.
        d = np.abs(net.sigma[l].sigma_prime(z[l]))
        curvature = net.sigma[l].curvature
        local = 4 * d + curvature * (4 * np.abs(a[l + 1]) if cached else 0.0)
        return local + curvature * d * E_z[l]

    # Backward: P is the magnitude of the terms, E their error bound (first order).
    sigma_L, cost_fn = net.sigma[L - 1], net.cost_fn
    if cost_fn.delta is not None:  # delta^L = a - y, or the general form (below)
        P = np.abs(a[L]) + np.abs(Y64)
        E = E_a[L] + (P + _general_bp1(net, z[L - 1], a[L], Y64))
    else:  # delta^L = J^T dC/da; dC/da's error taken as that of a - y (exact for quadratic)
        g = np.abs(cost_fn.dC_da(a[L], Y64))
        E_g = 4 * (g + np.abs(a[L]) + np.abs(Y64)) + E_a[L]
        if sigma_L.elementwise:
            d = np.abs(sigma_L.sigma_prime(z[L - 1]))
            P, E = g * d, g * E_sigma_prime(L - 1) + E_g * d + g * d
        else:
            P = _abs_vjp(sigma_L, z[L - 1], g)
            E = 4 * P + _abs_vjp(sigma_L, z[L - 1], E_g) + P * E_z[L - 1]
    # The numerical reference differentiates the summed cost: its rounding grows
    # with the n_L terms of the sum. Under softmax every term moves, by up to
    # a_j sum_k |y_k| (the log-sum-exp), not just the j-th. Under softmax the
    # analytic side sums n_L terms per column too, whichever correct form of BP1
    # it uses (the normalisation of a, or sum_k a_k g_k in J^T dC/da = a (g -
    # sum_k a_k g_k), which for cross-entropy is -sum_k y_k): the term is weighed
    # by u + u64 there. For an elementwise output it is the reference's alone:
    # weighed by u64 (`_weight_of_sums`).
    n_L = a[L].shape[0]
    spread = 0.0 if sigma_L.elementwise else np.abs(a[L]) * np.sum(
        np.abs(Y64), axis=0, keepdims=True)
    u = float(np.finfo(net.dtype).eps) / 2
    E = E + _weight_of_sums(sigma_L, u) * ((n_L + 4) * (P + spread))
    P_delta, E_delta = [P] * L, [E] * L
    for l in range(L - 2, -1, -1):
        P_t = absW[l + 1].T @ P_delta[l + 1]
        E_t = absW[l + 1].T @ E_delta[l + 1] + (W[l + 1].shape[0] + 1) * P_t
        d = np.abs(net.sigma[l].sigma_prime(z[l]))
        P_delta[l] = P_t * d
        E_delta[l] = E_t * d + P_t * E_sigma_prime(l) + P_delta[l]
    E_dW = [(E_delta[l] @ np.abs(a[l]).T + P_delta[l] @ E_a[l].T) / m
            + (m + 2) * (P_delta[l] @ np.abs(a[l]).T / m) for l in range(L)]
    E_db = [E_delta[l].mean(axis=1, keepdims=True)
            + (m + 1) * P_delta[l].mean(axis=1, keepdims=True) for l in range(L)]
    floor = 16 * float(np.finfo(net.dtype).tiny)
    ref = _Reference(net, W, b, X64, Y64, z, a, u, floor, [u * e for e in E_z],
                     E_delta, E_dW, E_db, [], [], [])
    sampled = _sampled_deviations(ref, cached)
    gamma = _gamma(ref)
    for E_f, T_f, D_f in zip((E_delta, E_dW, E_db), (ref.T_delta, ref.T_dW, ref.T_db),
                             sampled, strict=True):
        T_f.extend(np.minimum(gamma * E_l, SAFETY * D_l) for E_l, D_l in zip(E_f, D_f,
                                                                              strict=True))
    return ref


GENERAL_BP1_CAP = 16.0  # beyond this sensitivity the general form is not accepted


def _general_bp1(net: Network, z_L: Array, a_L: Array, Y: Array) -> Array | float:
    """What BP1 in its general form, dC/da ⊙ sigma'(z), adds to the rounding of a - y.

    The two are the same function of z, but the general form rounds a itself
    (4 |a| u) and then feeds it through dC/da, whose sensitivity to a, times
    sigma'(z), is s = |sigma'(z) d(dC/da)/da| rather than 1 (cross-entropy:
    dC/da = (a - y) / (a (1 - a)), where 1 - a amplifies a's rounding). Allowed
    up to s = GENERAL_BP1_CAP: beyond it (a output nearly saturated) the general
    form is numerically unstable, loses far more than a few ulps, and is not a
    rounding the checker forgives. Plus a few ulps of its own operations (8 |a - y|).
    Softmax: its general form is covered by the n_L-term sums (see _reference).
    """
    sigma_L, cost_fn = net.sigma[-1], net.cost_fn
    if not sigma_L.elementwise:
        return 0.0
    h = 2.0**-66
    with np.errstate(all="ignore"):  # dC/da is infinite where a saturates: s is capped
        slope = np.imag(cost_fn.dC_da(a_L + 1j * h, Y)) / h
        s = np.fmin(np.abs(sigma_L.sigma_prime(z_L) * slope), GENERAL_BP1_CAP)
    return s * 4 * np.abs(a_L) + 8 * np.abs(a_L - Y)


def _weight_of_sums(sigma_L: Activation, u: float) -> float:
    """Share of u + u64 that the output layer's n_L-term sums carry (see _reference):
    all of it under softmax (analytic and reference), u64's alone otherwise."""
    return 1.0 if not sigma_L.elementwise else U64 / (u + U64)


def _sampled_deviations(ref: _Reference, cached: bool) -> tuple[list[Array], ...]:
    """Largest deviation of delta, dW and db over SAMPLES perturbed re-runs.

    Monte Carlo arithmetic: the gradients are computed again, in float64, with
    every intermediate (z, a, sigma', dC/da, delta, the products W^T delta and
    delta a^T) moved by a random fraction, uniform in [-1, 1], of its local
    rounding bound (u + u64) * (the same local terms as E). Unlike E, whose
    absolute values assume every error lines up with every other, the samples
    carry the signs, so cancellation shows up as it happens in a real
    computation. Returns, per array, max over samples of |g_s - g_0|, g_0 the
    unperturbed run. One sample at a time: memory is that of one backprop.
    """
    rng = np.random.default_rng(0)  # fixed: the same inputs give the same report
    base = _perturbed_gradients(ref, None, None)
    bounds = _local_bounds(ref, cached, base[0])
    deviation = [[np.zeros_like(x) for x in arrays] for arrays in base]
    for _ in range(SAMPLES):
        sample = _perturbed_gradients(ref, bounds, rng)
        for dev, arrays, base_arrays in zip(deviation, sample, base, strict=True):
            for d, x, x0 in zip(dev, arrays, base_arrays, strict=True):
                np.maximum(d, np.abs(x - x0), out=d)
    return tuple(deviation)


def _local_bounds(ref: _Reference, cached: bool, delta: list[Array]) -> dict[str, Any]:
    """The local rounding bound of every intermediate that _perturbed_gradients
    jitters, in units of u + u64 (the output sums: of the unit in "sums_unit").
    They depend only on the unperturbed pass (delta: its deltas), so are computed once.
    """
    net, W, b, z, a, Y = ref.net, ref.W, ref.b, ref.z, ref.a, ref.Y
    L, m = ref.L, ref.X.shape[1]
    sigma_L, cost_fn = net.sigma[L - 1], net.cost_fn
    B: dict[str, Any] = {
        "z": [np.sqrt(W[l].shape[1] + 2) * (np.abs(W[l]) @ np.abs(a[l]) + np.abs(b[l]))
              for l in range(L)],
        "a": [(4 if net.sigma[l].elementwise else a[l + 1].shape[0] + 4) * np.abs(a[l + 1])
              for l in range(L)],
        # Only elementwise layers: softmax, the output only, is never asked for sigma'.
        "sigma_prime": [4 * np.abs(sigma.sigma_prime(z_l)) + sigma.curvature * (
            4 * np.abs(a_next) if cached else 0.0) if sigma.elementwise else None
            for sigma, z_l, a_next in zip(net.sigma, z, a[1:], strict=True)],
    }
    if cost_fn.delta is not None:
        P = np.abs(a[L]) + np.abs(Y)
        B["delta_L"] = P + _general_bp1(net, z[L - 1], a[L], Y)
    else:
        g = cost_fn.dC_da(a[L], Y)
        B["dC_da"] = 4 * (np.abs(g) + np.abs(a[L]) + np.abs(Y))
        if sigma_L.elementwise:
            P = np.abs(g * sigma_L.sigma_prime(z[L - 1]))
            B["delta_L"] = P
        else:
            P = _abs_vjp(sigma_L, z[L - 1], np.abs(g))
            B["delta_L"] = 4 * P
    # The n_L-term sums of the output layer, as in E.
    spread = 0.0 if sigma_L.elementwise else np.abs(a[L]) * np.sum(
        np.abs(Y), axis=0, keepdims=True)
    B["sums"] = (a[L].shape[0] + 4) * (P + spread)
    B["sums_unit"] = _weight_of_sums(sigma_L, ref.u)
    B["BP2_sum"] = [None] * L
    B["BP2_product"] = [None] * L
    for l in range(L - 1):
        B["BP2_sum"][l] = np.sqrt(W[l + 1].shape[0] + 1) * (
            np.abs(W[l + 1]).T @ np.abs(delta[l + 1]))
        B["BP2_product"][l] = np.abs((W[l + 1].T @ delta[l + 1]) * net.sigma[l].sigma_prime(z[l]))
    B["dW"] = [np.sqrt(m + 2) * (np.abs(delta[l]) @ np.abs(a[l]).T / m) for l in range(L)]
    B["db"] = [np.sqrt(m + 1) * np.abs(delta[l]).mean(axis=1, keepdims=True) for l in range(L)]
    return B


def _perturbed_gradients(ref: _Reference, bounds: dict[str, Any] | None,
                         rng: np.random.Generator | None) -> tuple[list[Array], ...]:
    """delta, dW, db in float64, each intermediate jittered by a random fraction of
    its bound in `bounds` (rng None: not at all, the unperturbed pass)."""
    net, W, b, Y = ref.net, ref.W, ref.b, ref.Y
    L, m = ref.L, ref.X.shape[1]
    u_s = ref.u + U64

    def jitter(key: str, l: int | None = None) -> Any:
        if rng is None or bounds is None:
            return 0.0
        scale = bounds[key] if l is None else bounds[key][l]
        unit = u_s * bounds["sums_unit"] if key == "sums" else u_s
        return unit * rng.uniform(-1.0, 1.0, np.shape(scale)) * scale

    def sigma_prime(l: int, z_l: Array) -> Array:
        return net.sigma[l].sigma_prime(z_l) + jitter("sigma_prime", l)

    a_s: list[Array] = [ref.X]
    z_s: list[Array] = []
    for l in range(L):
        z_s.append(W[l] @ a_s[l] + b[l] + jitter("z", l))
        a_s.append(net.sigma[l].sigma(z_s[l]) + jitter("a", l))
    sigma_L, cost_fn = net.sigma[L - 1], net.cost_fn
    if cost_fn.delta is not None:
        delta = cost_fn.delta(a_s[L], Y) + jitter("delta_L")
    else:
        g_s = cost_fn.dC_da(a_s[L], Y) + jitter("dC_da")
        if sigma_L.elementwise:
            delta = g_s * sigma_prime(L - 1, z_s[L - 1]) + jitter("delta_L")
        else:
            delta = sigma_L.backward(z_s[L - 1], g_s) + jitter("delta_L")
    deltas = [delta + jitter("sums")] * L
    for l in range(L - 2, -1, -1):
        t = W[l + 1].T @ deltas[l + 1] + jitter("BP2_sum", l)
        deltas[l] = t * sigma_prime(l, z_s[l]) + jitter("BP2_product", l)
    dW, db = [], []
    for l in range(L):  # dW[l] then db[l]: the order the random draws are made in
        dW.append(deltas[l] @ a_s[l].T / m + jitter("dW", l))
        db.append(deltas[l].mean(axis=1, keepdims=True) + jitter("db", l))
    return deltas, dW, db


def _abs_vjp(sigma: Activation, z: Array, g: Array) -> Array:
    """The magnitude of every term of the vjp J_sigma(z)^T g, for g >= 0.

    Elementwise: |sigma'(z)| g. Otherwise (softmax) the terms of
    a * (g - sum_k a_k g_k): a * (g + sum_k a_k g_k), which, unlike |J|^T g,
    does not vanish where a -> 1 while the rounding of the formula does not.
    """
    if sigma.elementwise:
        return np.abs(sigma.sigma_prime(z)) * g
    a = np.abs(sigma.sigma(z))
    return a * (g + np.sum(a * g, axis=-2, keepdims=True))


def _onward(ref: _Reference, l: int, rows: Array | None, change: Array,
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
    net = ref.net
    offsets = np.asarray(method.offsets)
    shift = (1j * change[None] if method.complex_step
             else offsets.reshape(-1, *[1] * change.ndim) * change[None])
    K, m = change.shape[0], change.shape[-1]
    kinked = np.zeros((K, m), dtype=bool)
    if rows is None:
        z = ref.z[l] + shift
    elif net.sigma[l].elementwise and l < ref.L - 1:
        z_row = (ref.z[l][rows] + shift)[..., None, :]  # (S, K, 1, m)
        if net.sigma[l].kinks:
            kinked |= _near_kink(net.sigma[l].kinks, z_row, ref.z[l][rows][:, None, :],
                                 ref.r_z[l][rows][:, None, :], method.complex_step)
        moved_a = net.sigma[l].sigma(z_row) - ref.a[l + 1][rows][:, None, :]
        l += 1
        z = ref.z[l] + ref.W[l][:, rows].T[:, :, None] * moved_a
    else:
        z = np.broadcast_to(ref.z[l], (len(shift), K, *ref.z[l].shape)).astype(shift.dtype)
        z[:, np.arange(K), rows, :] += shift
    while True:
        if net.sigma[l].kinks:
            kinked |= _near_kink(net.sigma[l].kinks, z, ref.z[l], ref.r_z[l],
                                 method.complex_step)
        if l == ref.L - 1:
            if net.cost_fn.value_z is not None:  # the stable form needs no a^L
                return net.cost_fn.value_z(z, ref.Y), kinked
            return net.cost_fn.value(net.sigma[l].sigma(z), ref.Y), kinked
        l += 1
        z = ref.W[l] @ net.sigma[l - 1].sigma(z) + ref.b[l]


def _near_kink(kinks: tuple[float, ...], z: Array, base: Array, radius: Array,
               complex_step: bool) -> Array:
    if complex_step:
        moved = np.imag(z[0]) != 0
        lo = hi = np.real(z[0])
    else:
        moved = np.any(z != base, axis=0)
        lo, hi = np.minimum(z.min(axis=0), base), np.maximum(z.max(axis=0), base)
    near: Array = np.zeros(moved.shape, dtype=bool)
    for kink in kinks:
        near = near | ((lo - radius <= kink) & (kink <= hi + radius))
    return np.any(near & moved, axis=-2)


Targets = Callable[[Array], tuple[Array | None, Array, Array]]


def _numeric(ref: _Reference, l: int, targets: Targets, K: int, method: Method,
             per_example: bool) -> tuple[Array, Array, Array]:
    """Numerical derivatives of K targets in layer l, in chunks that fit in memory.

    targets(ks) gives, for targets ks, the rows they move (or None), the change of
    z[l] for one step (see _onward) and the steps h ((len(ks), m) if per_example
    else (len(ks),)). Returns derivative, numerical error estimate and kink flags,
    each (K, m) if per_example (the cost C_x of each column) else (K,) (the batch
    mean C).
    """
    n, m = ref.z[l].shape
    width = n + sum(W.shape[0] for W in ref.W[l:])
    chunk = max(1, CHUNK_BYTES // (len(method.offsets) * width * m * 16))
    shape = (K, m) if per_example else (K,)
    d, err, kinked = np.empty(shape), np.empty(shape), np.empty(shape, dtype=bool)
    noise = _cost_noise(ref)
    for start in range(0, K, chunk):
        ks = np.arange(start, min(K, start + chunk))
        rows, change, h = targets(ks)
        C, kink = _onward(ref, l, rows, change, method)
        eps = np.abs(np.real(C[0])) * 16 * U64 + noise
        if not per_example:
            C, eps, kink = C.mean(axis=-1), eps.mean(axis=-1), np.any(kink, axis=-1)
        d_k, trunc = combine(method, C, h)
        rounding = 0.0 if method.complex_step else eps * method.weight_sum / h
        # Underflow: a change of f smaller than the smallest normal number is lost,
        # which for complex step (h ~ 1e-20) means derivatives below ~1e-288.
        rounding = rounding + 4 * TINY / h
        d[ks], err[ks], kinked[ks] = d_k, 4 * trunc + rounding, kink
    return d, err, kinked


def _cost_noise(ref: _Reference) -> Array:
    """Round-off of one cost value C_x in float64: a few ulps of the terms it adds up."""
    return 16 * U64 * np.sum(np.abs(ref.z[-1]) + np.abs(ref.a[-1]) + np.abs(ref.Y), axis=0)


def _gamma(ref: _Reference) -> float:
    """Tolerance per unit of E: the analytic side in its dtype plus the float64
    numerical reference, with a factor 2 for the bounds being first-order."""
    return 2 * (ref.u + U64)


@dataclass(frozen=True)
class _Target:
    """One gradient array of layer l and how its elements move z[l] (z = W a + b)."""

    equation: str
    name: str
    analytic: Array  # the array under test
    scale: Array  # E: the error model's bound, same shape
    tol: Array  # the analytic side's tolerance (see _Reference.T_delta), same shape
    per_example: bool  # delta: each column is its own cost C_x
    index_names: tuple[str, ...]
    values: Array  # the perturbed quantity (z, b or W), for the finite-difference step
    row: Callable[[Array], tuple[Array, Array]]  # k -> (row of z[l], its change per unit)
    moves: Callable[[Array], Array]  # (K, *shape) directions -> (K, n_l, m) changes of z[l]


def _targets(ref: _Reference, g: Gradients, l: int) -> list[_Target]:
    """delta[l] (BP1 or BP2), db[l] (BP3), dW[l] (BP4)."""
    m = ref.z[l].shape[1]
    n_prev = ref.a[l].shape[0]

    def ones(js: Array) -> tuple[Array, Array]:
        return js, np.ones((len(js), m))

    def weight(ks: Array) -> tuple[Array, Array]:
        j, i = np.divmod(ks, n_prev)  # W[l][j, i] moves z[l][j, :] by a[l][i, :]
        return j, ref.a[l][i, :]

    return [
        _Target("BP1" if l == ref.L - 1 else "BP2", f"delta[{l}]", g.delta[l],
                ref.E_delta[l], ref.T_delta[l], True, ("j", "x"), ref.z[l], ones, lambda U: U),
        _Target("BP3", f"db[{l}]", g.db[l], ref.E_db[l], ref.T_db[l], False, ("j", "0"),
                ref.b[l], ones, lambda U: np.broadcast_to(U, (*U.shape[:2], m))),
        _Target("BP4", f"dW[{l}]", g.dW[l], ref.E_dW[l], ref.T_dW[l], False, ("j", "i"),
                ref.W[l], weight, lambda U: U @ ref.a[l]),
    ]


def _elementwise(ref: _Reference, l: int, t: _Target, method: Method) -> Block:
    """Perturb every element of the array on its own: the full, localising check.

    delta is perturbed a row at a time: moving z[l][j, x] for every column x at
    once is m independent perturbations, one per example's cost C_x.
    """
    shape = t.analytic.shape
    h0 = method.step(U64)
    K = shape[0] if t.per_example else t.analytic.size
    scale_of = t.values if t.per_example else t.values.reshape(-1, 1)

    def targets(ks: Array) -> tuple[Array | None, Array, Array]:
        rows, unit = t.row(ks)
        h = np.full((len(ks), scale_of.shape[1]), h0) if method.complex_step else (
            h0 * np.maximum(1.0, np.abs(scale_of[ks])))
        change = unit * (h if t.per_example else h[:, :1])
        if not t.per_example:
            h = h[:, 0]
        if STRUCTURED:
            return rows, change, h
        dense = np.zeros((len(ks), *ref.z[l].shape))
        dense[np.arange(len(ks)), rows, :] = change
        return None, dense, h

    d, err, kinked = _numeric(ref, l, targets, K, method, per_example=t.per_example)
    return compare(t.equation, t.name, l, method.name, t.analytic, d.reshape(shape),
                   t.tol + err.reshape(shape) + ref.floor, kinked.reshape(shape),
                   t.index_names)


def _directional(ref: _Reference, l: int, t: _Target, method: Method, k: int,
                 rng: np.random.Generator) -> Block | None:
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

    d, err, kinked = _numeric(ref, l, targets, k, method, per_example=t.per_example)
    axes = (1,) if t.per_example else (1, 2)
    analytic = np.sum(t.analytic * U, axis=axes)
    tol = (np.sum(t.tol * np.abs(U), axis=axes)
           + t.analytic.size * U64 * np.sum(t.scale * np.abs(U), axis=axes))
    block = compare(t.equation, f"{t.name}·u", l, f"{method.name}/dir", analytic, d,
                    tol + err + ref.floor, np.zeros(d.shape, dtype=bool),
                    ("u", "x") if t.per_example else ("u",))
    return block if block.ok and not np.any(kinked) else None


def _complex_safe(ref: _Reference) -> tuple[bool, str]:
    """Probe: complex step and Richardson along one seeded random direction of z[0].

    The direction runs through every layer's activation and the cost, so a
    function that drops or mishandles Im(z) (abs, norm, conj, a real cast)
    shows up as a disagreement larger than Richardson's own error estimate.
    """
    rng = np.random.default_rng(0)
    dZ = rng.standard_normal((1, *ref.z[0].shape))
    try:
        with np.errstate(all="ignore"):
            C, kinked = _onward(ref, 0, None, dZ * COMPLEX_STEP.step(U64), COMPLEX_STEP)
    except (TypeError, ValueError) as exc:
        return False, f"the network raised {type(exc).__name__} on complex input: {exc}"
    if not np.iscomplexobj(C):
        return False, "the cost came back real for complex input"
    cs, _ = combine(COMPLEX_STEP, C, COMPLEX_STEP.step(U64))
    h = RICHARDSON.step(U64)
    C_r, kinked_r = _onward(ref, 0, None, dZ * h, RICHARDSON)
    rich, trunc = combine(RICHARDSON, C_r, h)
    scale = np.sum(np.abs(dZ[0]) * ref.E_delta[0], axis=0)
    noise = _cost_noise(ref)
    tol = 4 * trunc + noise * RICHARDSON.weight_sum / h + _gamma(ref) * scale
    bad = (np.abs(cs - rich) > tol) & ~kinked & ~kinked_r
    if np.any(bad):
        x = int(np.argmax(bad[0]))
        return False, (f"complex step disagreed with Richardson on example {x} "
                       f"({cs[0, x]:.6g} vs {rich[0, x]:.6g}): a function drops Im(z)")
    return True, "complex-safe: complex step agreed with Richardson on a random direction"


def _implementation(impl: Any) -> tuple[Impl, str]:
    if isinstance(impl, str):
        if impl == "vectorized":
            return vectorized.backprop, "vectorized.backprop"
        if impl == "loop":
            return loop.backprop, "loop.backprop"
        raise ValueError(f"impl must be 'vectorized', 'loop' or a callable, got {impl!r}")
    if callable(impl):
        return impl, getattr(impl, "__qualname__", repr(impl))
    raise TypeError(f"impl must be 'vectorized', 'loop' or a callable, got {impl!r}")


def _as_gradients(g: Any, net: Network, m: int, name: str) -> Gradients:
    """The analytic gradients as float64 arrays, after checking counts and shapes."""
    for field in ("delta", "dW", "db"):
        if not hasattr(g, field):
            raise TypeError(f"{name} must return Gradients(delta, dW, db), got {type(g).__name__}")
    sizes = net.sizes
    shapes = {
        "delta": [(n, m) for n in sizes[1:]],
        "dW": [W.shape for W in net.weights],
        "db": [(n, 1) for n in sizes[1:]],
    }
    out: dict[str, list[Array]] = {}
    for field, expected in shapes.items():
        arrays = getattr(g, field)
        if isinstance(arrays, (str, bytes, np.ndarray)) or not isinstance(arrays, Sequence):
            raise TypeError(f"{name} returned {field} of type {type(arrays).__name__}, "
                            f"expected a list of {net.L} arrays")
        if len(arrays) != net.L:
            raise ValueError(f"{name} returned {len(arrays)} arrays in {field}, "
                             f"but the network has {net.L} layers")
        out[field] = []
        for l, (array, shape) in enumerate(zip(arrays, expected, strict=True)):
            try:
                value = np.asarray(array)
            except ValueError:
                raise ValueError(f"{name} returned {field}[{l}] that is not an array of "
                                 f"shape {shape}") from None
            if value.dtype.kind not in "biuf":
                raise TypeError(f"{name} returned {field}[{l}] of dtype {value.dtype}, "
                                "expected real floats")
            if value.shape != shape:
                raise ValueError(f"{name} returned {field}[{l}] with shape {value.shape}, "
                                 f"expected {shape}")
            out[field].append(value.astype(np.float64))
    return Gradients(delta=out["delta"], dW=out["dW"], db=out["db"])


def check_network(net: Network, X: Any, Y: Any, impl: str | Impl = "vectorized", *,
                  method: str = "auto", directions: int | None = None,
                  seed: int = 0, cached_derivatives: bool = True,
                  progress: Callable[[int, int], None] | None = None) -> Report:
    """Check delta, dW and db of every layer of `impl` against numerical derivatives.

    impl: "vectorized", "loop", or a callable (net, X, Y) -> Gradients (your own
    backprop). method: "auto" (complex step when the network is complex-safe,
    else Richardson), "complex_step", "richardson" or "central".
    Each mismatch is reported under its equation: BP1 (delta of the output
    layer), BP2 (delta of the others), BP3 (db), BP4 (dW). The tolerance of each
    element comes from the error model in this module's docstring.

    directions: fast mode for large networks. Each array is checked along
    `directions` seeded random directions u (numerical directional derivative
    against <g, u>) instead of element by element; an array whose check fails
    is then checked element-wise, so failures are localised as usual. The
    projection sums N elements, so its tolerance grows with N: this mode finds
    gross errors cheaply but does not reach the element-wise sensitivity.

    cached_derivatives: True (default) allows sigma' computed from the cached
    activation (1 - a^2, a (1 - a)), which is accurate only to a few u absolute:
    where a unit saturates (sigma' < u) its elements are then checked only to
    that absolute level. Pass False when impl computes sigma'(z) to full relative
    precision (sech^2 z via e^{-2|z|}, sigmoid(z) sigmoid(-z), as sigma_prime
    does; 1 - tanh(z)^2 is no better than 1 - a^2): every element, saturated or
    not, is then checked to a few ulps of its terms.

    progress, if given, is called as progress(done, total) after each array.

    Nothing passed in is modified: the implementation receives copies.
    Raises TypeError/ValueError for bad arguments or a malformed result of impl.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a backprop.Network, got {type(net).__name__}")
    X, Y = check_XY(net, X, Y)
    rng = np.random.default_rng(check_seed(seed, optional=False))
    fn, name = _implementation(impl)
    clone = Network(net.weights, net.biases, list(net.activations), net.cost)
    g = _as_gradients(fn(clone, X.copy(), Y.copy()), net, X.shape[1], name)
    if not isinstance(cached_derivatives, bool):
        raise TypeError(f"cached_derivatives must be True or False, got {cached_derivatives!r}")
    ref = _reference(net, X, Y, cached_derivatives)
    chosen, reason = choose_method(method, lambda: _complex_safe(ref))
    if directions is not None and (isinstance(directions, bool) or not isinstance(
            directions, int) or directions < 1):
        raise ValueError(f"directions must be a positive integer or None, got {directions!r}")
    blocks: list[Block] = []
    for l in range(net.L - 1, -1, -1):
        for target in _targets(ref, g, l):
            block = None
            if directions is not None:
                block = _directional(ref, l, target, chosen, directions, rng)
            blocks.append(block or _elementwise(ref, l, target, chosen))
            if progress is not None:
                progress(len(blocks), 3 * net.L)
    return Report(blocks, chosen.name, reason, title=f"check_network({name}) {net!r}")


def error_scales(net: Network, X: Any, Y: Any) -> tuple[Gradients, float]:
    """The error model's bounds E for delta, dW and db, in units of the returned u.

    A correct computation of the gradients in the network's dtype (unit
    roundoff u) is off by at most about u * E, element by element.
    """
    X, Y = check_XY(net, X, Y)
    ref = _reference(net, X, Y)
    return Gradients(delta=ref.E_delta, dW=ref.E_dW, db=ref.E_db), ref.u


def tolerances(net: Network, X: Any, Y: Any, cached_derivatives: bool = True) -> Gradients:
    """The analytic side's tolerance for every element of delta, dW and db.

    min(2 (u + u64) E, SAFETY * the largest deviation over SAMPLES perturbed
    re-runs), plus the underflow floor: what check_network allows an element to
    differ from the numerical reference, before the numerical method's own error.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a backprop.Network, got {type(net).__name__}")
    if not isinstance(cached_derivatives, bool):
        raise TypeError(f"cached_derivatives must be True or False, got {cached_derivatives!r}")
    X, Y = check_XY(net, X, Y)
    ref = _reference(net, X, Y, cached_derivatives)
    return Gradients(delta=[t + ref.floor for t in ref.T_delta],
                     dW=[t + ref.floor for t in ref.T_dW],
                     db=[t + ref.floor for t in ref.T_db])

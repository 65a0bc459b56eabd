"""The error model: how far a correct backprop may be from the float64 reference.

The tolerance of the analytic side, element k of delta, dW or db (the rule is
`tolerance`, the one place it is computed):

    tol_k = min(2 (u + u64) E_k, SAFETY D_k) + 16 tiny + 2 tiny F_k   (+ the numerical
                                                                       error: see perturb)

u is the unit roundoff of the network's dtype (float32 networks are judged by
float32 rounding), u64 that of the float64 numerical reference, tiny the
dtype's smallest normal number.

E, D and F are all built from one table of local rounding terms (`Table`, made
by `local_terms`): each intermediate of backprop, with a bound on the rounding
of that one operation, in units of the roundoff (u + u64), made of the
reference's magnitudes (`Magnitudes`):

    intermediate        local bound                                  roundings
    z[l]                |W[l]| |a[l]| + |b[l]|                       n_l + 2
    a[l+1]              ulps |a|;  softmax (n + ulps) |a| (its sum)
    sigma'(z[l])        ulps |sigma'| + curvature ulps |a| (if cached)
    dC/da               ulps (|dC/da| + |a| + |y|)
    delta^L             |a| + |y| + the general form's extra (a - y);
                        |dC/da sigma'| (elementwise); 4 |J^T dC/da| terms (softmax)
      output sums       (n_L + 4)(P + spread), in u64 alone for an elementwise output
    W[l+1]^T delta      |W[l+1]|^T |delta[l+1]|                      n_{l+1} + 1
    ⊙ sigma'            |W^T delta| |sigma'|
    dW[l]               |delta| |a|^T / m                            m + 2
    db[l]               mean |delta|                                 m + 1

A dot product of n terms is off by at most (n + 1) u times the sum of its
absolute terms, and each further operation on it adds one rounding: so z, a
dot product of n_l terms plus the bias, has n_l + 2. P is the magnitude of
delta^L's terms; spread = |a| sum_k |y_k| under softmax (every term of the
log-sum-exp moves), else 0. The output sums are the reference's own (it
differentiates the summed cost) and, under softmax, the analytic side's too.

E, the worst case (`propagate`): every local bound with its `roundings` as a
factor, carried to first order through the network alongside the gradient
(errors of z, a, delta through |W| and |sigma'|, an error of z into sigma' by
curvature |sigma'|, into softmax by |J|), every error taking the sign that
hurts most. FIRST_ORDER = 2 in the tolerance covers the bound being first-order.

D, the sampled deviation (checks.netcheck.sampled): the largest deviation of
element k over SAMPLES re-runs of the gradient computation in float64 in which
every intermediate is moved by a random fraction, uniform in [-1, 1], of
(u + u64) times its local bound, a sum by sqrt(roundings) times it (n
independent roundings of at most u times the sum have a standard deviation of
at most sqrt(n / 3) u times it: the probabilistic rounding model of Higham and
Mary). This is Monte Carlo arithmetic: it keeps the signs, so it sees the
cancellation that makes E, on elements that are sums of cancelling terms, far
too pessimistic. SAFETY on the largest of the SAMPLES.

ulps is the accuracy assumed of the implementation's elementwise functions
(sigma, sigma', dC/da and the exp, log, tanh inside them): ULPS by default,
numpy's own are within ~1. What the defaults catch and how close correct
gradients come to their tolerance, measured: docs/calibration.md.

Underflow, F: with flush-to-zero arithmetic (XLA on CPU, torch with
set_flush_denormal, most GPU float32 code) every operation may also lose up
to tiny, whatever the size of its result; gradual underflow loses less. F is
`propagate` run on the flush table (`flush_terms`: one unit per rounding in
place of every local bound), carried through the network with the same
magnitudes: how far flushing can move each element, in units of tiny.
COMPARISON_FLOOR tiny covers the comparison's own underflow.

Cached derivatives: sigma' computed from the cached activation (1 - a^2,
a (1 - a)) is only good to curvature ulps |a| u absolute; `cached=False` drops
that term for a backprop that computes sigma'(z) to full relative precision.
BP1's general form dC/da ⊙ sigma'(z), where the cost has the simplification
a - y, is allowed its extra rounding while stable (see `general_bp1`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from backprop import Activation, Array, ArrayId, Network
from backprop.arrays import per_array
from backprop.feedforward import forward_arrays
from checks.engine.stencils import COMPLEX_STEP, U64

# The constants of the tolerance rule (`tolerance`); measured in docs/calibration.md.
FIRST_ORDER = 2  # E is a first-order bound: this factor covers the rest
SAMPLES = 16  # perturbed re-runs of the gradient computation for D (checks.netcheck.sampled)
SAFETY = 8  # tolerance factor on the largest deviation seen over the samples
COMPARISON_FLOOR = 16  # in units of tiny: the comparison's own underflow
ULPS = 4  # default accuracy assumed of each elementwise function under test (see `local_terms`)
GENERAL_BP1_CAP = 16.0  # beyond this sensitivity the general form of BP1 is not accepted


@dataclass(frozen=True)
class Reference:
    """The network in float64 and its forward pass: what the checker differentiates."""

    net: Network
    W: list[Array]
    b: list[Array]
    X: Array
    Y: Array
    z: list[Array]
    a: list[Array]
    u: float  # unit roundoff of the network's dtype
    tiny: float  # the dtype's smallest normal number: below it results lose their digits

    @property
    def L(self) -> int:
        return len(self.W)

    @property
    def tolerance_per_E(self) -> float:
        """FIRST_ORDER (u + u64): the tolerance per unit of E, the analytic side in its
        dtype plus the float64 reference."""
        return FIRST_ORDER * (self.u + U64)


def reference(net: Network, X: Array, Y: Array) -> Reference:
    """net, X and Y cast to float64 and run forward: built once per check."""
    W = [w.astype(np.float64) for w in net.weights]
    b = [v.astype(np.float64) for v in net.biases]
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    trace = forward_arrays(W, b, net.sigma, X64)
    return Reference(net, W, b, X64, Y64, trace.z, trace.a,
                     u=float(np.finfo(net.dtype).eps) / 2, tiny=float(np.finfo(net.dtype).tiny))


@dataclass(frozen=True)
class Term:
    """The local rounding of one intermediate: at most (u + u64) * unit * `worst`.

    bound: per element, in units of the roundoff. roundings: for a sum, how many
    roundings the bound counts (worst case roundings x bound, sampled
    sqrt(roundings) x bound); 0 for a single operation (the bound as it is).
    unit: the share of u + u64 it is in (the output sums: see `weight_of_sums`).
    """

    bound: Array
    roundings: int = 0
    unit: float = 1.0

    @property
    def worst(self) -> Array:
        return self.unit * (self.roundings * self.bound if self.roundings else self.bound)

    @property
    def sampled(self) -> Array:
        return np.sqrt(self.roundings) * self.bound if self.roundings else self.bound


@dataclass(frozen=True)
class Magnitudes:
    """The raw magnitudes of the reference that the local bounds are made of and
    that E is carried through: |W|, |a|, |sigma'(z)|, |dC/da| and P.

    BP2-BP4's magnitudes are functions of the magnitude M of the deltas they read:
    the worst case passes its bounds on them, the sampled re-runs the unperturbed deltas.
    """

    W: list[Array]  # |W[l]|
    a: list[Array]  # |a[l]|
    sigma_prime: list[Array | None]  # |sigma'(z[l])|; None: softmax, never asked for
    dC_da: Array | None  # |dC/da|; None: the cost's simplified BP1 needs no dC/da
    P: Array  # the magnitude of delta^L's terms

    def W_T_delta(self, l: int, M_next: Array) -> Array:
        """|W[l+1]|^T M: the terms of W[l+1]^T delta[l+1]."""
        return self.W[l + 1].T @ M_next

    def times_sigma_prime(self, l: int, M_t: Array) -> Array:
        """M_t |sigma'(z[l])|: (W^T delta) ⊙ sigma'(z[l])."""
        d = self.sigma_prime[l]
        assert d is not None, "only elementwise layers have a BP2"
        return M_t * d

    def dW(self, l: int, M: Array) -> Array:
        """M |a[l]|^T / m: the terms of delta[l] a[l]^T / m."""
        m = M.shape[1]
        return M @ self.a[l].T / m

    def db(self, l: int, M: Array) -> Array:
        """mean M: the terms of the mean of delta[l] over m examples."""
        return M.mean(axis=1, keepdims=True)


@dataclass(frozen=True)
class Table:
    """The local rounding terms of one network and batch (see the module docstring),
    read from `magnitudes`, the reference's.

    The terms of the forward pass and of BP1 are fixed; those of BP2-BP4 are
    given the magnitude M of the deltas they read (see Magnitudes). unit_bounds:
    every BP2-BP4 bound is one unit per element (the flush table, `flush_terms`).
    """

    z: list[Term]
    a: list[Term]
    sigma_prime: list[Term | None]  # None: softmax, whose sigma' is never asked for
    dC_da: Term | None  # None: the cost's simplified BP1 needs no dC/da
    delta_L: Term
    sums: Term
    magnitudes: Magnitudes
    unit_bounds: bool = False

    def W_T_delta(self, l: int, M_next: Array) -> Term:
        """W[l+1]^T delta[l+1]: a dot product of n_{l+1} terms."""
        return self.term(self.magnitudes.W_T_delta(l, M_next),
                         self.magnitudes.W[l + 1].shape[0] + 1)

    def times_sigma_prime(self, l: int, M_t: Array) -> Term:
        """(W^T delta) ⊙ sigma'(z[l]): one product."""
        return self.term(self.magnitudes.times_sigma_prime(l, M_t))

    def dW(self, l: int, M: Array) -> Term:
        """delta[l] a[l]^T / m: a dot product of m terms, then the division."""
        return self.term(self.magnitudes.dW(l, M), M.shape[1] + 2)

    def db(self, l: int, M: Array) -> Term:
        """The mean of delta[l] over m examples."""
        return self.term(self.magnitudes.db(l, M), M.shape[1] + 1)

    def term(self, bound: Array, roundings: int = 0) -> Term:
        return Term(np.ones(np.shape(bound)) if self.unit_bounds else bound, roundings)


def local_terms(ref: Reference, cached: bool, ulps: float = ULPS) -> Table:
    """The table for ref. ulps: how far, in units of the roundoff, each elementwise
    function of the implementation under test (sigma, sigma', dC/da and the exp and
    log inside them) may be off; the tolerance scales with it."""
    net, W, b, z, a, Y = ref.net, ref.W, ref.b, ref.z, ref.a, ref.Y
    L = ref.L
    abs_W = [np.abs(W_l) for W_l in W]
    abs_a = [np.abs(a_l) for a_l in a]
    abs_sigma_prime = [np.abs(s.sigma_prime(z_l)) if s.elementwise else None
                       for s, z_l in zip(net.sigma, z, strict=True)]
    z_terms = [Term(abs_W[l] @ abs_a[l] + np.abs(b[l]), W[l].shape[1] + 2) for l in range(L)]
    a_terms = [Term((ulps if net.sigma[l].elementwise else a[l + 1].shape[0] + ulps)
                    * abs_a[l + 1]) for l in range(L)]
    sigma_prime_terms: list[Term | None] = []
    for sigma, d, a_next in zip(net.sigma, abs_sigma_prime, abs_a[1:], strict=True):
        sigma_prime_terms.append(None if d is None else Term(
            ulps * d + sigma.curvature * (ulps * a_next if cached else 0.0)))
    sigma_L, cost_fn = net.sigma[L - 1], net.cost_fn
    dC_da: Term | None = None
    g: Array | None = None
    if cost_fn.delta is not None:  # delta^L = a - y, or the general form
        P = abs_a[L] + np.abs(Y)
        delta_L = Term(P + general_bp1(net, z[L - 1], a[L], Y, ulps))
    else:  # delta^L = J^T dC/da; dC/da's error taken as that of a - y (exact for quadratic)
        g = np.abs(cost_fn.dC_da(a[L], Y))
        dC_da = Term(ulps * (g + abs_a[L] + np.abs(Y)))
        if sigma_L.elementwise:
            d_L = abs_sigma_prime[L - 1]
            assert d_L is not None
            P = g * d_L
            delta_L = Term(P)
        else:
            P = abs_vjp(sigma_L, z[L - 1], g)
            delta_L = Term(4 * P)
    # The numerical reference differentiates the summed cost: its rounding grows
    # with the n_L terms of the sum. Under softmax every term moves, by up to
    # a_j sum_k |y_k| (the log-sum-exp), not just the j-th.
    spread = 0.0 if sigma_L.elementwise else abs_a[L] * np.sum(np.abs(Y), axis=0, keepdims=True)
    sums = Term((a[L].shape[0] + 4) * (P + spread), unit=weight_of_sums(sigma_L, ref.u))
    return Table(z_terms, a_terms, sigma_prime_terms, dC_da, delta_L, sums,
                 Magnitudes(abs_W, abs_a, abs_sigma_prime, g, P))


def general_bp1(net: Network, z_L: Array, a_L: Array, Y: Array,
                ulps: float = ULPS) -> Array | float:
    """What BP1 in its general form, dC/da ⊙ sigma'(z), adds to the rounding of a - y.

    The two are the same function of z, but the general form rounds a itself
    (ulps |a| u) and then feeds it through dC/da, whose sensitivity to a, times
    sigma'(z), is s = |sigma'(z) d(dC/da)/da| rather than 1 (cross-entropy:
    dC/da = (a - y) / (a (1 - a)), where 1 - a amplifies a's rounding). Allowed
    up to s = GENERAL_BP1_CAP: beyond it (an output nearly saturated) the general
    form is numerically unstable, loses far more than a few ulps, and is not a
    rounding the checker forgives. Plus a few ulps of its own operations (8 |a - y|).
    Softmax: its general form is covered by the n_L-term output sums.
    """
    sigma_L, cost_fn = net.sigma[-1], net.cost_fn
    if not sigma_L.elementwise:
        return 0.0
    h = COMPLEX_STEP.step(U64)
    with np.errstate(all="ignore"):  # dC/da is infinite where a saturates: s is capped
        slope = np.imag(cost_fn.dC_da(a_L + 1j * h, Y)) / h
        s = np.fmin(np.abs(sigma_L.sigma_prime(z_L) * slope), GENERAL_BP1_CAP)
    return s * ulps * np.abs(a_L) + 8 * np.abs(a_L - Y)


def weight_of_sums(sigma_L: Activation, u: float) -> float:
    """Share of u + u64 that the output layer's n_L-term sums carry.

    Under softmax all of it: the analytic side sums n_L terms per column too,
    whichever correct form of BP1 it uses (the normalisation of a, or
    sum_k a_k g_k in J^T dC/da = a (g - sum_k a_k g_k)). For an elementwise
    output the sums are the reference's alone: u64's share.
    """
    return 1.0 if not sigma_L.elementwise else U64 / (u + U64)


def abs_vjp(sigma: Activation, z: Array, g: Array) -> Array:
    """The magnitude of every term of the vjp J_sigma(z)^T g, for g >= 0.

    Elementwise: |sigma'(z)| g. Otherwise (softmax) the terms of
    a * (g - sum_k a_k g_k): a * (g + sum_k a_k g_k), which, unlike |J|^T g,
    does not vanish where a -> 1 while the rounding of the formula does not.
    """
    if sigma.elementwise:
        return np.abs(sigma.sigma_prime(z)) * g
    a = np.abs(sigma.sigma(z))
    return a * (g + np.sum(a * g, axis=-2, keepdims=True))


@dataclass(frozen=True)
class WorstCase:
    """First-order bounds, in units of the roundoff (or of tiny, for the flush
    table), on the rounding of z and of every gradient element."""

    z: list[Array]
    bounds: dict[ArrayId, Array]  # per array of delta, db and dW


def propagate(ref: Reference, of: Magnitudes, local: Table) -> WorstCase:
    """The local terms of `local` carried to first order through the network with the
    magnitudes `of`, every error taking the sign that hurts most: E for the table of
    rounding terms, F for the flush table."""
    net, z, L, m = ref.net, ref.z, ref.L, ref.X.shape[1]
    E_z: list[Array] = []
    E_a: list[Array] = [np.zeros_like(ref.X)]
    for l in range(L):
        E_z.append(local.z[l].worst + of.W[l] @ E_a[l])
        E_a.append(abs_vjp(net.sigma[l], z[l], E_z[l]) + local.a[l].worst)

    def E_sigma_prime(l: int) -> Array:
        term, d = local.sigma_prime[l], of.sigma_prime[l]
        assert term is not None and d is not None
        return term.worst + net.sigma[l].curvature * d * E_z[l]

    sigma_L, P = net.sigma[L - 1], of.P
    if local.dC_da is None:  # a - y: a's error passes with factor 1
        E = E_a[L] + local.delta_L.worst
    else:
        E_g = local.dC_da.worst + E_a[L]
        if sigma_L.elementwise:
            d_L, g = of.sigma_prime[L - 1], of.dC_da
            assert d_L is not None and g is not None
            E = g * E_sigma_prime(L - 1) + E_g * d_L + local.delta_L.worst
        else:
            E = local.delta_L.worst + abs_vjp(sigma_L, z[L - 1], E_g) + P * E_z[L - 1]
    E = E + local.sums.worst
    P_delta, E_delta = [P] * L, [E] * L
    for l in range(L - 2, -1, -1):
        d = of.sigma_prime[l]
        assert d is not None
        M_t = of.W_T_delta(l, P_delta[l + 1])
        E_t = of.W[l + 1].T @ E_delta[l + 1] + local.W_T_delta(l, P_delta[l + 1]).worst
        P_delta[l] = of.times_sigma_prime(l, M_t)
        E_delta[l] = E_t * d + M_t * E_sigma_prime(l) + local.times_sigma_prime(l, M_t).worst
    E_dW = [(E_delta[l] @ of.a[l].T + P_delta[l] @ E_a[l].T) / m
            + local.dW(l, P_delta[l]).worst for l in range(L)]
    E_db = [E_delta[l].mean(axis=1, keepdims=True) + local.db(l, P_delta[l]).worst
            for l in range(L)]
    return WorstCase(E_z, per_array(L, delta=E_delta, db=E_db, dW=E_dW))


def flush_terms(ref: Reference, table: Table) -> Table:
    """The flush table: each operation may lose up to tiny (the dtype's smallest
    normal number) absolutely, one unit per rounding, whatever its size. table
    with every local bound replaced by one unit per element, the roundings kept.

    The output sums are the float64 reference's for an elementwise output (it
    flushes below 2^-1022: nothing) and, under softmax, the analytic side's too.
    """
    def ones(term: Term) -> Term:
        return Term(np.ones(np.shape(term.bound)), term.roundings)

    softmax = not ref.net.sigma[-1].elementwise
    n_L = ref.a[-1].shape[0]
    return dataclasses.replace(
        table, z=[ones(t) for t in table.z], a=[ones(t) for t in table.a],
        sigma_prime=[None if t is None else ones(t) for t in table.sigma_prime],
        dC_da=None if table.dC_da is None else ones(table.dC_da),
        delta_L=ones(table.delta_L),
        sums=Term((n_L + 4.0 if softmax else 0.0) * np.ones(np.shape(table.sums.bound))),
        unit_bounds=True)


@dataclass(frozen=True)
class Model:
    """What the checker needs of the error model for one network and batch."""

    ref: Reference
    E: Mapping[ArrayId, Array]  # worst-case bounds, in units of the roundoff
    tol: Mapping[ArrayId, Array]  # the analytic side's tolerance (`tolerance`)
    r_z: list[Array]  # rounding radius of z in the network's dtype (for kinks)


def tolerance(ref: Reference, E: WorstCase, D: Mapping[ArrayId, Array],
              F: WorstCase) -> Model:
    """tol = min(FIRST_ORDER (u + u64) E, SAFETY D) + COMPARISON_FLOOR tiny
    + FIRST_ORDER tiny F per element; r_z = u E_z.

    F is E for the flush table (flush_terms): how far flushing results below
    tiny to zero can move each element, in units of tiny; FIRST_ORDER as for E.
    """
    floor = COMPARISON_FLOOR * ref.tiny
    tol = {a: np.minimum(ref.tolerance_per_E * E_a, SAFETY * D[a])
           + (floor + FIRST_ORDER * ref.tiny * F.bounds[a]) for a, E_a in E.bounds.items()}
    return Model(ref, E.bounds, tol, [ref.u * e for e in E.z])

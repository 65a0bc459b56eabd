"""D, the sampled deviations of the error model (see checks.netcheck.error_model).

The gradients are computed again, SAMPLES times, by the derivation
(backprop.derivation) in float64, with every intermediate moved by a random
fraction, uniform in [-1, 1], of (u + u64) times its local rounding bound from
the table, a sum's by sqrt(roundings). D is, per element of delta, dW and db,
the largest deviation from the unperturbed run.
"""

from __future__ import annotations

import numpy as np

from backprop import Array, ArrayId, Gradients, derivation
from backprop.arrays import arrays_of
from checks.engine.stencils import U64
from checks.netcheck.error_model import SAMPLES, Reference, Table, Term

Terms = dict[str, list[tuple[Term, ...]]]


def sampled_terms(ref: Reference, table: Table, base: Gradients) -> Terms:
    """The terms each intermediate of the derivation is moved by, keyed by the name
    its rounding hook gives it, a tuple per layer (delta^L: its own, then the
    output sums). BP2-BP4 read the magnitudes of the unperturbed deltas (base).
    """
    L = ref.L
    last = [()] * (L - 1)
    M = [np.abs(delta) for delta in base.delta]
    W_T_delta = [table.W_T_delta(l, M[l + 1]) for l in range(L - 1)]
    return {
        "z": [(t,) for t in table.z],
        "a": [(t,) for t in table.a],
        "sigma_prime": [() if t is None else (t,) for t in table.sigma_prime],
        "dC_da": [*last, () if table.dC_da is None else (table.dC_da,)],
        "delta_L": [*last, (table.delta_L, table.sums)],
        "W_T_delta": [(t,) for t in W_T_delta],
        "times_sigma_prime": [
            (table.times_sigma_prime(l, np.abs(ref.W[l + 1].T @ base.delta[l + 1])),)
            for l in range(L - 1)],
        "dW": [(table.dW(l, M[l]),) for l in range(L)],
        "db": [(table.db(l, M[l]),) for l in range(L)],
    }


def sampled_deviations(ref: Reference, table: Table) -> dict[ArrayId, Array]:
    """Per array of delta, dW and db: max over SAMPLES re-runs of |g_s - g_0|.

    One sample at a time: memory is that of one backprop. The generator is
    seeded: the same inputs give the same tolerances.
    """
    rng = np.random.default_rng(0)
    net = ref.net

    def run(rounding: derivation.Rounding) -> Gradients:
        return derivation.backprop(ref.W, ref.b, net.sigma, net.cost_fn, ref.X, ref.Y,
                                   rounding=rounding)

    unperturbed = run(derivation.exact)
    base = arrays_of(unperturbed, ref.L)
    terms = sampled_terms(ref, table, unperturbed)
    u_s = ref.u + U64

    def jitter(name: str, l: int, value: Array) -> Array:
        for term in terms[name][l]:
            scale = term.sampled
            value = value + u_s * term.unit * rng.uniform(-1.0, 1.0, np.shape(scale)) * scale
        return value

    deviation = {a: np.zeros_like(x) for a, x in base.items()}
    for _ in range(SAMPLES):
        for a, x in arrays_of(run(jitter), ref.L).items():
            np.maximum(deviation[a], np.abs(x - base[a]), out=deviation[a])
    return deviation

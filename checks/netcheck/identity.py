"""The identity check: the simplified output delta^L = a^L - y against the general BP1.

Two costs pair with an output activation so that BP1, delta^L = J^T dC/da (J the
output activation's Jacobian), simplifies to a^L - y: cross_entropy with sigmoid,
categorical_cross_entropy with softmax (Cost.delta). `identity_check` compares the
two forms in float64 on a batch, without any implementation under check: it
verifies the simplification itself, per network (backprop-check's
"a − y = general BP1" row).
"""

from __future__ import annotations

import numpy as np

from backprop import Array, Network
from backprop.arrays import INDEX_NAMES
from backprop.derivation import Pass, general_output_delta
from checks.netcheck.error_model import reference
from checks.report import Report, compare


def identity_check(net: Network, X: Array, Y: Array) -> Report | None:
    """a^L - y = J^T dC/da (float64), or None when net's cost has no simplified delta^L."""
    cost_fn = net.cost_fn
    if cost_fn.delta is None:
        return None
    ref = reference(net, X, Y)
    a, Y64 = ref.a[-1], ref.Y
    if cost_fn.targets == "distributions":
        # The general form is then a sum_k y_k - y: a - y only where each column of
        # y sums to 1. check_XY accepts sums off by a few ulps of the network's
        # dtype (a float32 Y, read in float64, is off by ~1e-8): renormalise.
        Y64 = Y64 / Y64.sum(axis=0, keepdims=True)
    simple = cost_fn.delta(a, Y64)
    general = general_output_delta(Pass(ref.W, net.sigma, cost_fn, Y64, ref.z, ref.a))
    # Both are computed in float64; the general form divides by a(1 - a) (or a),
    # whose rounding is relative to 1/a: allow 64 u on that scale. a is exactly 0 or 1
    # in a one-unit softmax (always 1) or a saturated unit: tiny keeps that scale finite.
    tiny = np.finfo(np.float64).tiny
    scale = (np.abs(a) + np.abs(Y64)) / np.maximum(np.minimum(np.abs(a), np.abs(1 - a)), tiny)
    tol = 64 * np.finfo(np.float64).eps * scale
    block = compare("a-y=BP1", "delta[L-1]", net.L - 1, "exact", simple, general, tol,
                    np.zeros(simple.shape, dtype=bool), INDEX_NAMES["delta"])
    return Report([block], "exact", "simplification vs general BP1")

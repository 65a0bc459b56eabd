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
from backprop.network import forward_arrays
from checks.report import Report, compare


def float64_output(net: Network, X: Array) -> tuple[Array, Array]:
    """a^L and z^L of net on X, every parameter and X cast to float64 first."""
    W = [w.astype(np.float64) for w in net.weights]
    b = [v.astype(np.float64) for v in net.biases]
    trace = forward_arrays(W, b, net.sigma, X.astype(np.float64))
    return trace.a[-1], trace.z[-1]


def identity_check(net: Network, X: Array, Y: Array) -> Report | None:
    """a^L - y = J^T dC/da (float64), or None when net's cost has no simplified delta^L."""
    cost_fn = net.cost_fn
    if cost_fn.delta is None:
        return None
    a, z = float64_output(net, X)
    Y64 = Y.astype(np.float64)
    if cost_fn.targets == "distributions":
        # The general form is then a sum_k y_k - y: a - y only where each column of
        # y sums to 1. check_XY accepts sums off by a few ulps of the network's
        # dtype (a float32 Y, read in float64, is off by ~1e-8): renormalise.
        Y64 = Y64 / Y64.sum(axis=0, keepdims=True)
    simple = cost_fn.delta(a, Y64)
    general = net.sigma[-1].backward(z, cost_fn.dC_da(a, Y64))
    # Both are computed in float64; the general form divides by a(1 - a) (or a),
    # whose rounding is relative to 1/a: allow 64 u on that scale.
    scale = (np.abs(a) + np.abs(Y64)) / np.minimum(np.abs(a), np.abs(1 - a))
    tol = 64 * np.finfo(np.float64).eps * scale
    block = compare("a-y=BP1", "delta[L-1]", net.L - 1, "exact", simple, general, tol,
                    np.zeros(simple.shape, dtype=bool), ("j", "x"))
    return Report([block], "exact", "simplification vs general BP1")

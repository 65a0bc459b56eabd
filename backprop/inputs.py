"""The checks of a call's network and batch: check_net, check_X, check_XY.

What forward, cost and both backprops run first, and what `checks` runs on the
arguments of its own entry points; the messages are those of `backprop.validate`
(what was given, what was expected), and a batch large enough to overflow is
refused by `backprop.overflow` before any arithmetic.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backprop import validate as v
from backprop._types import Array
from backprop.network import Network
from backprop.overflow import largest, require_no_overflow


def check_net(net: Any) -> Network:
    """net itself, if it is a Network; TypeError otherwise."""
    if not isinstance(net, Network):
        raise TypeError(f"net must be a backprop.Network, got {type(net).__name__}")
    return net


def check_X(net: Network, X: Any) -> Array:
    """X as a (n_0, m) array of the network's dtype, small enough not to overflow."""
    check_net(net)
    X_in = X
    X = v.as_matrix(X, "X", net.sizes[0], net.dtype, "the network's input layer",
                    check_finite=False)
    require_no_overflow(net, largest(X_in, X, "X"), None)
    return X


def check_XY(net: Network, X: Any, Y: Any) -> tuple[Array, Array]:
    """X (n_0, m) and Y (n_L, m), with targets that suit the cost, small enough not to
    overflow. Not copied when already C-ordered arrays of the network's dtype."""
    check_net(net)
    # No copies: every caller only reads X and Y (and check_network hands a user's
    # backprop copies of its own).
    # Finiteness is checked along with the largest magnitude: one pass over X fewer.
    X_in, Y_in = X, Y
    X = v.as_matrix(X, "X", net.sizes[0], net.dtype, "the network's input layer", copy=False,
                    check_finite=False)
    X_max = largest(X_in, X, "X")
    Y = v.as_matrix(Y, "Y", net.sizes[-1], net.dtype, "the network's output layer", copy=False,
                    check_finite=False)
    Y_max = largest(Y_in, Y, "Y")
    if Y.shape[1] != X.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} examples (columns) but Y has {Y.shape[1]}: "
            "they must match"
        )
    if net.cost_fn.targets != "real" and (np.any(Y < 0) or np.any(Y > 1)):  # NaN refused above
        j, x = np.argwhere((Y < 0) | (Y > 1))[0]
        raise ValueError(f"Y[{j}, {x}] = {Y[j, x]}, but cost {net.cost!r} needs targets "
                         "in [0, 1]")
    if net.cost_fn.targets == "distributions":
        sums = Y.sum(axis=0)
        tol = 8 * Y.shape[0] * np.finfo(net.dtype).eps
        if np.any(np.abs(sums - 1) > tol):
            x = int(np.argmax(np.abs(sums - 1)))
            raise ValueError(
                f"each column of Y must be a distribution (sum 1) for cost {net.cost!r}, "
                f"but column {x} sums to {float(sums[x])!r} (off by {sums[x] - 1:.2g}, tolerance "
                f"{tol:.2g} in {net.dtype}): normalise Y in the network's dtype"
            )
    require_no_overflow(net, X_max, Y_max)
    return X, Y

"""Hypothesis strategies for networks and matching batches, for your tests and ours.

    from hypothesis import given
    from checks.strategies import networks, batches

    @given(data=st.data(), net=networks(max_depth=3))
    def test_mine(data, net):
        X, Y = data.draw(batches(net))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as exc:  # hypothesis is the [test] extra's, not a dependency
    raise ImportError(
        "checks.strategies needs hypothesis, which a plain install leaves out: install "
        "the test extra, pip install 'backprop-check[test]' (or pip install -e '.[test]' "
        f"from a clone) ({exc})", name=exc.name) from exc

from backprop import ACTIVATIONS, COSTS, HIDDEN, Array, Network


def _output_choices(cost: str) -> list[str]:
    required = COSTS[cost].requires
    return [required] if required is not None else list(ACTIVATIONS)


@st.composite
def networks(
    draw: st.DrawFn,
    *,
    min_depth: int = 1,
    max_depth: int = 4,
    min_width: int = 1,
    max_width: int = 8,
    activations: Sequence[str] = HIDDEN,
    costs: Sequence[str] = tuple(COSTS),
    dtypes: Sequence[Any] = (np.float64,),
    max_scale: float = 3.0,
) -> Network:
    """A random Network: depth (layers with weights), widths, activations, cost, dtype.

    Hidden layers draw from `activations`; the output layer draws from every
    activation that suits the cost (cross_entropy -> sigmoid,
    categorical_cross_entropy -> softmax). Weights come from Network.random with
    a drawn seed and a weight scale in [0.1, max_scale].
    """
    L = draw(st.integers(min_depth, max_depth))
    sizes = draw(st.lists(st.integers(min_width, max_width), min_size=L + 1, max_size=L + 1))
    cost = draw(st.sampled_from(list(costs)))
    hidden = [draw(st.sampled_from(list(activations))) for _ in range(L - 1)]
    output = draw(st.sampled_from(_output_choices(cost)))
    if output == "softmax" and sizes[-1] == 1 and cost == "quadratic":
        output = "sigmoid"  # a one-unit softmax is the constant 1: nothing to check
    return Network.random(
        sizes,
        activations=[*hidden, output],
        cost=cost,
        seed=draw(st.integers(0, 2**32 - 1)),
        dtype=draw(st.sampled_from(list(dtypes))),
        scale=draw(st.floats(0.1, max_scale)),
    )


@st.composite
def batches(
    draw: st.DrawFn, net: Network, *, min_batch: int = 1, max_batch: int = 8
) -> tuple[Array, Array]:
    """(X, Y) for `net`: X (n_0, m) in [-2, 2]; Y (n_L, m) valid targets for its cost.

    Y is the cost's Cost.sample_targets of values drawn in [0, 1]: quadratic
    Y in [-2, 2]; cross_entropy Y in [0, 1]; categorical_cross_entropy each
    column a probability distribution.
    """
    m = draw(st.integers(min_batch, max_batch))
    n_0, n_L = net.sizes[0], net.sizes[-1]
    X = draw(hnp.arrays(np.float64, (n_0, m), elements=st.floats(-2, 2)))
    u = draw(hnp.arrays(np.float64, (n_L, m), elements=st.floats(0, 1)))
    return X.astype(net.dtype), net.cost_fn.sample_targets(u).astype(net.dtype)

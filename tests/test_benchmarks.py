"""Loop vs vectorized backprop (group "backprop"). Timed only with --benchmark-enable.

    pytest tests/test_benchmarks.py --benchmark-only --benchmark-enable
"""

import numpy as np
import pytest

from backprop import Network, loop, vectorized

SIZES = {"tiny [4,3,2] m=1": ([4, 3, 2], 1), "small [16,8,4] m=8": ([16, 8, 4], 8),
         "medium [64,32,10] m=16": ([64, 32, 10], 16)}


def case(sizes, m):
    net = Network.random(sizes, "tanh", seed=0)
    rng = np.random.default_rng(0)
    return net, rng.standard_normal((sizes[0], m)), rng.standard_normal((sizes[-1], m))


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["loop", "vectorized"])
def test_backprop_speed(benchmark, impl, size):
    benchmark.group = f"backprop {size}"
    net, X, Y = case(*SIZES[size])
    fn = {"loop": loop.backprop, "vectorized": vectorized.backprop}[impl]
    g = benchmark(fn, net, X, Y)
    reference = vectorized.backprop(net, X, Y)
    np.testing.assert_allclose(g.dW[0], reference.dW[0], rtol=1e-10, atol=1e-14)

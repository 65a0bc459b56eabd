"""Timings: loop vs vectorized, and vectorized vs its matmul-only lower bound.

    pytest tests/benchmarks/test_benchmarks.py --benchmark-only --benchmark-enable

The default run (--benchmark-disable) calls each function once, untimed, and
still checks its result. Ratios measured side by side, which survive a machine
whose speed drifts, come from `python -m tools.bench`.
"""

import numpy as np
import pytest

from backprop import Network, derivation, forward, loop, vectorized
from tools.bench import BIG, matmul_only, problem

SIZES = {"tiny [4,3,2] m=1": ([4, 3, 2], 1), "small [16,8,4] m=8": ([16, 8, 4], 8),
         "medium [64,32,10] m=16": ([64, 32, 10], 16)}
DTYPES = [np.float64, np.float32]
BIG_NAME = "[784,256,256,10] m=256"


def reference(net: Network, X, Y):
    """BP1-BP4 in the plainest matrix form (backprop.derivation): sigma'(z), new arrays."""
    g = derivation.backprop(net.weights, net.biases, net.sigma, net.cost_fn, X, Y)
    return g.delta, g.dW, g.db


def assert_close_to_reference(g, net, X, Y):
    """Within rounding of the plain form: 64 ulps of each array's largest element."""
    __tracebackhide__ = True
    eps = np.finfo(net.dtype).eps
    expected = reference(net, X, Y)
    for field, arrays in zip(("delta", "dW", "db"), expected, strict=True):
        for l, (actual, desired) in enumerate(zip(getattr(g, field), arrays, strict=True)):
            assert actual.dtype == net.dtype and actual.shape == desired.shape
            np.testing.assert_allclose(actual, desired, rtol=64 * eps,
                                       atol=64 * eps * np.max(np.abs(desired)),
                                       err_msg=f"{field}[{l}] differs from the plain form")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("size", list(SIZES))
def test_loop_speed(benchmark, size, dtype):
    benchmark.group = f"loop vs vectorized {size} {np.dtype(dtype).name}"
    net, X, Y = problem(SIZES[size], dtype)
    g = benchmark(loop.backprop, net, X, Y)
    assert_close_to_reference(g, net, X, Y)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("size", list(SIZES))
def test_vectorized_speed(benchmark, size, dtype):
    benchmark.group = f"loop vs vectorized {size} {np.dtype(dtype).name}"
    net, X, Y = problem(SIZES[size], dtype)
    g = benchmark(vectorized.backprop, net, X, Y)
    assert_close_to_reference(g, net, X, Y)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
def test_vectorized_speed_big(benchmark, dtype):
    benchmark.group = f"vectorized vs matmul-only {BIG_NAME} {np.dtype(dtype).name}"
    net, X, Y = problem(BIG, dtype)
    g = benchmark(vectorized.backprop, net, X, Y)
    assert_close_to_reference(g, net, X, Y)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
def test_matmul_only_speed_big(benchmark, dtype):
    """The lower bound: the same matrix products, nothing else."""
    benchmark.group = f"vectorized vs matmul-only {BIG_NAME} {np.dtype(dtype).name}"
    net, X, Y = problem(BIG, dtype)
    z, _, dW = benchmark(matmul_only(net, X, Y))
    g, m = vectorized.backprop(net, X, Y), X.shape[1]
    trace = forward(net, X)
    rtol = 64 * np.finfo(dtype).eps
    for l in range(net.L):
        np.testing.assert_allclose(z[l] + net.biases[l], trace.z[l], rtol=rtol,
                                   atol=rtol * np.max(np.abs(trace.z[l])),
                                   err_msg=f"forward product W[{l}] @ a[{l}]")
        np.testing.assert_allclose(dW[l] / m, g.dW[l], rtol=rtol,
                                   atol=rtol * np.max(np.abs(g.dW[l])),
                                   err_msg=f"BP4 product delta[{l}] @ a[{l}].T")


EXHAUSTIVE = ([64, 32, 10], 16)  # timed; `python -m tools.bench` runs [784, 100, 10], m = 32


def test_exhaustive_check_speed(benchmark):
    from checks import check_network

    benchmark.group = "exhaustive check vs naive finite differences [64, 32, 10] m=16"
    net, X, Y = problem(EXHAUSTIVE)
    report = benchmark(check_network, net, X, Y)
    assert report.ok and report.checked == 32 * 16 + 32 + 32 * 64 + 10 * 16 + 10 + 10 * 32


@pytest.mark.parametrize("tangents", [True, False], ids=["tangents", "complex-evaluation"])
def test_exhaustive_numerical_derivatives_speed(benchmark, tangents):
    """The numerical side alone: forward tangents against the network evaluated in
    complex arithmetic for every perturbation (checks.netcheck.tangent)."""
    from checks.engine.stencils import COMPLEX_STEP
    from checks.netcheck import perturb
    from checks.network import analyse

    benchmark.group = "complex step: tangents vs complex evaluation [64, 32, 10] m=16"
    net, X, Y = problem(EXHAUSTIVE)
    model, g = analyse(net, X, Y), vectorized.backprop(net, X, Y)
    blocks = benchmark(perturb.check_arrays, model, g, COMPLEX_STEP, tangents=tangents)
    assert all(b.ok for b in blocks)
    assert sum(b.checked for b in blocks) == 32 * 16 + 32 + 32 * 64 + 10 * 16 + 10 + 10 * 32


def test_naive_finite_difference_speed(benchmark):
    from tools.bench import naive_central_differences

    benchmark.group = "exhaustive check vs naive finite differences [64, 32, 10] m=16"
    net, X, Y = problem(EXHAUSTIVE)
    count = net.weights[0].size  # every W[0] element: two forward passes each
    derivatives = benchmark(naive_central_differences, net, X, Y, count)
    g = vectorized.backprop(net, X, Y)
    np.testing.assert_allclose(derivatives, g.dW[0].reshape(-1), rtol=1e-6, atol=1e-9)

"""The derivation: loop and vectorized backprop against numerics, each other and by hand."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backprop import COSTS, Gradients, Network, cost, forward, loop, vectorized
from checks import check_network
from checks.network import error_scales
from checks.strategies import batches, networks

IMPLS = {"vectorized": vectorized.backprop, "loop": loop.backprop}


@pytest.mark.parametrize("impl", list(IMPLS))
@given(data=st.data(), net=networks())
def test_delta_dW_db_match_numeric_for_random_networks(impl, data, net):
    X, Y = data.draw(batches(net))
    report = check_network(net, X, Y, impl=impl)
    assert report.ok, str(report)
    sizes = net.sizes
    assert report.checked + report.skipped == sum(
        n * X.shape[1] + n + n * n_prev for n_prev, n in itertools.pairwise(sizes))


@given(data=st.data(), net=networks())
def test_loop_matches_vectorized(data, net):
    X, Y = data.draw(batches(net))
    """Equal up to rounding: |loop - vectorized| <= u E, the error model's bound.

    E bounds the rounding error of any correct computation of each element (in
    units of u = 2^-53); it is a few dozen ulps of the element wherever no
    cancellation occurs.
    """
    g_loop, g_vec = loop.backprop(net, X, Y), vectorized.backprop(net, X, Y)
    bounds, u = error_scales(net, X, Y)
    for field in ("delta", "dW", "db"):
        arrays = zip(getattr(g_loop, field), getattr(g_vec, field), getattr(bounds, field),
                     strict=True)
        for l, (p, q, E) in enumerate(arrays):
            np.testing.assert_array_less(np.abs(p - q), 2 * u * E + 1e-300,
                                         err_msg=f"{field}[{l}]: loop != vectorized")


SIMPLIFIED = [name for name, c in COSTS.items() if c.delta is not None]


@pytest.mark.parametrize("cost_name", SIMPLIFIED)
@given(data=st.data())
def test_simplified_output_delta_is_a_minus_y_and_equals_general_bp1(cost_name, data):
    """sigmoid + cross-entropy and softmax + categorical cross-entropy: delta^L = a^L - y."""
    net = data.draw(networks(costs=[cost_name], max_scale=2.0))
    X, Y = data.draw(batches(net))
    trace = forward(net, X)
    a, z = trace.a[-1], trace.z[-1]
    delta = vectorized.backprop(net, X, Y).delta[-1]
    np.testing.assert_array_equal(delta, a - Y, err_msg="the code does not use a - y")
    # General BP1: J_sigma(z)^T dC/da. It divides by a (1 - a) (or a), so its
    # rounding error is relative to |a - y| / min(a, 1 - a).
    with np.errstate(divide="ignore", invalid="ignore"):  # a saturated to 0 or 1
        general = net.sigma[-1].backward(z, net.cost_fn.dC_da(a, Y))
    ok = np.minimum(a, 1 - a) > 1e-6
    tol = 64 * np.finfo(np.float64).eps * (np.abs(a) + np.abs(Y)) / np.maximum(
        np.minimum(a, 1 - a), 1e-300)
    assert np.all(np.abs(delta - general)[ok] <= tol[ok]), "a - y != general BP1"
    # ... and the numerical dC_x/dz^L: the delta[L-1] block of check_network.
    report = check_network(net, X, Y)
    assert report.blocks[0].name == f"delta[{net.L - 1}]" and report.blocks[0].ok, str(report)


def hand_network(activations=("relu", "identity")) -> Network:
    return Network(weights=[[[1.0, -1.0], [0.5, 2.0]], [[2.0, 1.0]]],
                   biases=[[[0.0], [1.0]], [[-1.0]]], activations=list(activations),
                   cost="quadratic")


@pytest.mark.parametrize("impl", list(IMPLS))
def test_hand_worked_2_2_1_network(impl):
    """Worked on paper. Example 1: x = (1, 2), y = 2.5; example 2: x = (1, 0), y = 2.5.

    Ex. 1: z1 = (-1, 5.5), a1 = (0, 5.5), z2 = a2 = 4.5, C_1 = (4.5 - 2.5)^2 / 2 = 2
           BP1 delta2 = 2; BP2 delta1 = (2*2, 1*2) * relu'(z1) = (0, 2)
    Ex. 2: z1 = (1, 1.5), a1 = (1, 1.5), z2 = 2.5, C_2 = 0, delta2 = 0, delta1 = (0, 0)
    Batch (m = 2): C = 1; dW2 = (2 (0, 5.5) + 0) / 2 = (0, 5.5); db2 = 1;
           dW1 = ((0, 0), (2 (1, 2))) / 2 = ((0, 0), (1, 2)); db1 = (0, 1).
    """
    net = hand_network()
    X = np.array([[1.0, 1.0], [2.0, 0.0]])
    Y = np.array([[2.5, 2.5]])
    g = IMPLS[impl](net, X, Y)
    assert cost(net, X, Y) == 1.0
    np.testing.assert_array_equal(forward(net, X).z[0], [[-1.0, 1.0], [5.5, 1.5]])
    np.testing.assert_array_equal(g.delta[1], [[2.0, 0.0]], err_msg="BP1")
    np.testing.assert_array_equal(g.delta[0], [[0.0, 0.0], [2.0, 0.0]], err_msg="BP2")
    np.testing.assert_array_equal(g.db[1], [[1.0]], err_msg="BP3")
    np.testing.assert_array_equal(g.db[0], [[0.0], [1.0]], err_msg="BP3")
    np.testing.assert_array_equal(g.dW[1], [[0.0, 5.5]], err_msg="BP4")
    np.testing.assert_array_equal(g.dW[0], [[0.0, 0.0], [1.0, 2.0]], err_msg="BP4")


@pytest.mark.parametrize("impl", list(IMPLS))
def test_hand_worked_sigmoid_cross_entropy(impl):
    """w = 0, b = 0: z = 0, a = 1/2; y = 1: C = ln 2, delta = a - y = -1/2, dW = -x/2."""
    net = Network([[[0.0]]], [[[0.0]]], ["sigmoid"], "cross_entropy")
    X, Y = np.array([[2.0]]), np.array([[1.0]])
    g = IMPLS[impl](net, X, Y)
    assert cost(net, X, Y) == pytest.approx(np.log(2), rel=1e-15)
    np.testing.assert_array_equal(g.delta[0], [[-0.5]])
    np.testing.assert_array_equal(g.dW[0], [[-1.0]])
    np.testing.assert_array_equal(g.db[0], [[-0.5]])


@pytest.mark.parametrize("impl", list(IMPLS))
def test_backprop_is_pure(impl):
    net = Network.random([3, 4, 2], "tanh", seed=1)
    X = np.random.default_rng(0).normal(size=(3, 5))
    Y = np.random.default_rng(1).normal(size=(2, 5))
    before = [p.copy() for p in (*net.weights, *net.biases, X, Y)]
    IMPLS[impl](net, X, Y)
    check_network(net, X, Y, impl=impl)
    for p, q in zip(before, (*net.weights, *net.biases, X, Y), strict=False):
        np.testing.assert_array_equal(p, q)


def test_gradients_are_constructible_by_users():
    g = Gradients(delta=[np.zeros((1, 1))], dW=[np.zeros((1, 1))], db=[np.zeros((1, 1))])
    assert g.dW[0].shape == (1, 1)


@pytest.mark.parametrize("impl", list(IMPLS))
def test_float32_networks_give_float32_gradients_that_pass(impl):
    net = Network.random([4, 6, 3], ["tanh", "sigmoid"], "cross_entropy", seed=2,
                         dtype=np.float32)
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(4, 5)), rng.uniform(size=(3, 5))
    g = IMPLS[impl](net, X, Y)
    assert all(d.dtype == np.float32 for d in (*g.delta, *g.dW, *g.db))
    assert check_network(net, X, Y, impl=impl).ok


def test_every_array_of_backprops_block_starts_on_a_cache_line():
    for dtype in (np.float32, np.float64):
        g, a = vectorized.allocate([784, 256, 256, 10], 7, dtype)
        assert all(x.ctypes.data % vectorized.ALIGN == 0 for x in (*g.delta, *g.dW, *g.db, *a))

"""The statement of the derivation: each step run alone gives what its backprop gives."""

import numpy as np
import pytest

from backprop import ArrayId, Network, backward_order, derivation, forward, vectorized
from backprop.derivation import Pass, built_from, local


def test_each_array_is_built_from_the_delta_of_its_equation():
    assert built_from(ArrayId("delta", 2, 3)) is None  # BP1: the forward pass alone
    assert built_from(ArrayId("delta", 0, 3)) == ArrayId("delta", 1, 3)  # BP2
    assert built_from(ArrayId("db", 1, 3)) == ArrayId("delta", 1, 3)  # BP3
    assert built_from(ArrayId("dW", 0, 3)) == ArrayId("delta", 0, 3)  # BP4


@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy", "categorical_cross_entropy"])
def test_each_step_on_given_arrays_is_bit_for_bit_the_step_inside_backprop(cost):
    output = {"quadratic": "softplus", "cross_entropy": "sigmoid",
              "categorical_cross_entropy": "softmax"}[cost]
    net = Network.random([3, 5, 4, 3], ["tanh", "relu", output], cost, seed=1)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3, 6))
    Y = net.cost_fn.sample_targets(rng.uniform(size=(3, 6)))
    g = derivation.backprop(net.weights, net.biases, net.sigma, net.cost_fn, X, Y)
    trace = forward(net, X)
    p = Pass(net.weights, net.sigma, net.cost_fn, Y, trace.z, trace.a)
    for array in backward_order(net.L):
        source = built_from(array)
        upstream = None if source is None else source.of(g)
        np.testing.assert_array_equal(local(p, array, upstream), array.of(g),
                                      err_msg=array.name)


def test_sigma_prime_from_the_cached_a_is_the_tuned_kernels_bit_for_bit():
    """FROM_CACHED_A takes sigma' from a where the activation has a rule for it, as
    vectorized does in hidden layers (the output here is softmax: delta^L = a - y)."""
    net = Network.random([3, 5, 4, 3], ["tanh", "sigmoid", "softmax"],
                         "categorical_cross_entropy", seed=2)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(3, 6))
    Y = net.cost_fn.sample_targets(rng.uniform(size=(3, 6)))
    cached = derivation.backprop(net.weights, net.biases, net.sigma, net.cost_fn, X, Y,
                                 steps=derivation.FROM_CACHED_A)
    tuned = vectorized.backprop(net, X, Y)
    for l in range(net.L):
        np.testing.assert_array_equal(cached.delta[l], tuned.delta[l], err_msg=f"delta[{l}]")


def test_a_step_run_alone_passes_its_layer_to_the_rounding_hook():
    net = Network.random([3, 4, 2], "tanh", seed=0)
    X, Y = np.ones((3, 2)), np.zeros((2, 2))
    trace = forward(net, X)
    seen = []

    def record(name, l, value):
        seen.append((name, l))
        return value

    p = Pass(net.weights, net.sigma, net.cost_fn, Y, trace.z, trace.a, rounding=record)
    for array in backward_order(net.L):
        seen.clear()
        source = built_from(array)
        upstream = None if source is None else np.ones((net.sizes[source.layer + 1], 2))
        local(p, array, upstream)
        assert {l for _, l in seen} == {array.layer}, (array.name, seen)

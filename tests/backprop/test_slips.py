"""The catalogue of slips: words per layer, and each slip made only where it can be.
Where each is caught and named: tests/checks/test_checker.py and test_diagnosis.py."""

import numpy as np
import pytest

from backprop import Network, derivation, forward
from backprop.slips import SLIPS, plant, recomputed


def slip(name):
    return next(s for s in SLIPS if s.name == name)


def test_the_words_name_the_layer_and_keep_the_derivations_braces():
    assert slip("BP2 with W for W^T").says(1) == "W[2] used where its transpose belongs"
    assert slip("BP4 z for a").says(2).startswith("z[1] used where a[2] belongs")
    assert slip("BP2 with W^l for W^{l+1}").says(0) == "the wrong layer's weights: W[0] for W[1]"
    assert slip("BP2 without sigma'").says(1) == "sigma' left out: delta^l = W^T delta^{l+1}"


@pytest.mark.parametrize("name", ["BP1 softmax as elementwise", "BP1 a - y times sigma'",
                                  "BP2 with W for W^T", "BP2 with W^l for W^{l+1}",
                                  "BP2 with sigma'(z^{l+1})", "BP4 transposed",
                                  "BP4 a^{l+1} for a^l"])
def test_a_slip_is_not_made_where_it_cannot_be(name):
    """On a tanh network of no square weight matrix the slip's backprop is the correct one."""
    net = Network.random([2, 3, 4, 1], "tanh", seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(2, 5)), rng.normal(size=(1, 5))
    made = plant(slip(name))(net, X, Y)
    right = derivation.backprop(net.weights, net.biases, net.sigma, net.cost_fn, X, Y)
    for field in ("delta", "dW", "db"):
        for got, want in zip(getattr(made, field), getattr(right, field), strict=True):
            np.testing.assert_array_equal(got, want, err_msg=f"{name}: {field}")


def test_the_slips_of_an_equation_are_tried_in_the_catalogues_order():
    net = Network.random([3, 4, 4, 4, 2], ["tanh", "sigmoid", "softplus", "identity"],
                         seed=0)
    X = np.ones((3, 2))
    trace = forward(net, X)
    p = derivation.Pass(net.weights, net.sigma, net.cost_fn, X[:2], trace.z, trace.a)
    assert [s.name for s in recomputed("BP2", p, 1)] == [
        "BP2 without sigma'", "BP2 with sigma'(a)", "BP2 sign flipped", "BP2 with W for W^T",
        "BP2 with W^l for W^{l+1}", "BP2 with sigma'(z^{l+1})"]
    assert [s.name for s in recomputed("BP1", p, 3)] == [
        "BP1 without sigma'", "BP1 with y - a", "BP1 with sigma'(a)",
        "BP1 delta as the batch mean"]
    assert [s.name for s in recomputed("BP4", p, 0)] == []
    assert [s.name for s in recomputed("BP4", p, 2)] == [
        "BP4 z for a", "BP4 a^{l+1} for a^l", "BP4 transposed"]


def test_one_element_off_is_off_by_a_relative_1e_9_in_that_element_alone():
    net = Network.random([3, 4, 2], "tanh", seed=0)
    X, Y = np.ones((3, 2)), np.zeros((2, 2))
    made = plant(slip("BP4 one element off by 1e-9"))(net, X, Y)
    right = derivation.backprop(net.weights, net.biases, net.sigma, net.cost_fn, X, Y)
    expected = right.dW[0].copy()
    expected[1, 2] *= 1 + 1e-9
    np.testing.assert_array_equal(made.dW[0], expected)
    np.testing.assert_array_equal(made.dW[1], right.dW[1])
    for got, want in zip(made.delta, right.delta, strict=True):
        np.testing.assert_array_equal(got, want)

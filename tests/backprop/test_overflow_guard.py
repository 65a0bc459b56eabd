"""The overflow guard: a priori, without a forward pass, forward, cost and backprop bound
every intermediate (|z|, |a|, the cost, |delta|, |dW|) from max |X|, max |Y| and norms of
the parameters, and refuse with a ValueError naming the first quantity that could overflow.
It is sound (nothing it accepts overflows: see test_fuzz), exact at its limit, and cheap: the
network computes its parameter norms once, and the guard uses them while the network's arrays
stay read-only, so read-only parameters, those norms and check_XY reading inputs in place (no
copy per call) are tested here too. A new test goes here if it is about when the guard
fires, what its message says or the bounds it uses; a check that every entry point refuses
some input (the table in test_validation.py has a few such rows about overflow) stays a row
of that table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backprop import ACTIVATIONS, Network, cost, forward, vectorized
from backprop.inputs import check_XY
from backprop.overflow import activation_bounds, cached_activation_bounds, norms_of, power_above


def quad() -> Network:
    return Network.random([3, 4, 2], "tanh", seed=0)


def X(m: int = 5) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (3, m))


def Y(m: int = 5) -> np.ndarray:
    return np.random.default_rng(1).dirichlet(np.ones(2), size=m).T


def limit(dtype: Any) -> float:
    """The guard's limit: the dtype's largest number, at most sqrt(float64's), / 1024."""
    return min(float(np.finfo(dtype).max), float(np.sqrt(np.finfo(np.float64).max))) / 1024


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_overflow_guard_accepts_its_limit_and_nothing_above(dtype):
    net = Network([np.ones((1, 1), dtype)], [np.zeros((1, 1), dtype)], ["tanh"])
    at = np.array([[limit(dtype)]], dtype)
    assert forward(net, at).a[1][0, 0] == 1.0
    above = np.nextafter(at, np.array(np.inf, dtype))
    with pytest.raises(ValueError, match=r"^\|X\| could reach"):
        forward(net, above)


def test_an_overflowing_bound_is_reported_not_warned_about():
    net = Network([np.full((1, 1), 1e300)], [np.zeros((1, 1))], ["tanh"])
    with pytest.raises(ValueError, match=r"^\|z\[0\]\| .* could reach inf"):
        forward(net, np.full((1, 1), 1e100))


@pytest.mark.parametrize(("make", "X", "Y", "message"), [
    (lambda: Network([np.ones((1, 1)), np.full((1, 1), 0.75 * limit(np.float64) / np.tanh(1.0))],
                     [np.zeros((1, 1))] * 2, ["tanh", "identity"]),
     [[1.0]], [[0.0]], r"^\|a\[2\]\| could reach"),
    (lambda: Network([np.ones((1, 1))], [np.zeros((1, 1))], ["identity"]),
     [[1e76]], [[0.0]], r"^the cost could reach 5\.99e\+152"),
    (lambda: Network([np.full((1, 1), 1e-151)], [np.zeros((1, 1))], ["sigmoid"]),
     [[1e151]], [[1.0]], r"^\|dW\[0\]\| could reach 3\.46e\+151"),
])
def test_the_overflow_guard_names_what_would_overflow(make, X, Y, message):
    with pytest.raises(ValueError, match=message):
        vectorized.backprop(make(), np.array(X), np.array(Y))


@pytest.mark.parametrize("Z", [0.0, 0.3, 1.0, 2.5, 40.0, 1e3, 1e30])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_the_guards_activation_bounds_are_sound_and_within_a_factor_two_of_z(name, Z):
    """Bounds on |sigma| and |sigma'| over |z| <= Z hold, and are what |z| <= 2 max(Z, 1) gives."""
    act = ACTIVATIONS[name]
    a_bound, s_bound = activation_bounds(act, power_above(Z))
    assert cached_activation_bounds(act, power_above(Z)) == (a_bound, s_bound)
    if not act.elementwise:
        assert (a_bound, s_bound) == (1.0, 2.0)
        return
    inner = np.linspace(-Z, Z, 2001).reshape(-1, 1)
    outer = np.linspace(-2 * max(Z, 1.0), 2 * max(Z, 1.0), 4001).reshape(-1, 1)
    assert np.max(np.abs(act.sigma(inner))) <= a_bound <= np.max(np.abs(act.sigma(outer)))
    assert np.max(np.abs(act.sigma_prime(inner))) <= s_bound
    assert s_bound <= np.max(np.abs(act.sigma_prime(outer)))


def guard_message(net: Network, X: float, Y: list[float]) -> str:
    with pytest.raises(ValueError) as info:
        vectorized.backprop(net, np.array([[X]]), np.array([Y]).T)
    return str(info.value)


def test_the_guards_cost_bound_uses_the_output_layer():
    """[1, 1, 3]: n_L = 3 outputs and |a^L| <= 2^250 (identity) put the cost just over."""
    c = 1.5e75 / np.tanh(1.0)
    net = Network([np.ones((1, 1)), np.full((3, 1), c)], [np.zeros((1, 1)), np.zeros((3, 1))],
                  ["tanh", "identity"])
    assert guard_message(net, 1.0, [0.0, 0.0, 0.0]).startswith("the cost could reach 3.29e+151")


def test_the_guards_delta_bound_runs_back_through_the_columns_of_W_and_sigma_prime():
    """[1, 1, 2], sigmoid then tanh: |delta[0]| <= (sum_k |W[1][k, 0]|) |delta[1]| max sigmoid'.

    |delta[1]| <= 2 (1 + 1) = 4 and max sigmoid' = 1/4, so |delta[0]| <= 2e75 and
    |dW[0]| <= 2e75 |X| = 2e152.
    """
    net = Network([np.ones((1, 1)), np.full((2, 1), 1e75)], [np.zeros((1, 1)), np.zeros((2, 1))],
                  ["sigmoid", "tanh"])
    assert guard_message(net, 1e77, [1.0, 1.0]).startswith("|dW[0]| could reach 2e+152")


@pytest.mark.parametrize(("W", "b", "message"), [
    (np.zeros((1, 1)), np.full((1, 1), 1e152), "|z[0]| (from |X| <= 1"),
    (np.full((1, 2), 1e308), np.zeros((1, 1)),
     "|z[0]| (from |X| <= 1 and the weights) could reach inf"),
])
def test_the_guard_counts_biases_and_sums_that_overflow(W, b, message):
    net = Network([W], [b], ["tanh"])  # built here: its norms' overflow must stay quiet
    with pytest.raises(ValueError) as info:
        forward(net, np.ones((net.sizes[0], 1)))
    assert str(info.value).startswith(message), str(info.value)


def chain(weights: list[float], activations: list[str]) -> Network:
    """A network of one neuron per layer with these weights and no biases."""
    return Network([np.full((1, 1), w) for w in weights], [np.zeros((1, 1))] * len(weights),
                   activations)


@pytest.mark.parametrize(("net", "X", "Y", "message"), [
    # |delta[0]| <= W[1] * |delta[1]|: tanh saturates, so only the backward pass is large.
    (chain([1.0, 1e151, 1.0], ["tanh", "tanh", "identity"]), 1.0, 0.0,
     "|delta[0]| could reach 2e+151"),
    # |delta^L| <= 2 (|a^L| + |y|) with a^L of the output layer (identity, up to 2^250).
    (chain([1.0, 1.5e75], ["tanh", "identity"]), 10.0, 0.0, "|dW[0]| could reach 5.43e+151"),
    # |y| enlarges the cost bound: (2^249 + 2^249 + 2^250)^2 = 2^502 > the limit.
    (chain([1.0], ["identity"]), 2.0**249, 2.0**250, "the cost could reach 1.31e+151"),
])
def test_the_guard_bounds_the_backward_pass_from_the_output_layer(net, X, Y, message):
    assert guard_message(net, X, [Y]).startswith(message)


def test_the_guard_accepts_large_values_that_cannot_overflow():
    """|delta[0]| ~ 3e120 and |a^L| ~ 1e60, but |X| = 1e-10: every bound is below the limit."""
    net = chain([1.0, 1e60], ["tanh", "identity"])
    X, Y = np.array([[1e-10]]), np.array([[0.0]])
    g = vectorized.backprop(net, X, Y)
    assert all_finite_arrays(*g.delta, *g.dW, *g.db) and np.isfinite(cost(net, X, Y))


def all_finite_arrays(*arrays: np.ndarray) -> bool:
    return all(bool(np.all(np.isfinite(a))) for a in arrays)


def test_network_parameters_are_read_only():
    net = Network([np.ones((1, 1))], [np.zeros((1, 1))], ["tanh"])
    with pytest.raises(ValueError, match="read-only"):
        net.weights[0][0, 0] = 2.0
    with pytest.raises(ValueError, match="read-only"):
        net.biases[0] += 1.0


def test_the_overflow_guard_sees_parameters_changed_behind_its_norms():
    """The network computes its O(parameters) norms once, when built: replacing an
    array, or making one writeable again and changing it, must not go unseen."""
    net = Network([np.ones((1, 1))], [np.zeros((1, 1))], ["identity"])
    X, Y = np.ones((1, 1)), np.zeros((1, 1))
    vectorized.backprop(net, X, Y)
    net.weights[0] = np.full((1, 1), 1e200)
    with pytest.raises(ValueError, match=r"could reach"):
        vectorized.backprop(net, X, Y)
    net = Network([np.ones((1, 1))], [np.zeros((1, 1))], ["identity"])
    vectorized.backprop(net, X, Y)
    net.biases[0].flags.writeable = True
    net.biases[0][0, 0] = 1e200
    with pytest.raises(ValueError, match=r"could reach"):
        vectorized.backprop(net, X, Y)


def test_check_XY_reads_inputs_in_place_and_copies_only_to_convert():
    """backprop only reads X and Y: check_XY hands back the caller's arrays when
    they already are C-ordered arrays of the network's dtype (no copy per call),
    and a C-ordered converted copy otherwise; forward's trace owns its a[0]."""
    net = quad()
    X_, Y_ = X(), np.ascontiguousarray(Y())
    X_checked, Y_checked = check_XY(net, X_, Y_)
    assert X_checked is X_ and Y_checked is Y_
    X_f = np.asfortranarray(X_)
    X_c, _ = check_XY(net, X_f, Y_)
    assert X_c.flags.c_contiguous and not np.shares_memory(X_c, X_f)
    assert not np.shares_memory(forward(net, X_).a[0], X_)
    W_f = np.asfortranarray(np.ones((2, 3)))
    assert Network([W_f], [np.zeros((2, 1))], ["tanh"]).weights[0].flags.c_contiguous


def test_the_overflow_guard_reads_the_norms_computed_with_a_read_only_network():
    net = Network.random([3, 4, 2], seed=0)
    assert norms_of(net) is net.parameter_norms.per_layer
    net.weights[0].flags.writeable = True  # no longer provably unchanged: recomputed
    assert norms_of(net) is not norms_of(net)
    assert norms_of(net) == net.parameter_norms.per_layer

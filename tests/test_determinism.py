"""Same seed, same report, bit for bit; and no call leaks state into the next.

Reports are compared through `bits`: every float by its hex form (so -0.0, NaN
payloads and the last ulp all count), every array by dtype, shape and bytes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop import Network, cost, forward, loop, vectorized
from checks import check_network, gradcheck
from checks.strategies import batches, networks


def bits(value: Any) -> Any:
    """A structure equal for two values exactly when they are bit-identical."""
    if isinstance(value, float):
        return ("float", value.hex())
    if isinstance(value, np.ndarray):
        return ("array", str(value.dtype), value.shape, value.tobytes())
    if isinstance(value, np.generic):
        return bits(value.item())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__,
                [(f.name, bits(getattr(value, f.name))) for f in dataclasses.fields(value)])
    if isinstance(value, dict):
        return sorted((k, bits(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [bits(v) for v in value]
    if isinstance(value, set):
        return sorted(bits(v) for v in value)
    return value


def case(seed: int = 4, sizes: tuple[int, ...] = (3, 5, 4, 2),
         acts: tuple[str, ...] = ("tanh", "relu", "sigmoid")) -> tuple[Network, Any, Any]:
    net = Network.random(list(sizes), list(acts), "cross_entropy", seed=seed)
    rng = np.random.default_rng(seed)
    return net, rng.standard_normal((sizes[0], 4)), rng.uniform(0, 1, (sizes[-1], 4))


@pytest.mark.parametrize("impl", ["vectorized", "loop"])
@pytest.mark.parametrize("options", [{}, {"method": "central"}, {"method": "richardson"},
                                     {"directions": 2, "seed": 5}],
                         ids=["auto", "central", "richardson", "directional"])
def test_same_arguments_give_the_same_report_bit_for_bit(impl, options):
    net, X, Y = case()
    first = check_network(net, X, Y, impl=impl, **options)
    second = check_network(*case(), impl=impl, **options)
    assert bits(first) == bits(second)
    assert str(first) == str(second)
    assert json.dumps(first.as_dict()) == json.dumps(second.as_dict())


def test_the_directional_seed_picks_the_directions_and_nothing_else():
    net, X, Y = case()
    a, b = (check_network(net, X, Y, directions=2, seed=s) for s in (1, 2))
    assert a.ok and b.ok
    assert [blk.worst_error for blk in a.blocks] != [blk.worst_error for blk in b.blocks]
    assert bits(a) == bits(check_network(net, X, Y, directions=2, seed=1))


def test_network_random_is_a_function_of_its_seed():
    same = [Network.random([4, 6, 3], "tanh", seed=11) for _ in range(2)]
    assert bits(same[0].weights + same[0].biases) == bits(same[1].weights + same[1].biases)
    other = Network.random([4, 6, 3], "tanh", seed=12)
    assert bits(other.weights) != bits(same[0].weights)
    f32 = Network.random([4, 6, 3], "tanh", seed=11, dtype=np.float32)
    np.testing.assert_array_equal(f32.weights[0], same[0].weights[0].astype(np.float32))
    assert {p.dtype for p in f32.weights + f32.biases} == {np.dtype(np.float32)}


def test_network_random_defaults_are_seed_0_and_scale_1_and_scale_multiplies():
    default = Network.random([4, 6, 3])
    assert bits(default.weights + default.biases) == bits(
        (same := Network.random([4, 6, 3], seed=0, scale=1.0)).weights + same.biases)
    double = Network.random([4, 6, 3], seed=0, scale=2.0)
    for p, q in zip(double.weights + double.biases, default.weights + default.biases,
                    strict=True):
        np.testing.assert_array_equal(p, 2 * q)


def test_gradcheck_gives_the_same_report_twice():
    A = np.random.default_rng(3).normal(size=(3, 3))

    def f(p):
        return np.sum(np.tanh(A @ p[0]) ** 2)

    def grad(p):
        t = np.tanh(A @ p[0])
        return [A.T @ (2 * t * (1 - t**2))]

    params = [np.random.default_rng(4).normal(size=(3, 2))]
    for method in ("auto", "central", "richardson"):
        assert bits(gradcheck(f, grad, params, method=method)) == bits(
            gradcheck(f, grad, params, method=method))


def run_all(net: Network, X: Any, Y: Any) -> Any:
    return [forward(net, X), cost(net, X, Y), loop.backprop(net, X, Y),
            vectorized.backprop(net, X, Y), check_network(net, X, Y),
            check_network(net, X, Y, impl="loop", directions=1)]


def test_no_hidden_global_state_global_rng_and_error_settings_are_untouched():
    """Results do not depend on numpy's global RNG, and calls leave it and np.seterr alone."""
    # The legacy global RNG on purpose: it is what careless code would touch.
    net, X, Y = case()
    np.random.seed(1)  # noqa: NPY002
    state, err = np.random.get_state(), np.geterr()  # noqa: NPY002
    first = run_all(net, X, Y)
    after = np.random.get_state()  # noqa: NPY002
    assert np.geterr() == err
    assert all(bits(a) == bits(b) for a, b in zip(state, after, strict=True))
    np.random.seed(2)  # noqa: NPY002
    with np.errstate(all="raise"):
        second = run_all(net, X, Y)
    assert bits(first) == bits(second)


def test_a_call_that_raised_leaves_nothing_behind():
    net, X, Y = case()
    before = bits(run_all(net, X, Y))
    for bad in (lambda: check_network(net, X, Y[:, :2]), lambda: cost(net, X * np.nan, Y),
                lambda: check_network(net, X, Y, impl=lambda *a: None)):
        with pytest.raises((TypeError, ValueError)):
            bad()
    assert bits(run_all(net, X, Y)) == before


@settings(max_examples=10)
@given(data=st.data(), net=networks(max_depth=3, max_width=4))
def test_check_network_is_a_function_of_its_arguments(data, net):
    X, Y = data.draw(batches(net, max_batch=3))
    assert bits(check_network(net, X, Y)) == bits(check_network(net, X, Y))
    assert bits(vectorized.backprop(net, X, Y)) == bits(vectorized.backprop(net, X, Y))


def cli_json(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    result = subprocess.run(
        [sys.executable, "-m", "checks", "--sizes", "3,4,2", "--activations", "tanh,softmax",
         "--cost", "categorical_cross_entropy", "--seed", "9", "--json"],
        capture_output=True, text=True, check=False, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_cli_report_is_identical_across_processes_and_hash_seeds():
    assert cli_json("1") == cli_json("2")

"""Fuzzing the public API with malformed shapes, dtypes and values; numerics at the edges.

Whatever goes in, what comes out is a result or our own ValueError/TypeError,
raised from a frame in `backprop/` or `checks/` (never from inside numpy), and
never a warning: the suite runs with warnings as errors, so an overflow or an
invalid operation that slipped past the checks fails here. Accepted input must
give finite results.
"""

from __future__ import annotations

import itertools
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from backprop import ACTIVATIONS, COSTS, HIDDEN, Gradients, Network, cost, forward, loop, vectorized
from checks import check_network, gradcheck
from checks.network import error_scales
from checks.strategies import batches, networks

PACKAGE_DIRS = tuple(str(Path(__file__).resolve().parents[1] / d) for d in ("backprop", "checks"))
ODD_DTYPES = [np.float16, np.int64, np.int8, np.uint8, np.bool_, np.complex128]


def elements(dtype: Any) -> st.SearchStrategy[Any]:
    """Every value of the dtype, NaN, inf, huge and subnormal ones included."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return st.floats(width=8 * dtype.itemsize)
    if dtype.kind == "c":
        return st.complex_numbers(max_magnitude=1e6, allow_nan=False, allow_infinity=False)
    if dtype.kind == "b":
        return st.booleans()
    info = np.iinfo(dtype)
    return st.integers(int(info.min), int(info.max))


def junk() -> st.SearchStrategy[Any]:
    """Things that are not arrays of numbers."""
    return st.one_of(
        st.none(), st.text(max_size=3), st.integers(-3, 3), st.floats(),
        st.lists(st.lists(st.floats(-1, 1), max_size=3), min_size=2, max_size=3),  # ragged
        st.just(object()), st.dictionaries(st.text(max_size=1), st.integers(), max_size=2),
    )


@st.composite
def array_like(draw: st.DrawFn, shape: tuple[int, ...], dtype: Any = np.float64,
               sane: st.SearchStrategy[float] | None = None) -> Any:
    """Near `shape`: right shape with sane or wild values, or a wrong shape, dtype or kind."""
    kind = draw(st.sampled_from(["sane", "sane", "wild", "shape", "dtype", "junk"]))
    if kind == "junk":
        return draw(junk())
    if kind == "shape":
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    if kind == "dtype":
        dtype = draw(st.sampled_from(ODD_DTYPES))
    values = sane if kind == "sane" and sane is not None else elements(dtype)
    if kind == "sane" and sane is None:
        values = st.floats(-3, 3)
    return draw(hnp.arrays(dtype, shape, elements=values))


def raised_by_us(exc: BaseException) -> bool:
    raiser = traceback.extract_tb(exc.__traceback__)[-1].filename
    return raiser.startswith(PACKAGE_DIRS)


def outcome(call: Callable[[], Any]) -> Any:
    """call()'s result, or None if it raised ValueError/TypeError from our code."""
    try:
        return call()
    except (ValueError, TypeError) as exc:
        assert str(exc), "an error without a message"
        assert raised_by_us(exc), "".join(traceback.format_exception(exc))
        return None


def all_finite(*arrays: Any) -> bool:
    return all(bool(np.all(np.isfinite(a))) for a in arrays)


def check_gradients(g: Gradients | None) -> None:
    if g is not None:
        assert all_finite(*g.delta, *g.dW, *g.db)


@given(data=st.data(), net=networks(max_depth=3, max_width=3,
                                    dtypes=(np.float64, np.float32)))
def test_forward_cost_and_backprop_take_any_X_and_Y(data, net):
    m = data.draw(st.integers(0, 3))
    n_0, n_L = net.sizes[0], net.sizes[-1]
    X = data.draw(array_like((n_0, m)), label="X")
    if data.draw(st.booleans()) and m > 0:
        X_ok, Y = data.draw(batches(net, min_batch=m, max_batch=m), label="valid Y")
        X = X if data.draw(st.booleans()) else X_ok
    else:
        Y = data.draw(array_like((n_L, m), sane=st.floats(0, 1)), label="Y")
    trace = outcome(lambda: forward(net, X))
    if trace is not None:
        assert all_finite(*trace.z, *trace.a)
    C = outcome(lambda: cost(net, X, Y))
    assert C is None or np.isfinite(C)
    check_gradients(outcome(lambda: loop.backprop(net, X, Y)))
    check_gradients(outcome(lambda: vectorized.backprop(net, X, Y)))
    E = outcome(lambda: error_scales(net, X, Y))
    if E is not None:
        check_gradients(E[0])
        # Accepted input is checkable: a report comes back (its verdict is the
        # precision tests' business), with every compared element finite.
        report = check_network(net, X, Y)
        assert all(np.isfinite(e.numeric) for e in report.mismatches), str(report)


NAMES = st.sampled_from(sorted(ACTIVATIONS))


@given(data=st.data(), L=st.integers(0, 3))
def test_network_takes_any_weights_biases_and_names(data, L):
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=L + 1, max_size=L + 1))
    weights = [data.draw(array_like((n_out, n_in), dtype=data.draw(
        st.sampled_from([np.float64, np.float32]))), label=f"W[{l}]")
        for l, (n_in, n_out) in enumerate(itertools.pairwise(sizes))]
    biases = [data.draw(array_like((n, 1)), label=f"b[{l}]") for l, n in enumerate(sizes[1:])]
    if data.draw(st.booleans()):
        biases = data.draw(st.one_of(st.just(biases[:-1]), st.just([*biases, np.ones((1, 1))]),
                                     junk()))
    activations = data.draw(st.one_of(NAMES, st.lists(NAMES, min_size=L, max_size=L + 1),
                                      junk()), label="activations")
    cost_name = data.draw(st.one_of(st.sampled_from(sorted(COSTS)), junk()), label="cost")
    net = outcome(lambda: Network(weights, biases, activations, cost_name))
    if net is not None:
        X = np.ones((net.sizes[0], 2))
        trace = outcome(lambda: forward(net, X))
        assert trace is None or all_finite(*trace.z, *trace.a)


@given(sizes=st.one_of(st.lists(st.integers(-1, 3), max_size=4), junk()),
       activations=st.one_of(NAMES, st.lists(NAMES, max_size=3), junk()),
       cost_name=st.one_of(st.sampled_from(sorted(COSTS)), junk()),
       seed=st.one_of(st.none(), st.integers(-2, 2**64), st.floats(), st.text(max_size=2)),
       dtype=st.one_of(st.sampled_from([np.float32, np.float64, "float64", np.float16, int,
                                        "nonsense", None, complex])),
       scale=st.one_of(st.floats(), st.integers(-1, 10), st.text(max_size=1)))
def test_network_random_takes_any_arguments(sizes, activations, cost_name, seed, dtype, scale):
    net = outcome(lambda: Network.random(sizes, activations, cost_name, seed, dtype, scale))
    if net is not None:
        assert all_finite(*net.weights, *net.biases)


@given(data=st.data())
def test_gradcheck_takes_any_params_f_grad_and_options(data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    params = data.draw(st.one_of(
        st.lists(array_like(shape), min_size=1, max_size=2), array_like(shape), junk()),
        label="params")
    value = data.draw(st.one_of(st.floats(), st.complex_numbers(), junk(),
                                hnp.arrays(np.float64, (2,), elements=st.floats(-1, 1))),
                      label="f's value")
    wrong = data.draw(st.booleans())

    def f(p: Any) -> Any:  # params may be a dict of named arrays (junk() draws some)
        first = next(iter(p.values())) if isinstance(p, dict) else p[0]
        return value if wrong else np.sum(np.sin(first))

    def grad(p: Any) -> Any:
        right = ({k: np.cos(q) for k, q in p.items()} if isinstance(p, dict)
                 else [np.cos(q) for q in p])
        return data.draw(st.one_of(junk(), st.just(right),
                                   st.lists(array_like(shape), max_size=3)), label="grad")

    method = data.draw(st.one_of(st.sampled_from(["auto", "central", "richardson",
                                                  "complex_step"]), junk()))
    options = data.draw(st.fixed_dictionaries({}, optional={
        "rtol": st.one_of(st.floats(), junk()), "atol": st.one_of(st.floats(), junk()),
        "step": st.one_of(st.floats(), junk())}))
    report = outcome(lambda: gradcheck(f, grad, params, method=method, **options))
    if report is not None:
        assert report.checked >= 1


@given(data=st.data(), net=networks(max_depth=2, max_width=3))
def test_check_network_takes_any_result_from_a_user_backprop(data, net):
    X, Y = data.draw(batches(net, max_batch=3))
    g = vectorized.backprop(net, X, Y)
    fields = {}
    for name in ("delta", "dW", "db"):
        arrays = getattr(g, name)
        fields[name] = data.draw(st.one_of(
            st.just(arrays),
            st.lists(st.sampled_from(arrays), max_size=3),
            st.tuples(*[array_like(a.shape) for a in arrays]).map(list),
            junk()), label=name)
    result = data.draw(st.one_of(st.just(Gradients(**fields)), junk()), label="result")
    report = outcome(lambda: check_network(net, X, Y, impl=lambda *_: result))
    if report is not None:
        assert report.checked + report.skipped > 0


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "tanh"])
@given(z=hnp.arrays(np.float64, (2, 3), elements=st.floats(allow_nan=False,
                                                              allow_infinity=False)))
def test_activations_are_quiet_and_finite_at_any_finite_z(name, z):
    act = ACTIVATIONS[name]
    # Underflow (e^-800 -> 0) is the intended, silent, behaviour; anything else is not.
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        assert all_finite(act.sigma_prime(z))
        assert all_finite(act.sigma(z))
        h = 1e-20
        assert all_finite(np.imag(act.sigma(z + 1j * h)) / h)


# Numerics at the edges: the stable forms, dtypes and the kink convention.




@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_keep_the_dtype_of_z(name, dtype):
    act = ACTIVATIONS[name]
    z = np.linspace(-3, 3, 12).reshape(3, 4).astype(dtype)
    assert act.sigma(z).dtype == dtype
    assert act.sigma_prime(z).dtype == dtype
    assert act.backward(z, np.ones_like(z)).dtype == dtype


@pytest.mark.parametrize("impl", [loop.backprop, vectorized.backprop], ids=["loop", "vectorized"])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_float32_networks_give_float32_gradients_for_every_activation(impl, hidden):
    for cost_name, cost_fn in COSTS.items():
        output = cost_fn.requires or hidden
        net = Network.random([3, 4, 2], [hidden, output], cost_name, seed=1, dtype=np.float32)
        rng = np.random.default_rng(1)
        Y = rng.dirichlet(np.ones(2), size=3).T.astype(np.float32)
        g = impl(net, rng.standard_normal((3, 3)), Y)
        assert {d.dtype for d in (*g.delta, *g.dW, *g.db)} == {np.dtype(np.float32)}, cost_name


def test_softmax_and_its_cost_shift_each_column_on_its_own():
    """Columns 2000 apart: one shift for the whole batch would give 0/0 in one of them."""
    z = np.array([[1000.0, -1000.0], [999.0, -1001.0]])
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    p = 1 / (1 + np.exp(-1.0))
    np.testing.assert_allclose(ACTIVATIONS["softmax"].sigma(z), [[p, p], [1 - p, 1 - p]],
                               rtol=1e-15)
    value_z = COSTS["categorical_cross_entropy"].value_z
    assert value_z is not None
    # lse is formed next to z = +-1000, so it carries ulp(1000) ~ 1e-13 of rounding.
    np.testing.assert_allclose(value_z(z, y), [-np.log(p), 1 - np.log(p)], rtol=1e-12)


@pytest.mark.parametrize("impl", ["loop", "vectorized"])
@pytest.mark.parametrize(("cost_name", "output"), [("cross_entropy", "sigmoid"),
                                                   ("categorical_cross_entropy", "softmax")])
def test_saturated_outputs_give_a_finite_cost_and_delta_a_minus_y(cost_name, output, impl):
    """z^L = +-1000: a^L rounds to exactly 0 and 1, ln a would be -inf, the forms from z are not."""
    net = Network([np.array([[500.0, 0.0], [-500.0, 0.0]])], [np.zeros((2, 1))], [output],
                  cost_name)
    X = np.array([[2.0, -2.0], [1.0, 1.0]])
    Y = np.array([[0.0, 1.0], [1.0, 0.0]]) if output == "softmax" else np.array(
        [[0.0, 0.5], [1.0, 0.25]])
    a = forward(net, X).a[-1]
    assert set(np.unique(a)) <= {0.0, 1.0}, a
    C = cost(net, X, Y)
    assert np.isfinite(C) and C > 900, C
    g = {"loop": loop.backprop, "vectorized": vectorized.backprop}[impl](net, X, Y)
    np.testing.assert_array_equal(g.delta[0], a - Y, err_msg="delta^L != a - y at saturation")
    report = check_network(net, X, Y, impl=impl)
    assert report.ok, str(report)


@pytest.mark.parametrize("hidden", ["relu", "leaky_relu"])
def test_loop_and_vectorized_take_the_same_derivative_at_the_kink(hidden):
    """z[0][0, :] = 0 exactly; both use sigma'(0) = the z < 0 side (relu 0, leaky 0.01)."""
    W1 = np.array([[0.0, 0.0], [1.0, -0.5]])
    net = Network([W1, np.array([[0.5, -1.0]])], [np.zeros((2, 1)), np.zeros((1, 1))],
                  [hidden, "identity"])
    X, Y = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]]), np.array([[0.2, -0.1, 0.4]])
    g_loop, g_vec = loop.backprop(net, X, Y), vectorized.backprop(net, X, Y)
    slope = ACTIVATIONS[hidden].sigma_prime(np.zeros((1, 1)))[0, 0]
    np.testing.assert_array_equal(g_vec.delta[0][0], 0.5 * g_vec.delta[1][0] * slope)
    np.testing.assert_array_equal(g_loop.delta[0][0], g_vec.delta[0][0])

"""Fuzzing the public API with random malformed shapes, dtypes and values.

Whatever goes in, what comes out is a result or our own ValueError/TypeError,
raised from a frame in `backprop/` or `checks/` (never from inside numpy), and
never a warning: the suite runs with warnings as errors, so an overflow or an
invalid operation that slipped past the checks fails here. Accepted input must
give finite results. Which message a given bad input gets is test_validation's
table; the numerics of the activations and costs at their edges are in
tests/backprop/.
"""

from __future__ import annotations

import itertools
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from backprop import ACTIVATIONS, COSTS, Gradients, Network, cost, forward, loop, vectorized
from checks import check_network, gradcheck
from checks.network import error_scales
from checks.strategies import batches, networks
from tests.test_validation import raised_by_us

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

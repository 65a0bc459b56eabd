"""Input validation at the public entry points (Network, Network.random, forward, cost,
loop/vectorized.backprop, check_network, error_scales, tolerances, gradcheck): bad input
raises our own ValueError/TypeError naming the argument, input of any accepted form is
converted (integer arrays, a numpy sizes vector, a single activation name), and nothing
passed in is ever changed, not even by a call that raised. A new bad argument is a row of
the one table (call, expected exception, fragment of its message); a test of how an accepted
argument is read or a target is checked also goes here. The overflow guard and its bounds go
in test_overflow_guard.py, the command line's usage errors in tests/cli/, and gradcheck's
verdicts in tests/checks/test_gradcheck.py.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backprop import Gradients, Network, cost, forward, loop, validate, vectorized
from checks import check_network, check_vjp, gradcheck
from checks.network import error_scales, tolerances

PACKAGE_DIRS = tuple(str(Path(__file__).resolve().parents[1] / d) for d in ("backprop", "checks"))


def raised_by_us(exc: BaseException) -> bool:
    """exc was raised from a frame in backprop/ or checks/, not from inside numpy."""
    raiser = traceback.extract_tb(exc.__traceback__)[-1].filename
    return raiser.startswith(PACKAGE_DIRS)


def quad() -> Network:
    return Network.random([3, 4, 2], "tanh", seed=0)


def ce() -> Network:
    return Network.random([3, 4, 2], ["tanh", "sigmoid"], "cross_entropy", seed=0)


def cce() -> Network:
    return Network.random([3, 4, 2], ["tanh", "softmax"], "categorical_cross_entropy", seed=0)


def X(m: int = 5) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (3, m))


def Y(m: int = 5) -> np.ndarray:
    return np.random.default_rng(1).dirichlet(np.ones(2), size=m).T


def with_X(x: Any) -> Callable[[Callable[..., Any]], Any]:
    return lambda fn: fn(quad(), x, Y())


def W(*shape: int) -> np.ndarray:
    return np.ones(shape)


def mutated(field: str, change: Callable[[list[np.ndarray]], Any]) -> Callable[..., Gradients]:
    """An impl whose result has one field replaced by change(correct field)."""

    def impl(net: Network, X: Any, Y: Any) -> Gradients:
        g = vectorized.backprop(net, X, Y)
        parts = {"delta": g.delta, "dW": g.dW, "db": g.db}
        parts[field] = change(parts[field])
        return Gradients(**parts)

    return impl


def changing(change: Callable[[Network], Any]) -> Callable[..., Gradients]:
    """An impl that returns our gradients, then changes the network it received with
    change(net): only the change can fail the check."""

    def impl(net: Network, X: Any, Y: Any) -> Gradients:
        g = vectorized.backprop(net, X, Y)
        change(net)
        return g

    return impl


def write_bias(net: Network) -> None:
    """A bias array of the network made writeable again and written in place."""
    net.biases[1].flags.writeable = True
    net.biases[1][0, 0] += 1.0


def f_sum(p: list[np.ndarray]) -> float:
    return float(np.sum(p[0] ** 2))


def grad_sum(p: list[np.ndarray]) -> list[np.ndarray]:
    return [2 * p[0]]


P = [np.array([[1.0, -2.0], [0.5, 3.0]])]

KNOWN_ACTIVATIONS = "known: identity, leaky_relu, relu, sigmoid, softmax, softplus, tanh"
KNOWN_COSTS = "known: categorical_cross_entropy, cross_entropy, quadratic"

# (id, call, exception, message fragment)
CONSTRUCTION: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("weights not a list", lambda: Network(np.ones((2, 2, 2)), [W(2, 1)] * 2, "tanh"),
     TypeError, "weights must be a list of arrays, one per layer; got ndarray"),
    ("biases a string", lambda: Network([W(2, 2)], "b", "tanh"),
     TypeError, "biases must be a list of arrays"),
    ("no layers", lambda: Network([], [], "tanh"),
     ValueError, "weights is empty: a network needs at least one layer$"),
    ("bias count", lambda: Network([W(4, 3), W(2, 4)], [W(4, 1)], "tanh"),
     ValueError, "biases has 1 array, but weights has 2: one bias vector per layer$"),
    ("inconsistent weights", lambda: Network([W(4, 3), W(2, 5)], [W(4, 1), W(2, 1)], "tanh"),
     ValueError, "weights[1] has shape (2, 5): its 5 columns must match the 4 rows of weights[0]"),
    ("1-D weights", lambda: Network([np.ones(3)], [W(3, 1)], "tanh"),
     ValueError, "weights[0] must be a non-empty 2-D array (n_1, n_0), got shape (3,)"),
    ("layer of size 0", lambda: Network([W(0, 3)], [W(0, 1)], "tanh"),
     ValueError, "weights[0] must be a non-empty 2-D array (n_1, n_0), got shape (0, 3)"),
    ("1-D bias", lambda: Network([W(4, 3)], [np.ones(4)], "tanh"),
     ValueError, "biases[0] has shape (4,), expected (4, 1) to match the 4 rows of weights[0]$"),
    ("bias broadcastable", lambda: Network([W(4, 3)], [W(1, 1)], "tanh"),
     ValueError, "biases[0] has shape (1, 1), expected (4, 1)"),
    ("NaN weight", lambda: Network([np.where(W(4, 3) > 0, np.nan, 0)], [W(4, 1)], "tanh"),
     ValueError, "weights[0] must be finite, but weights[0][0, 0] = nan"),
    ("inf bias", lambda: Network([W(4, 3)], [np.full((4, 1), -np.inf)], "tanh"),
     ValueError, "biases[0] must be finite, but biases[0][0, 0] = -inf"),
    ("complex weight", lambda: Network([W(2, 2) * 1j], [W(2, 1)], "tanh"),
     TypeError, "weights[0] must be real, got complex dtype complex128"),
    ("string weights", lambda: Network([np.array([["a"]])], [W(1, 1)], "tanh"),
     TypeError, "weights[0] must be a numeric array, got dtype <U1"),
    ("ragged weights", lambda: Network([[[1.0, 2.0], [3.0]]], [W(2, 1)], "tanh"),
     TypeError, "weights[0] must be a numeric array (nested lists of equal length or an "
                "ndarray), got list: "),
    ("None weight", lambda: Network([None], [W(2, 1)], "tanh"),
     TypeError, "weights[0] must be a numeric array, got NoneType"),
    ("float16 weights", lambda: Network([W(2, 2).astype(np.float16)], [W(2, 1)], "tanh"),
     TypeError, "the dtype of weights[0] must be float32 or float64, got float16"),
    ("bias too big for float32", lambda: Network([W(2, 2).astype(np.float32)],
                                                 [np.full((2, 1), 1e300)], "tanh"),
     ValueError, "biases[0][0, 0] = 1e+300 does not fit in float32"),
    ("unknown activation", lambda: Network.random([3, 2], "tahn"),
     ValueError, f"unknown activation 'tahn'; {KNOWN_ACTIVATIONS}"),
    ("activation not a name", lambda: Network.random([3, 2], [3]),
     TypeError, "activations must be a name or a list of names, got [3]"),
    ("unknown cost", lambda: Network.random([3, 2], cost="mse"),
     ValueError, f"unknown cost 'mse'; {KNOWN_COSTS}"),
    ("cost not a name", lambda: Network.random([3, 2], cost=None),
     TypeError, "cost must be a name, got None"),
    ("too many activations", lambda: Network.random([3, 4, 2], ["tanh"] * 3),
     ValueError, "activations has 3 entries, but the network has 2 layers: give one name per "
                 "layer, or one name for every layer$"),
    ("too few activations", lambda: Network.random([3, 4, 2], ["tanh"]),
     ValueError, "activations has 1 entry, but the network has 2 layers"),
    ("hidden softmax", lambda: Network.random([3, 4, 2], ["softmax", "tanh"]),
     ValueError, "activations[0] is 'softmax', which may only be the output layer"),
    ("cross-entropy after tanh", lambda: Network.random([3, 2], ["tanh"], "cross_entropy"),
     ValueError, "cost 'cross_entropy' requires a 'sigmoid' output layer, got 'tanh'"),
    ("categorical after sigmoid",
     lambda: Network.random([3, 2], ["sigmoid"], "categorical_cross_entropy"),
     ValueError, "cost 'categorical_cross_entropy' requires a 'softmax' output layer"),
    ("one size", lambda: Network.random([3]),
     ValueError, "sizes needs an input and an output width, got [3]"),
    ("size 0", lambda: Network.random([3, 0, 2]),
     ValueError, "sizes[1] = 0: every layer needs at least 1 neuron"),
    ("negative size", lambda: Network.random([3, -2]),
     ValueError, "sizes[1] = -2: every layer needs at least 1 neuron"),
    ("fractional size", lambda: Network.random([3, 2.5]),
     TypeError, "sizes[1] must be an integer, got 2.5"),
    ("boolean size", lambda: Network.random([3, True]),
     TypeError, "sizes[1] must be an integer, got True"),
    ("sizes a string", lambda: Network.random("32"),
     TypeError, "sizes must be a list of layer widths, got '32'"),
    ("negative seed", lambda: Network.random([3, 2], seed=-1),
     ValueError, "seed must be >= 0, got -1"),
    ("string seed", lambda: Network.random([3, 2], seed="0"),
     TypeError, "seed must be an integer >= 0 or None, got '0'"),
    ("float seed", lambda: Network.random([3, 2], seed=1.5),
     TypeError, "seed must be an integer >= 0 or None, got 1.5"),
    ("float16 dtype", lambda: Network.random([3, 2], dtype=np.float16),
     TypeError, "dtype must be float32 or float64, got float16"),
    ("unknown dtype", lambda: Network.random([3, 2], dtype="double-ish"),
     TypeError, "dtype must be float32 or float64, got 'double-ish'"),
    ("integer dtype", lambda: Network.random([3, 2], dtype=int),
     TypeError, "dtype must be float32 or float64, got int64"),
    ("negative scale", lambda: Network.random([3, 2], scale=-1.0),
     ValueError, "scale must be a finite number >= 0, got -1.0"),
    ("NaN scale", lambda: Network.random([3, 2], scale=float("nan")),
     ValueError, "scale must be a finite number >= 0, got nan"),
    ("string scale", lambda: Network.random([3, 2], scale="1"),
     TypeError, "scale must be a real number, got '1'"),
    ("scale too big for float32", lambda: Network.random([3, 2], dtype=np.float32, scale=1e300),
     ValueError, "scale = 1e+300 is too large for float32: the weights overflow"),
]

X_CASES: list[tuple[str, Callable[[Callable[..., Any]], Any], type[Exception], str]] = [
    ("net not a Network", lambda fn: fn({"weights": []}, X(), Y()),
     TypeError, "net must be a backprop.Network, got dict"),
    ("X wrong rows", with_X(np.ones((4, 5))),
     ValueError, "X has 4 rows, but the network's input layer has 3 neurons: X must be (3, m)"),
    ("X transposed", with_X(X().T),
     ValueError, "X has 5 rows, but the network's input layer has 3 neurons"),
    ("X transposed hint", with_X(np.ones((2, 3))), ValueError, "it looks transposed: pass X.T"),
    ("X 1-D", with_X(np.ones(3)),
     ValueError, "X must be 2-D with one column per example, shape (3, m); got shape (3,)"),
    ("X 3-D", with_X(np.ones((3, 5, 1))), ValueError, "got shape (3, 5, 1)"),
    ("X scalar", with_X(1.0), ValueError, "got shape ()"),
    ("empty batch", with_X(np.ones((3, 0))),
     ValueError, "X is an empty batch (shape (3, 0)): need m >= 1"),
    ("X NaN", with_X(np.where(np.arange(15).reshape(3, 5) == 7, np.nan, 0.0)),
     ValueError, "X must be finite, but X[1, 2] = nan"),
    ("X inf", with_X(np.full((3, 5), np.inf)), ValueError, "X must be finite, but X[0, 0] = inf"),
    ("X one inf among finite values",
     with_X(np.where(np.arange(15).reshape(3, 5) == 11, np.inf, 0.5)),
     ValueError, "X must be finite, but X[2, 1] = inf"),
    ("X one -inf among finite values",
     with_X(np.where(np.arange(15).reshape(3, 5) == 3, -np.inf, 0.5)),
     ValueError, "X must be finite, but X[0, 3] = -inf"),
    ("X complex", with_X(X() + 0j), TypeError, "X must be real, got complex dtype complex128"),
    ("X string", with_X("X"), TypeError, "X must be a numeric array, got str"),
    ("X None", with_X(None), TypeError, "X must be a numeric array, got NoneType"),
    ("X objects", with_X(np.array([[object()]] * 3)),
     TypeError, "X must be a numeric array, got dtype object"),
    ("X ragged", with_X([[1.0, 2.0], [3.0], [4.0, 5.0]]),
     TypeError, "X must be a numeric array (nested lists of equal length"),
    ("X too big for float32",
     lambda fn: fn(Network.random([3, 2], dtype=np.float32), np.full((3, 5), 1e39),
                   np.zeros((2, 5))),
     ValueError, "X[0, 0] = 1e+39 does not fit in float32"),
    ("X too large", with_X(np.full((3, 5), 1e200)),
     ValueError, "|X| could reach 1e+200, above 1.31e+151, where float64 would overflow"),
    ("X too large and negative", with_X(np.where(np.eye(3, 5) > 0, -1e200, 1.0)),
     ValueError, "|X| could reach 1e+200, above 1.31e+151"),
    ("X overflows the forward pass",
     lambda fn: fn(Network([np.full((2, 3), 10.0)], [np.zeros((2, 1))], "identity"),
                   np.full((3, 5), 1e150), np.zeros((2, 5))),
     ValueError, "|z[0]| (from |X| <= 1e+150 and the weights) could reach 3e+151"),
    ("weights overflow float32",
     lambda fn: fn(Network([np.full((2, 3), 1e30, np.float32), np.full((2, 2), 1e30, np.float32)],
                           [np.zeros((2, 1), np.float32)] * 2, "identity"),
                   np.ones((3, 5)), np.zeros((2, 5))),
     ValueError, "where float32 would overflow: scale X, Y or the weights down"),
]

Y_CASES: list[tuple[str, Callable[[Callable[..., Any]], Any], type[Exception], str]] = [
    ("Y wrong rows", lambda fn: fn(quad(), X(), np.ones((3, 5))),
     ValueError, "Y has 3 rows, but the network's output layer has 2 neurons"),
    ("batch sizes differ", lambda fn: fn(quad(), X(5), Y(4)),
     ValueError, "X has 5 examples (columns) but Y has 4: they must match"),
    ("Y NaN", lambda fn: fn(quad(), X(), np.full((2, 5), np.nan)),
     ValueError, "Y must be finite, but Y[0, 0] = nan"),
    ("Y empty", lambda fn: fn(quad(), X(0), Y(0)), ValueError, "X is an empty batch"),
    ("Y 1-D", lambda fn: fn(quad(), X(), np.ones(2)), ValueError, "Y must be 2-D"),
    ("Y complex", lambda fn: fn(quad(), X(), Y() * 1j), TypeError, "Y must be real"),
    ("cross-entropy target > 1", lambda fn: fn(ce(), X(), np.where(Y() > 2, 0, 1.5)),
     ValueError, "Y[0, 0] = 1.5, but cost 'cross_entropy' needs targets in [0, 1]"),
    ("cross-entropy target < 0", lambda fn: fn(ce(), X(), -Y()),
     ValueError, "but cost 'cross_entropy' needs targets in [0, 1]"),
    ("softmax target not a distribution", lambda fn: fn(cce(), X(), Y() * 0.9),
     ValueError, "each column of Y must be a distribution (sum 1) for cost "
                 "'categorical_cross_entropy', but column"),
    ("softmax target negative", lambda fn: fn(cce(), X(), np.array([[2.0] * 5, [-1.0] * 5])),
     ValueError, "Y[0, 0] = 2.0, but cost 'categorical_cross_entropy' needs targets in [0, 1]"),
    ("softmax target normalised in float32",
     lambda fn: fn(cce(), X(3), np.array([[0.1, 0.2, 0.7], [0.9, 0.8, 0.3]], np.float32)),
     ValueError, "normalise Y in the network's dtype"),
    ("Y overflows the cost", lambda fn: fn(quad(), X(), np.full((2, 5), 1e200)),
     ValueError, "the cost could reach"),
]

CHECK_NETWORK: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("unknown impl", lambda: check_network(quad(), X(), Y(), impl="fast"),
     ValueError, "impl must be 'vectorized', 'loop' or a callable, got 'fast'"),
    ("impl not callable", lambda: check_network(quad(), X(), Y(), impl=3),
     TypeError, "impl must be 'vectorized', 'loop' or a callable, got 3"),
    ("unknown method", lambda: check_network(quad(), X(), Y(), method="forward"),
     ValueError, "unknown method 'forward'; known: auto, complex_step, central, richardson"),
    ("method not a name", lambda: check_network(quad(), X(), Y(), method=2),
     TypeError, "method must be a name, got 2"),
    ("cached_derivatives not a bool", lambda: check_network(quad(), X(), Y(),
                                                             cached_derivatives="no"),
     TypeError, "cached_derivatives must be True or False, got 'no'"),
    ("tolerances: cached_derivatives not a bool", lambda: tolerances(quad(), X(), Y(), 1),
     TypeError, "cached_derivatives must be True or False, got 1"),
    ("tolerances: net not a Network", lambda: tolerances("net", X(), Y()),
     TypeError, "net must be a backprop.Network, got str"),
    ("ulps below one", lambda: check_network(quad(), X(), Y(), ulps=0.5),
     ValueError, "ulps must be >= 1 (the rounding of one operation), got 0.5"),
    ("ulps not a number", lambda: tolerances(quad(), X(), Y(), ulps="8"),
     TypeError, "ulps must be a real number, got '8'"),
    ("infinite ulps", lambda: error_scales(quad(), X(), Y(), ulps=float("inf")),
     ValueError, "ulps must be a finite number >= 0, got inf"),
    ("zero directions", lambda: check_network(quad(), X(), Y(), directions=0),
     ValueError, "directions must be a positive integer or None, got 0"),
    ("boolean directions", lambda: check_network(quad(), X(), Y(), directions=True),
     TypeError, "directions must be a positive integer or None, got True"),
    ("float directions", lambda: check_network(quad(), X(), Y(), directions=2.0),
     TypeError, "directions must be a positive integer or None, got 2.0"),
    ("impl returns a tuple",
     lambda: check_network(quad(), X(), Y(), impl=lambda n, x, y: (1, 2, 3)),
     TypeError, "must return Gradients(delta, dW, db), got tuple"),
    ("impl returns None", lambda: check_network(quad(), X(), Y(), impl=lambda n, x, y: None),
     TypeError, "must return Gradients(delta, dW, db), got NoneType"),
    ("impl returns one layer too few", lambda: check_network(
        quad(), X(), Y(), impl=mutated("dW", lambda a: a[1:])),
     ValueError, "returned 1 array in dW, but the network has 2 layers"),
    ("impl returns no db for a one-layer network", lambda: check_network(
        Network.random([3, 2], seed=0), X(), Y(), impl=mutated("db", lambda a: [])),
     ValueError, "mutated.<locals>.impl returned 0 arrays in db, but the network has 1 layer$"),
    ("impl returns one layer too many", lambda: check_network(
        quad(), X(), Y(), impl=mutated("delta", lambda a: [*a, a[0]])),
     ValueError, "returned 3 arrays in delta, but the network has 2 layers"),
    ("impl returns a flat db", lambda: check_network(
        quad(), X(), Y(), impl=mutated("db", lambda a: [b.ravel() for b in a])),
     ValueError, "returned db[0] with shape (4,), expected (4, 1)"),
    ("impl returns dW transposed", lambda: check_network(
        quad(), X(), Y(), impl=mutated("dW", lambda a: [w.T for w in a])),
     ValueError, "returned dW[0] with shape (3, 4), expected (4, 3)"),
    ("impl returns delta as a batch mean", lambda: check_network(
        quad(), X(), Y(), impl=mutated("delta", lambda a: [d.mean(axis=1) for d in a])),
     ValueError, "returned delta[0] with shape (4,), expected (4, 5)"),
    ("impl returns complex", lambda: check_network(
        quad(), X(), Y(), impl=mutated("db", lambda a: [b + 0j for b in a])),
     TypeError, "returned db[0] with dtype complex128: expected floating point, the network "
                "is float64"),
    ("impl returns integer dW", lambda: check_network(
        quad(), X(), Y(), impl=mutated("dW", lambda a: [w.astype(np.int64) for w in a])),
     TypeError, "returned dW[0] with dtype int64: expected floating point, the network is "
                "float64"),
    ("impl returns boolean delta", lambda: check_network(
        quad(), X(), Y(), impl=mutated("delta", lambda a: [d > 0 for d in a])),
     TypeError, "returned delta[0] with dtype bool: expected floating point"),
    ("impl returns Nielsen's (nabla_b, nabla_w)", lambda: check_network(
        quad(), X(), Y(), impl=lambda net, x, y: ([np.zeros(b.shape) for b in net.biases],
                                                  [np.zeros(w.shape) for w in net.weights])),
     TypeError, "got tuple (a dict with keys 'dW' and 'db', 'delta' optional, works too): "
                "a (nabla_b, nabla_w) of one example, as in Nielsen's book? wrap it: batch = "
                "per_example(backprop) (docs/code-shapes.md)"),
    ("impl replaces a weight matrix", lambda: check_network(
        quad(), X(), Y(), impl=changing(lambda net: net.weights.__setitem__(
            0, net.weights[0] * 2))),
     ValueError, "replaced net.weights[0]: a backprop must not change the network"),
    ("impl replaces the biases", lambda: check_network(
        quad(), X(), Y(), impl=changing(lambda net: setattr(net, "biases", net.biases[:]))),
     ValueError, "replaced net.biases: a backprop must not change the network"),
    ("impl drops a layer", lambda: check_network(
        quad(), X(), Y(), impl=changing(lambda net: net.weights.pop())),
     ValueError, "replaced net.weights: a backprop must not change the network"),
    ("impl writes a bias made writeable", lambda: check_network(
        quad(), X(), Y(), impl=changing(write_bias)),
     ValueError, "changed net.biases[1] in place: a backprop must not change the network"),
    ("progress not callable", lambda: check_network(quad(), X(), Y(), progress=3),
     TypeError, "progress must be a callable progress(done, total) or None, got int"),
    ("unknown delta", lambda: check_network(quad(), X(), Y(), delta="sum"),
     ValueError, "delta must be 'per_example' (dC_x/dz, one column per example) or 'mean' "
     "(dC/dz of the batch mean cost, the per-example delta / m), got 'sum'"),
    ("delta not a name", lambda: check_network(quad(), X(), Y(), delta=True),
     TypeError, "delta must be 'per_example'"),
    ("labels out of range", lambda: check_network(cce(), X(3), np.array([0, 2, 1])),
     ValueError, "Y[1] = 2, but class labels must be in 0..1 (the network's output layer has "
     "2 neurons)"),
    ("negative label", lambda: tolerances(cce(), X(3), [0, 1, -1]),
     ValueError, "Y[2] = -1, but class labels must be in 0..1"),
    ("labels as floats", lambda: check_network(cce(), X(3), np.array([0.0, 1.0, 1.0])),
     TypeError, "Y of shape (3,) is read as class labels, which must be integers 0..1, got "
     "dtype float64: pass Y.astype(int), or one-hot targets of shape (2, m)"),
    ("labels for another cost", lambda: check_network(quad(), X(3), np.array([0, 1, 1])),
     ValueError, "Y of shape (3,) holds integer class labels, which only cost "
     "'categorical_cross_entropy' takes; cost 'quadratic' needs targets Y of shape (2, m)"),
    ("labels one too many", lambda: check_network(cce(), X(3), np.array([0, 1, 1, 0])),
     ValueError, "X has 3 examples (columns) but Y has 4"),
]

# Seeds and malformed results of a user's backprop.
CHECK_NETWORK_RESULTS: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("negative seed", lambda: check_network(quad(), X(), Y(), seed=-1),
     ValueError, "seed must be >= 0, got -1"),
    ("string seed", lambda: check_network(quad(), X(), Y(), seed="0"),
     TypeError, "seed must be an integer >= 0, got '0'"),
    ("impl returns a number for delta", lambda: check_network(
        quad(), X(), Y(), impl=mutated("delta", lambda a: 0.0)),
     TypeError, "returned delta of type float, expected a list of 2 arrays"),
    ("impl returns a ragged dW", lambda: check_network(
        quad(), X(), Y(), impl=mutated("dW", lambda a: [[[1.0], [1.0, 2.0]], a[1]])),
     ValueError, "returned dW[0] that is not an array of shape (4, 3)"),
]

GRADCHECK: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("progress not callable", lambda: gradcheck(f_sum, grad_sum, P, progress="yes"),
     TypeError, "progress must be a callable progress(done, total) or None, got str"),
    ("check_vjp: progress not callable", lambda: check_vjp(
        lambda p: 2 * p[0], lambda p, v: [2 * v], P, progress=1),
     TypeError, "progress must be a callable progress(done, total) or None, got int"),
    ("f not callable", lambda: gradcheck(1.0, grad_sum, P),
     TypeError, "f must be a callable taking a list of arrays, got float"),
    ("grad not callable", lambda: gradcheck(f_sum, [P[0]], P),
     TypeError, "grad must be a callable taking a list of arrays, got list"),
    ("params an array", lambda: gradcheck(f_sum, grad_sum, P[0]),
     TypeError, "params must be a list of arrays, got ndarray (wrap a single array as [array])"),
    ("params a dict with a non-string key", lambda: gradcheck(f_sum, grad_sum, {1: P[0]}),
     TypeError, "params' keys must be non-empty strings"),
    ("params empty", lambda: gradcheck(f_sum, grad_sum, []),
     ValueError, "params is empty: give at least one array to differentiate"),
    ("params with no elements", lambda: gradcheck(f_sum, grad_sum, [np.zeros((2, 0))]),
     ValueError, "params[0] has no elements (shape (2, 0)): nothing to check"),
    ("params NaN", lambda: gradcheck(f_sum, grad_sum, [np.array([1.0, np.nan])]),
     ValueError, "params[0] must be finite, but params[0][1] = nan"),
    ("params complex", lambda: gradcheck(f_sum, grad_sum, [P[0] * 1j]),
     TypeError, "params[0] must be real"),
    ("params strings", lambda: gradcheck(f_sum, grad_sum, ["ab"]),
     TypeError, "params[0] must be a numeric array, got str"),
    ("unknown method", lambda: gradcheck(f_sum, grad_sum, P, method="five-point"),
     ValueError, "unknown method 'five-point'; known: auto, complex_step, central, richardson"),
    ("method not a name", lambda: gradcheck(f_sum, grad_sum, P, method=None),
     TypeError, "method must be a name, got None"),
    ("negative rtol", lambda: gradcheck(f_sum, grad_sum, P, rtol=-1e-9),
     ValueError, "rtol must be a finite number >= 0, got -1e-09"),
    ("NaN atol", lambda: gradcheck(f_sum, grad_sum, P, atol=float("nan")),
     ValueError, "atol must be a finite number >= 0, got nan"),
    ("string rtol", lambda: gradcheck(f_sum, grad_sum, P, rtol="1e-6"),
     TypeError, "rtol must be a real number, got '1e-6'"),
    ("zero step", lambda: gradcheck(f_sum, grad_sum, P, step=0.0),
     ValueError, "step must be a finite number > 0, got 0.0"),
    ("negative step", lambda: gradcheck(f_sum, grad_sum, P, step=-1e-6),
     ValueError, "step must be a finite number > 0, got -1e-06"),
    ("infinite step", lambda: gradcheck(f_sum, grad_sum, P, step=float("inf")),
     ValueError, "step must be a finite number > 0, got inf"),
    ("NaN step", lambda: gradcheck(f_sum, grad_sum, P, step=float("nan")),
     ValueError, "step must be a finite number > 0, got nan"),
    ("string step", lambda: gradcheck(f_sum, grad_sum, P, step="1e-6"),
     TypeError, "step must be a real number, got '1e-6'"),
    ("f returns a vector", lambda: gradcheck(lambda p: p[0].ravel(), grad_sum, P),
     TypeError, "f must return a scalar number, got ndarray of shape (4,)"),
    ("f returns None", lambda: gradcheck(lambda p: None, grad_sum, P),
     TypeError, "f must return a scalar number, got NoneType"),
    ("f returns a string", lambda: gradcheck(lambda p: "0.5", grad_sum, P),
     TypeError, "f must return a scalar number, got str"),
    ("f returns a ragged list", lambda: gradcheck(lambda p: [[1.0], [1.0, 2.0]], grad_sum, P),
     TypeError, "f must return a scalar number, got list at params"),
    ("f returns NaN", lambda: gradcheck(lambda p: float("nan"), grad_sum, P),
     ValueError, "f returned nan at params; it must be finite"),
    ("f returns inf", lambda: gradcheck(lambda p: -np.inf, grad_sum, P),
     ValueError, "f returned -inf at params; it must be finite"),
    ("f returns complex", lambda: gradcheck(lambda p: 1.0 + 2.0j, grad_sum, P),
     ValueError, "f returned the complex value (1+2j) at real params; f must be real-valued"),
    ("f NaN away from the point", lambda: gradcheck(
        lambda p: 0.0 if np.array_equal(p[0], P[0]) else np.nan, grad_sum, P),
     ValueError, "it must be finite"),
    ("grad returns an array", lambda: gradcheck(f_sum, lambda p: 2 * p[0], P),
     TypeError, "grad must return a list of 1 array, got ndarray"),
    ("grad returns None", lambda: gradcheck(f_sum, lambda p: None, P),
     TypeError, "grad must return a list of 1 array, got NoneType"),
    ("grad returns too many", lambda: gradcheck(f_sum, lambda p: [2 * p[0], p[0]], P),
     ValueError, "grad must return a list of 1 array (one per params[p]), got 2"),
    ("grad returns the wrong shape", lambda: gradcheck(f_sum, lambda p: [2 * p[0].ravel()], P),
     ValueError, "grad returned an array of shape (4,) for params[0], expected (2, 2)"),
    ("grad returns complex", lambda: gradcheck(f_sum, lambda p: [2j * p[0]], P),
     TypeError, "grad returned dtype complex128 for params[0], expected real numbers"),
    ("grad returns ragged", lambda: gradcheck(f_sum, lambda p: [[[1.0], [1.0, 2.0]]], P),
     ValueError, "grad returned something that is not an array for params[0]"),
]


def raises_from_our_code(call: Callable[[], Any], exc: type[Exception], fragment: str) -> None:
    """call() raises exc with the fragment in its message, from a frame in our package."""
    with pytest.raises(exc) as info:
        call()
    assert type(info.value) is exc, f"{type(info.value).__name__}: {info.value}"
    if fragment.endswith("$"):  # the whole message
        assert str(info.value) == fragment[:-1], str(info.value)
    assert fragment.rstrip("$") in str(info.value), f"{fragment!r} not in {str(info.value)!r}"
    assert raised_by_us(info.value), "".join(traceback.format_exception(info.value))


ENTRY_POINTS = {
    "forward": lambda net, X, Y: forward(net, X),
    "cost": cost,
    "loop.backprop": loop.backprop,
    "vectorized.backprop": vectorized.backprop,
    "check_network": check_network,
    "error_scales": error_scales,
    "tolerances": tolerances,
}
XY_POINTS = {k: v for k, v in ENTRY_POINTS.items() if k != "forward"}

TABLE = (
    [pytest.param(call, exc, msg, id=f"Network: {case}") for case, call, exc, msg in CONSTRUCTION]
    + [pytest.param(lambda call=call, fn=fn: call(fn), exc, msg, id=f"{name}: {case}")
       for name, fn in ENTRY_POINTS.items() for case, call, exc, msg in X_CASES]
    + [pytest.param(lambda call=call, fn=fn: call(fn), exc, msg, id=f"{name}: {case}")
       for name, fn in XY_POINTS.items() for case, call, exc, msg in Y_CASES]
    + [pytest.param(call, exc, msg, id=f"check_network: {case}")
       for case, call, exc, msg in CHECK_NETWORK]
    + [pytest.param(call, exc, msg, id=f"check_network: {case}")
       for case, call, exc, msg in CHECK_NETWORK_RESULTS]
    + [pytest.param(call, exc, msg, id=f"gradcheck: {case}") for case, call, exc, msg in GRADCHECK]
)


@pytest.mark.parametrize(("call", "exc", "fragment"), TABLE)
def test_bad_input_raises_our_error_naming_the_argument(call, exc, fragment):
    raises_from_our_code(call, exc, fragment)


def test_a_single_activation_name_gets_the_output_its_cost_requires():
    assert Network.random([3, 4, 2], "tanh", "cross_entropy").activations == ("tanh", "sigmoid")
    assert Network.random([3, 4, 2], "relu", "categorical_cross_entropy").activations == (
        "relu", "softmax")
    assert Network.random([3, 4, 2], "tanh").activations == ("tanh", "tanh")
    assert Network.random([3, 2], "sigmoid", "cross_entropy").activations == ("sigmoid",)


def test_a_nan_in_a_user_gradient_is_a_reported_mismatch_not_an_error():
    report = check_network(quad(), X(), Y(), impl=mutated(
        "dW", lambda a: [np.where(np.arange(w.size).reshape(w.shape) == 1, np.nan, w) for w in a]))
    assert not report.ok
    assert "BP4 dW[1][j=0, i=1]: analytic=nan" in str(report)
    report = gradcheck(f_sum, lambda p: [np.full_like(p[0], np.nan)], P)
    assert not report.ok and len(report.mismatches) == 4


def snapshot(*arrays: Any) -> list[tuple[str, tuple[int, ...], bytes]]:
    """Every array's dtype, shape and bytes: equal snapshots are bit-identical arrays."""
    return [(str(a.dtype), a.shape, a.tobytes()) for a in arrays]


def net_state(net: Network) -> Any:
    return (snapshot(*net.weights, *net.biases), net.activations, net.cost, net.dtype,
            net.sizes)


def vandal(net: Network, X: np.ndarray, Y: np.ndarray) -> Gradients:
    """An impl that scribbles on everything it was given, then returns garbage."""
    for array in (*net.weights, *net.biases, X, Y):
        array[...] = 7.0
    net.weights.append(np.ones((1, 1)))
    return Gradients(delta=[], dW=[], db=[])


def scribbling_f(p: list[np.ndarray]) -> Any:
    value = np.sum(p[0] ** 2)
    p[0][...] = 7.0
    return value


def scribbling_grad(p: list[np.ndarray]) -> list[np.ndarray]:
    g = [2 * p[0]]
    p[0][...] = -7.0
    return g


NET_CALLS = {
    "forward": lambda net, X, Y: forward(net, X),
    "cost": cost,
    "loop.backprop": loop.backprop,
    "vectorized.backprop": vectorized.backprop,
    "check_network(vectorized)": lambda net, X, Y: check_network(net, X, Y),
    "check_network(loop, central)": lambda net, X, Y: check_network(net, X, Y, impl="loop",
                                                                    method="central"),
    "check_network(directions)": lambda net, X, Y: check_network(net, X, Y, directions=2),
    "error_scales": error_scales,
    "tolerances": tolerances,
    "check_network(vandal) raises": lambda net, X, Y: check_network(net, X, Y, impl=vandal),
    "check_network(bad method) raises": lambda net, X, Y: check_network(net, X, Y,
                                                                        method="nope"),
    "cost(bad Y) raises": lambda net, X, Y: cost(net, X, Y[:, :-1]),
}


@pytest.mark.parametrize("call", list(NET_CALLS))
@pytest.mark.parametrize("make", [quad, ce, cce], ids=["quadratic", "cross_entropy", "softmax"])
def test_no_public_call_changes_parameters_X_or_Y_even_when_it_raises(call, make):
    net = make()
    W_in = [w.copy() for w in net.weights]
    b_in = [b.copy() for b in net.biases]
    x, y = X(), Y()
    before = (net_state(net), snapshot(x, y))
    try:
        NET_CALLS[call](net, x, y)
    except (TypeError, ValueError):
        assert call.endswith("raises"), call
    else:
        assert not call.endswith("raises"), call
    assert (net_state(net), snapshot(x, y)) == before, f"{call} changed its arguments"
    # The network owns copies: its arrays are not the caller's.
    rebuilt = Network(W_in, b_in, list(net.activations), net.cost)
    W_in[0][...] = 7.0
    assert net_state(rebuilt)[0] == net_state(net)[0]


@pytest.mark.parametrize("grad", [scribbling_grad, lambda p: [2 * p[0], p[0]]],
                         ids=["correct", "wrong shapes: raises"])
@pytest.mark.parametrize("method", ["auto", "complex_step", "central", "richardson"])
def test_gradcheck_never_changes_params_even_when_f_and_grad_scribble(grad, method):
    params = [P[0].copy(), np.arange(3.0, dtype=np.float32)]
    before = snapshot(*params)

    def two(p):
        g = grad(p)
        return [*g, np.zeros(3)] if len(g) == 1 else g

    try:
        report = gradcheck(scribbling_f, two, params, method=method)
    except ValueError:
        pass
    else:
        assert report.ok, str(report)
    assert snapshot(*params) == before


def column(a: float, k: int) -> np.ndarray:
    """A (2, 1) target column [a, 1 - a + k eps], summing to exactly 1 + k eps."""
    return np.array([[a], [1 - a + k * np.finfo(np.float64).eps]])


@pytest.mark.parametrize(("k", "accepted"), [(12, True), (16, True), (17, False)])
def test_softmax_targets_may_be_off_by_8_n_eps_and_no_more(k, accepted):
    """n = 2 outputs, m = 1 example: the tolerance is 8 n eps = 16 eps."""
    Y = column(0.5, k)
    assert Y.sum() - 1 == k * np.finfo(np.float64).eps
    net = Network.random([1, 2], "softmax", "categorical_cross_entropy", seed=0)
    if accepted:
        assert np.isfinite(cost(net, np.ones((1, 1)), Y))
    else:
        with pytest.raises(ValueError, match=r"column 0 sums to .* \(off by 3\.8e-15, "
                                             r"tolerance 3\.6e-15 in float64\)"):
            cost(net, np.ones((1, 1)), Y)


@pytest.mark.parametrize(("sums", "worst"), [([1.0, 0.5, 1.2], 1), ([0.8, 1.6, 1.0], 1)])
def test_softmax_target_errors_name_the_worst_column(sums, worst):
    Y = np.array([[s / 2 for s in sums]] * 2)
    net = Network.random([1, 2], "softmax", "categorical_cross_entropy", seed=0)
    off = sums[worst] - 1
    with pytest.raises(ValueError, match=rf"but column {worst} sums to {sums[worst]!r} "
                                         rf"\(off by {off:.2g},"):
        cost(net, np.ones((1, 3)), Y)


@pytest.mark.parametrize(("Y", "where"), [([[0.0, 1.5]], "Y[0, 1] = 1.5"),
                                          ([[1.0, -0.5]], "Y[0, 1] = -0.5"),
                                          ([[0.5, 1.0], [2.0, 0.0]], "Y[1, 0] = 2.0")])
def test_cross_entropy_target_errors_name_the_first_bad_element(Y, where):
    Y = np.array(Y)
    net = Network.random([1, Y.shape[0]], "sigmoid", "cross_entropy", seed=0)
    with pytest.raises(ValueError, match=re.escape(where)):
        cost(net, np.ones((1, 2)), Y)


def test_messages_about_rows_hint_at_a_transpose_only_when_it_fits():
    with pytest.raises(ValueError) as info:
        forward(quad(), np.ones((4, 5)))
    assert str(info.value).endswith("one column per example"), str(info.value)


def test_integer_and_boolean_arrays_are_taken_as_float64():
    net = Network([[[1, 2]], [[3]]], [[[0]], [[1]]], ["relu", "identity"])
    assert net.dtype == np.float64 and net.weights[0].dtype == np.float64
    assert forward(net, np.array([[True], [False]])).a[0].dtype == np.float64
    assert cost(net, [[1], [2]], [[5]]) == 0.5 * (3 * 5 + 1 - 5) ** 2


def test_sizes_may_be_a_numpy_vector():
    net = Network.random(np.array([3, 4, 2]), "tanh", seed=0)
    assert net.sizes == [3, 4, 2]
    with pytest.raises(TypeError, match="sizes must be a list of layer widths"):
        Network.random(np.array([[3, 4, 2]]))


@pytest.mark.parametrize(("optional", "message"), [
    (True, "seed must be an integer >= 0 or None, got 'x'"),
    (False, "seed must be an integer >= 0, got 'x'")])
def test_seed_messages_say_whether_none_is_allowed(optional, message):
    with pytest.raises(TypeError) as info:
        validate.check_seed("x", optional=optional)
    assert str(info.value) == message


@pytest.mark.parametrize("options", [{"method": "exact"}, {"method": 3}, {"directions": 0},
                                     {"ulps": 0},
                                     {"directions": True}, {"cached_derivatives": "yes"},
                                     {"seed": -1}, {"impl": "fast"}, {"progress": 3},
                                     {"delta": "no"}])
def test_check_network_rejects_bad_options_before_running_the_backprop(options):
    calls = []

    def backprop(net, X, Y):
        calls.append(1)
        return vectorized.backprop(net, X, Y)

    kwargs = {"impl": backprop, **options}
    with pytest.raises((TypeError, ValueError)):
        check_network(quad(), X(), Y(), **kwargs)
    assert calls == [], f"the backprop ran before {options} was refused"


@pytest.mark.parametrize("check", [gradcheck, lambda f, grad, P, **kw: check_vjp(
    lambda p: np.atleast_1d(f(p)), lambda p, v: [g * v[0] for g in grad(p)], P, **kw)],
    ids=["gradcheck", "check_vjp"])
def test_black_box_checks_reject_a_bad_progress_before_calling_f(check):
    calls = []

    def f(p):
        calls.append(1)
        return f_sum(p)

    with pytest.raises(TypeError, match="progress must be a callable"):
        check(f, grad_sum, P, progress=3)
    assert calls == [], "f ran before progress=3 was refused"

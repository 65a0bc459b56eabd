"""gradcheck on users' own code: a correct gradient passes and a planted error is
caught under every method and chosen step; piecewise-smooth functions (relu, leaky
relu, max, |x|) raise no false alarm; the complex-safety probe tells a kink from an
f that mishandles Im; parameters may be named (a dict) and come with the value
((value, grads) from one function).

A new test goes here if it is about gradcheck's verdicts, its methods and steps,
its probe or its named parameters; the engine's stencils and kink tests on their
own are in test_engine.py; bad arguments shared with the other entry points are
in test_validation.py.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from checks import gradcheck
from checks.engine.stencils import RICHARDSON, U64

SEEDS = range(20)
LEAKS = pytest.mark.parametrize("leak", [0.0, 0.01], ids=["relu", "leaky relu"])


@dataclass(frozen=True)
class TwoLayerNet:
    """A two-layer net as a CS231n student writes it, row-major: scores =
    relu(X W1 + b1) W2 + b2 (leaky relu if leak > 0), softmax loss averaged over
    the N examples. params: [W1, b1, W2, b2]."""

    X: np.ndarray
    y: np.ndarray
    params: list[np.ndarray]
    leak: float

    def relu(self, z: Any) -> Any:
        return np.maximum(z, 0) if self.leak == 0 else np.where(z > 0, z, self.leak * z)

    def f(self, p: list[Any]) -> Any:
        scores = self.relu(self.X @ p[0] + p[1]) @ p[2] + p[3]
        scores = scores - np.max(scores, axis=1, keepdims=True)
        correct = scores[np.arange(len(self.y)), self.y]
        return np.mean(np.log(np.sum(np.exp(scores), axis=1)) - correct)

    def grad(self, p: list[np.ndarray]) -> list[np.ndarray]:
        z1 = self.X @ p[0] + p[1]
        hidden = self.relu(z1)
        scores = hidden @ p[2] + p[3]
        dscores = np.exp(scores - scores.max(axis=1, keepdims=True))
        dscores /= dscores.sum(axis=1, keepdims=True)
        dscores[np.arange(len(self.y)), self.y] -= 1
        dscores /= len(self.y)
        dz1 = (dscores @ p[2].T) * np.where(z1 > 0, 1.0, self.leak)
        return [self.X.T @ dz1, dz1.sum(axis=0), hidden.T @ dscores, dscores.sum(axis=0)]

    def far_from_kinks(self) -> tuple[int, int]:
        """An element (i, j) of W1 that moves no z of unit j within 8 Richardson
        steps of its kink: no method's stencil, nor its probe, reaches one."""
        z1 = self.X @ self.params[0] + self.params[1]
        distance = np.min(np.abs(z1[:, None, :] / self.X[:, :, None]), axis=0)
        i, j = np.argwhere(distance > 8 * RICHARDSON.step(U64))[0]
        return int(i), int(j)


def two_layer_net(seed: int, leak: float = 0.0, *, N: int = 8, D: int = 6, H: int = 10,
                  C: int = 4, near: int = 3) -> TwoLayerNet:
    """Weights 0.1 normal, biases 0.01 normal. near: that many hidden units are moved
    onto their kink for example 0, one exactly (z = 0) and the others to within
    1e-9..1e-5, so that every method's stencil reaches a kink."""
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((N, D)), rng.integers(0, C, N)
    W1, b1 = 0.1 * rng.standard_normal((D, H)), 0.01 * rng.standard_normal(H)
    W2, b2 = 0.1 * rng.standard_normal((H, C)), 0.01 * rng.standard_normal(C)
    units = rng.choice(H, near, replace=False)
    z = np.concatenate([[0.0], rng.choice([-1, 1], max(near - 1, 0))
                        * 10.0 ** rng.uniform(-9, -5, max(near - 1, 0))])[:near]
    b1[units] = z - X[0] @ W1[:, units]
    return TwoLayerNet(X, y, [W1, b1, W2, b2], leak)


def off_by(grad: Callable[[Any], Any], at: tuple[int, ...],
           relative: float) -> Callable[[Any], Any]:
    """grad with dW1[at] off by the relative error given: a planted bug."""
    def wrong(p: Any) -> Any:
        g = grad(p)
        g[0] = g[0].copy()
        g[0][at] *= 1 + relative
        return g
    return wrong


@LEAKS
@pytest.mark.parametrize("method", ["auto", "richardson", "central"])
def test_correct_gradients_of_relu_nets_raise_no_false_alarm(method, leak):
    subgradients = 0
    for seed in SEEDS:
        net = two_layer_net(seed, leak)
        report = gradcheck(net.f, net.grad, net.params, method=method)
        assert report.ok and report.skipped == 0, f"seed {seed}:\n{report}"
        subgradients += sum(b.subgradients for b in report.blocks)
    # The unit exactly on its kink (z = 0) is checked as a subgradient on every seed.
    assert subgradients >= len(SEEDS), subgradients


@LEAKS
def test_the_issues_cs231n_net_passes_with_default_settings(leak):
    # N = 32, D = 20, H = 50, C = 10 and no planted kinks: the smallest |z1|, 5e-4
    # and 2e-4, lies within the probe's Richardson step, as in the issue.
    for seed in (0, 1):
        net = two_layer_net(seed, leak, N=32, D=20, H=50, C=10, near=0)
        report = gradcheck(net.f, net.grad, net.params)
        assert report.ok and report.method == "complex_step", str(report)


@LEAKS
def test_a_one_in_ten_million_error_away_from_kinks_is_caught_on_every_seed(leak):
    for seed in SEEDS:
        net = two_layer_net(seed, leak)
        at = net.far_from_kinks()
        report = gradcheck(net.f, off_by(net.grad, at, 1e-7), net.params)
        assert [e.where() for e in report.mismatches] == [
            f"grad params[0][i0={at[0]}, i1={at[1]}]"], f"seed {seed}:\n{report}"


@pytest.mark.parametrize("method", ["richardson", "central"])
def test_finite_differences_catch_a_gross_error_away_from_kinks(method):
    for seed in SEEDS[:5]:
        net = two_layer_net(seed)
        at = net.far_from_kinks()
        report = gradcheck(net.f, off_by(net.grad, at, 1e-3), net.params, method=method)
        assert [e.index for e in report.mismatches] == [at], f"seed {seed}:\n{report}"


def test_gradcheck_passes_a_correct_gradient_and_catches_one_in_a_billion():
    A = np.random.default_rng(0).normal(size=(3, 3))

    def f(p):
        return np.sum(np.tanh(A @ p[0]) ** 2) + np.sum(p[1] ** 3)

    def grad(p):
        t = np.tanh(A @ p[0])
        return [A.T @ (2 * t * (1 - t**2)), 3 * p[1] ** 2]

    params = [np.random.default_rng(1).normal(size=(3, 2)), np.linspace(-1, 2, 4)]
    report = gradcheck(f, grad, params)
    assert report.ok and report.checked == 10 and report.method == "complex_step", str(report)

    def off(p):
        g = grad(p)
        g[1] = g[1].copy()
        g[1][3] *= 1 + 1e-9
        return g

    report = gradcheck(f, off, params)
    assert not report.ok
    assert [e.where() for e in report.mismatches] == ["grad params[1][i0=3]"]


def max_of_sum() -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """f = max(sum x, 0) + sum sin x: a kink where the sum crosses 0."""
    def f(p: list[Any]) -> Any:
        return np.maximum(np.sum(p[0]), 0) + np.sum(np.sin(p[0]))

    def grad(p: list[np.ndarray]) -> list[np.ndarray]:
        return [float(np.sum(p[0]) > 0) + np.cos(p[0])]
    return f, grad


def abs_by_branch(n: int) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """f = sum w |x| + x^2 / 2 over n elements, |x| written as a branch (complex-safe,
    unlike np.abs)."""
    w = np.linspace(0.5, 2.0, n)

    def f(p: list[Any]) -> Any:
        return np.sum(w * np.where(p[0] > 0, p[0], -p[0]) + p[0] ** 2 / 2)

    def grad(p: list[np.ndarray]) -> list[np.ndarray]:
        return [w * np.where(p[0] > 0, 1.0, -1.0) + p[0]]
    return f, grad


KINKY = {
    "max(sum x, 0), sum exactly 0": (*max_of_sum(), np.array([0.5, -0.25, -0.25, 0.0])),
    "max(sum x, 0), sum 3e-7": (*max_of_sum(), np.array([0.5, -0.25, -0.25, 3e-7])),
    "|x|, at and near 0": (*abs_by_branch(6), np.array([0.0, 1e-8, -3e-6, 2e-4, 0.7, -1.2])),
}


@pytest.mark.parametrize("method", ["auto", "complex_step", "richardson", "central"])
@pytest.mark.parametrize("case", list(KINKY))
def test_kinks_of_max_and_abs_raise_no_false_alarm(case, method):
    f, grad, x = KINKY[case]
    report = gradcheck(f, grad, [x], method=method)
    assert report.ok and report.skipped == 0, str(report)
    if method in ("richardson", "central") and "3e-7" not in case:
        # A kink exactly at the point: checked as a subgradient (one 3e-7 away is
        # stepped under, and the element read where f is smooth).
        assert sum(b.subgradients for b in report.blocks) >= 1, str(report)


def test_a_wrong_gradient_of_a_kinked_function_fails_where_it_is_smooth():
    x = np.array([0.0, 0.7, -1.2])
    f, grad = abs_by_branch(x.size)

    def wrong(p: list[np.ndarray]) -> list[np.ndarray]:
        return [grad(p)[0] * np.array([1.0, 1.0, 1.001])]

    for method in ("auto", "richardson", "central"):
        report = gradcheck(f, wrong, [x], method=method)
        assert [e.index for e in report.mismatches] == [(2,)], str(report)


def test_the_probe_calls_a_relu_net_on_its_kinks_complex_safe():
    # Zero biases and a zero input column: every hidden unit sits exactly on its kink
    # for that example, which the probe steps away from (complex-safety is f's code's).
    net = two_layer_net(0, N=8, D=6, H=10, C=4, near=0)
    net.X[0] = 0.0
    net.params[1][:] = 0.0
    report = gradcheck(net.f, net.grad, net.params)
    assert report.method == "complex_step", report.method_reason
    assert "complex-safe" in report.method_reason and "every params array" in report.method_reason
    assert report.ok, str(report)


def test_the_probe_still_blames_conj_next_to_a_kink():
    def f(p: list[Any]) -> Any:  # conj flips Im: complex step reads the wrong sign
        return np.sum(np.maximum(p[0], 0) * np.conj(p[0]) * p[0])

    def grad(p: list[np.ndarray]) -> list[np.ndarray]:
        return [3 * np.maximum(p[0], 0) * p[0]]

    x = np.array([1.0, -2.0, 0.5, 1e-6])
    report = gradcheck(f, grad, [x])
    assert report.method == "richardson", report.method_reason
    assert "complex step unusable" in report.method_reason
    assert "mishandles Im" in report.method_reason
    assert report.ok, str(report)


NOT_COMPLEX_SAFE = {
    # abs drops Im: complex step would read 0.
    "abs": (lambda p: np.sum(np.abs(p[0]) ** 3), lambda p: [3 * p[0] * np.abs(p[0])]),
    "norm": (lambda p: np.linalg.norm(p[0]) ** 2, lambda p: [2 * p[0]]),
    "conj": (lambda p: np.sum(p[0] * np.conj(p[0]) * p[0]), lambda p: [3 * p[0] ** 2]),
    "real part": (lambda p: np.sum(np.real(p[0]) ** 3), lambda p: [3 * p[0] ** 2]),
    "float cast": (lambda p: float(np.sum(p[0] ** 3)), lambda p: [3 * p[0] ** 2]),
}


@pytest.mark.parametrize("name", list(NOT_COMPLEX_SAFE))
def test_gradcheck_falls_back_when_f_is_not_complex_safe(name):
    f, grad = NOT_COMPLEX_SAFE[name]
    params = [np.array([1.0, -2.0, 0.5])]
    report = gradcheck(f, grad, params)
    assert report.method == "richardson", report.method_reason
    assert "complex step unusable" in report.method_reason
    assert report.ok, str(report)

    def wrong(p):
        return [1.001 * g for g in grad(p)]

    assert not gradcheck(f, wrong, params).ok


P = [np.array([[1.0, -2.0], [0.5, 3.0]])]


@pytest.mark.parametrize("method", ["complex_step", "central", "richardson"])
@pytest.mark.parametrize("step", [1e-3, 1e-5])
def test_gradcheck_with_a_chosen_step_passes_correct_and_catches_wrong_gradients(method, step):
    def f(p):
        return np.sum(np.sin(p[0]) * p[0] ** 3)

    def grad(p):
        return [np.cos(p[0]) * p[0] ** 3 + 3 * np.sin(p[0]) * p[0] ** 2]

    report = gradcheck(f, grad, P, method=method, step=step)
    assert report.ok, str(report)
    wrong = gradcheck(f, lambda p: [grad(p)[0] * 1.001], P, method=method, step=step)
    assert not wrong.ok, str(wrong)


NAMES = ("W1", "b1", "W2", "b2")


def named(net: TwoLayerNet) -> tuple[Callable[[Any], Any], Callable[[Any], Any], dict[str, Any]]:
    """The net with a dict of named parameters, as f, grad and params."""
    def f(p: dict[str, Any]) -> Any:
        assert set(p) == set(NAMES), "f must receive the dict's keys"
        return net.f([p[k] for k in NAMES])

    def grad(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(NAMES, net.grad([p[k] for k in NAMES]), strict=True))

    return f, grad, dict(zip(NAMES, net.params, strict=True))


def test_named_parameters_are_reported_by_their_keys():
    net = two_layer_net(1)
    f, grad, params = named(net)
    assert gradcheck(f, grad, params).ok
    at = net.far_from_kinks()

    def wrong(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        g = grad(p)
        g["W1"] = g["W1"].copy()
        g["W1"][at] *= 1 + 1e-7
        return g

    report = gradcheck(f, wrong, params)
    assert [b.name for b in report.blocks] == list(NAMES)
    assert [e.where() for e in report.mismatches] == [f"grad W1[i0={at[0]}, i1={at[1]}]"]
    assert f"grad W1[i0={at[0]}, i1={at[1]}]: analytic=" in str(report)


@pytest.mark.parametrize("as_dict", [False, True], ids=["list", "dict"])
def test_a_function_returning_value_and_gradients_is_checked_with_grad_none(as_dict):
    net = two_layer_net(2)
    f, grad, params = named(net) if as_dict else (net.f, net.grad, net.params)

    def loss(p: Any) -> tuple[Any, Any]:  # the shape of CS231n's TwoLayerNet.loss
        return f(p), grad(p)

    assert gradcheck(loss, None, params).ok
    at = net.far_from_kinks()
    key: Any = "W1" if as_dict else 0

    def wrong_loss(p: Any) -> tuple[Any, Any]:
        g = grad(p)
        g[key] = g[key] * np.where(np.arange(g[key].size).reshape(g[key].shape)
                                   == np.ravel_multi_index(at, g[key].shape), 1.001, 1.0)
        return f(p), g

    report = gradcheck(wrong_loss, None, params, method="richardson")
    assert [e.index for e in report.mismatches] == [at], str(report)


def test_list_params_are_named_by_position_as_before():
    report = gradcheck(lambda p: np.sum(p[0] ** 2) + p[1][0], lambda p: [3 * p[0], 1 + 0 * p[1]],
                       [np.ones(2), np.zeros(1)])
    assert [e.where() for e in report.mismatches] == ["grad params[0][i0=0]",
                                                      "grad params[0][i0=1]"]


W = {"W": np.array([[1.0, -2.0], [0.5, 3.0]])}


def f_dict(p: dict[str, Any]) -> Any:
    return np.sum(p["W"] ** 2)


def grad_dict(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {"W": 2 * p["W"]}


BAD = [
    ("a key that is not a string",
     lambda: gradcheck(f_dict, grad_dict, {1: W["W"]}),  # type: ignore[dict-item]
     TypeError, "params' keys must be non-empty strings (they name the arrays in the report), "
     "got 1"),
    ("an empty key", lambda: gradcheck(f_dict, grad_dict, {"": W["W"]}),
     ValueError, "params' keys must be non-empty strings"),
    ("a value that is not an array", lambda: gradcheck(f_dict, grad_dict, {"W": "ab"}),
     TypeError, "params['W'] must be a numeric array, got str"),
    ("grad returns a list", lambda: gradcheck(f_dict, lambda p: [2 * p["W"]], W),
     TypeError, "grad must return a dict with the keys of params (W), got list"),
    ("grad misses a key", lambda: gradcheck(f_dict, lambda p: {"V": 2 * p["W"]}, W),
     ValueError, "grad returned no gradient for params['W']"),
    ("grad has an extra key", lambda: gradcheck(
        f_dict, lambda p: {"W": 2 * p["W"], "V": p["W"]}, W),
     ValueError, "grad returned a gradient for 'V', which is not a key of params"),
    ("grad the wrong shape", lambda: gradcheck(f_dict, lambda p: {"W": p["W"].ravel()}, W),
     ValueError, "grad returned an array of shape (4,) for params['W'], expected (2, 2)"),
    ("grad None, f returns a number", lambda: gradcheck(f_dict, None, W),
     TypeError, "grad is None, so f must return a pair (value, grads), got float64"),
    ("grad None, f returns three things", lambda: gradcheck(
        lambda p: (f_dict(p), grad_dict(p), 0), None, W),
     TypeError, "grad is None, so f must return a pair (value, grads), got tuple of length 3"),
    ("grad neither callable nor None",
     lambda: gradcheck(f_dict, {"W": 1.0}, W),  # type: ignore[arg-type]
     TypeError, "grad must be a callable taking a list of arrays, got dict (or None, if f "
     "returns (value, grads))"),
]


@pytest.mark.parametrize(("call", "exc", "message"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_named_params_raise_an_error_naming_the_argument(call, exc, message):
    with pytest.raises(exc) as info:
        call()
    assert message in str(info.value)


def coursera_params() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=(3, 1))}


def coursera_cost(p: dict[str, np.ndarray]) -> Any:
    return np.sum(np.tanh(p["W1"] @ np.ones((2, 1)) + p["b1"]) ** 2)


def coursera_grads(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Coursera's naming: the gradient of W1 is grads["dW1"]."""
    a = np.tanh(p["W1"] @ np.ones((2, 1)) + p["b1"])
    dz = 2 * a * (1 - a ** 2)
    return {"dW1": dz @ np.ones((1, 2)), "db1": dz}


def test_grads_keyed_d_plus_the_params_key_are_accepted_and_reported_by_params_keys():
    report = gradcheck(coursera_cost, coursera_grads, coursera_params())
    assert report.ok, str(report)
    assert [b.name for b in report.blocks] == ["W1", "b1"]


@pytest.mark.parametrize(("grads", "message"), [
    (lambda g: {"dW1": g["dW1"], "b1": g["db1"]},
     "grad returned no gradient for params['W1']: grad's keys are 'dW1', 'b1' (grad returned "
     "'dW1' for params['W1']?"),
    (lambda g: {"W1": g["dW1"]},
     "grad returned no gradient for params['b1']: grad's keys are 'W1'$"),
    (lambda g: {**g, "dW2": g["dW1"]},
     "grad returned no gradient for params['W1']: grad's keys are 'dW1', 'db1', 'dW2' (grad "
     "returned 'dW1' for params['W1']?"),
])
def test_mismatched_grad_keys_name_the_params_key_grads_keys_and_a_d_prefix(grads, message):
    with pytest.raises(ValueError) as info:
        gradcheck(coursera_cost, lambda p: grads(coursera_grads(p)), coursera_params())
    if message.endswith("$"):
        assert str(info.value) == message[:-1]
    else:
        assert message in str(info.value)


def test_d_prefixed_keys_are_not_read_when_params_has_such_a_key_too():
    params = {"W": np.ones(2), "dW": np.ones(2)}
    with pytest.raises(ValueError, match=r"grad returned no gradient for params\['W'\]"):
        gradcheck(lambda p: np.sum(p["W"] * p["dW"]),
                  lambda p: {"dW": p["dW"], "ddW": p["W"]}, params)

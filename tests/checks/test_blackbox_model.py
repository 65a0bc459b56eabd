"""The black-box error model (checks/engine: noise, blackbox, elements) on the cases
issue 17 names: f's noise measured from f, never mistaken for a kink; unverified
elements failing the report unless accepted; a nondeterministic grad reported as
such; every params array probed for complex-safety, a complex-step failure confirmed
in real arithmetic, and the probe's complex warnings kept from the user; kinks
checked as subgradients; the detection floor in the report.

The zoo of other people's code and its campaign are test_blackbox_zoo.py and
tools/blackbox_campaign.py; gradcheck's methods and steps are test_gradcheck.py.
"""

import warnings
from typing import Any

import numpy as np
import pytest

from checks import assert_gradients, gradcheck
from checks.engine.blackbox import BlackBox, measure_noise
from checks.engine.noise import measure


def number(value: Any, at: str, real: bool) -> complex:
    """f's value as one number, as a front door gives it to the box."""
    return complex(value)


def noise_of(f: Any, x: np.ndarray) -> float:
    """The noise level gradcheck measures for f at x."""
    return measure_noise(BlackBox(lambda a: f(a[0]), number, [x.astype(float)], ("x",))).s


def test_the_noise_of_f_is_measured_from_f_whatever_its_source():
    x = np.random.default_rng(0).normal(size=20)
    random = np.random.default_rng(1)
    assert 3e-11 < noise_of(lambda p: np.sum(p**2) + 1e-10 * random.standard_normal(), x) < 3e-10
    f64 = noise_of(lambda p: np.sum(np.tanh(p)), x)
    f32 = noise_of(lambda p: float(np.sum(np.tanh(p.astype(np.float32)))), x)
    assert f64 < 1e-14 and 1e-9 < f32 < 1e-5, (f64, f32)
    # A linear f whose terms of size 1 cancel to 1e-4 rounds like its terms, not like 1e-4.
    d = np.array([0.3, -0.7, 0.4 + 1e-4])
    assert noise_of(lambda p: np.sum(p * d), np.ones(3)) > 1e-18


def test_a_kink_at_the_point_is_not_measured_as_noise():
    def f(p: np.ndarray) -> float:
        return float(np.maximum(np.sum(p), 0.0) + np.sum(np.sin(p)))
    assert noise_of(f, np.array([0.5, -0.25, -0.25, 0.0])) < 1e-14


def test_a_table_that_never_settles_keeps_an_upper_bound():
    # Differences of one sign at every step: curvature, never noise, at any h.
    noise = measure(lambda h: np.exp(np.arange(-4.0, 5.0)))
    assert not noise.accepted and noise.s > 0


def test_the_issues_silent_passes_now_fail_at_every_element():
    d = np.array([0.3, -0.7, 0.4 + 1e-4])
    linear = gradcheck(lambda p: np.sum(p["x"] * d), lambda p: {"x": 2 * d}, {"x": np.ones(3)})
    assert not linear.ok and len(linear.mismatches) == 3 and linear.skipped == 0, str(linear)
    x, random = np.random.default_rng(0).normal(size=20), np.random.default_rng(1)
    noisy = gradcheck(lambda p: np.sum(p[0] ** 2) + 1e-10 * random.standard_normal(),
                      lambda p: [3 * p[0]], [x])
    assert not noisy.ok and len(noisy.mismatches) == 20, str(noisy)
    assert "kink" not in str(noisy)


def test_an_f_too_noisy_to_verify_fails_unless_accepted():
    x, random = np.random.default_rng(0).normal(size=4), np.random.default_rng(1)

    def f(p: list[Any]) -> Any:
        return np.sum(p[0] ** 2) + 1e-1 * random.standard_normal()

    report = gradcheck(f, lambda p: [2 * p[0]], [x])
    assert not report.ok and report.skipped == 4 and not report.mismatches, str(report)
    assert "f too noisy here" in str(report) and "accept_unverified=True" in str(report)
    accepted = gradcheck(f, lambda p: [2 * p[0]], [x], accept_unverified=True)
    assert accepted.ok and accepted.skipped == 4, str(accepted)
    with pytest.raises(AssertionError, match="Unverified elements: 4"):
        assert_gradients(f, lambda p: [2 * p[0]], [x])
    with pytest.raises(TypeError, match="accept_unverified must be True or False"):
        gradcheck(f, lambda p: [2 * p[0]], [x], accept_unverified="yes")  # type: ignore[arg-type]


def test_a_grad_that_differs_between_calls_is_reported_as_nondeterministic():
    x, random = np.array([0.5, -1.0, 2.0]), np.random.default_rng(0)

    def grad(p: list[np.ndarray]) -> list[np.ndarray]:
        g = np.cos(p[0])
        g[1] += random.standard_normal()  # a race, say: one element changes call to call
        return [g]

    report = gradcheck(lambda p: np.sum(np.sin(p[0])), grad, [x])
    assert not report.ok and [e.index for e in report.blocks[0].skipped] == [(1,)], str(report)
    assert "nondeterministic" in report.blocks[0].skipped[0].reason


def batchnorm_loss(p: dict[str, Any]) -> Any:
    """A scalar through np.var (|x|^2 for complex input: not complex-safe) on b only."""
    return np.sum(p["W"] ** 2) + np.var(p["b"]) * 3.0


def batchnorm_grad(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    b = p["b"]
    return {"W": 2 * p["W"], "b": 3.0 * 2 * (b - b.mean()) / b.size}


def test_every_params_array_is_probed_and_complex_warnings_stay_hidden():
    rng = np.random.default_rng(0)
    params = {"W": 10 * rng.normal(size=(30, 30)), "b": 1e-3 * rng.normal(size=3)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning the probe lets through fails here
        report = gradcheck(batchnorm_loss, batchnorm_grad, params)
    assert report.ok and report.method == "richardson", str(report)
    assert "along params['b']" in report.method_reason


def test_a_complex_step_failure_is_confirmed_in_real_arithmetic_before_blame():
    rng = np.random.default_rng(1)
    params = {"W": rng.normal(size=(2, 2)), "b": rng.normal(size=3)}
    report = gradcheck(batchnorm_loss, batchnorm_grad, params, method="complex_step")
    assert report.ok and report.method == "richardson", str(report)
    assert "real arithmetic" in report.method_reason


def test_a_kink_at_the_point_is_checked_as_a_subgradient_and_a_wrong_value_fails():
    x = np.array([0.0, 0.7])

    def f(p: list[Any]) -> Any:
        return np.sum(np.maximum(p[0], 0) * 3.0 + p[0] ** 2)

    def grad(side: float) -> Any:
        return lambda p: [np.where(p[0] > 0, 3.0, side) + 2 * p[0]]

    for method in ("richardson", "central"):
        for side in (0.0, 3.0, 1.5):  # either one-sided derivative, or between them
            report = gradcheck(f, grad(side), [x], method=method)
            assert report.ok and report.blocks[0].subgradients == 1, str(report)
        wrong = gradcheck(f, grad(4.0), [x], method=method)
        assert [e.index for e in wrong.mismatches] == [(0,)], str(wrong)


def test_the_report_says_how_strong_a_pass_was():
    x = np.random.default_rng(0).normal(size=5)
    report = gradcheck(lambda p: np.sum(np.exp(p[0])), lambda p: [np.exp(p[0])], [x])
    floor = report.blocks[0].floor
    assert floor is not None and floor < 1e-10, floor
    assert "Detection floor" in str(report)
    f32 = gradcheck(lambda p: float(np.sum(np.exp(p[0].astype(np.float32)))),
                    lambda p: [np.exp(p[0].astype(np.float32))], [x])
    assert f32.ok and f32.method == "richardson", str(f32)
    f32_floor = f32.blocks[0].floor
    assert f32_floor is not None and 1e-8 < f32_floor < 1e-3, f32_floor


def test_a_float32_layer_of_a_realistic_shape_passes_and_a_1e_3_slip_is_caught():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 32)).astype(np.float32)
    dout = rng.normal(size=(8, 16)).astype(np.float32)
    W = (rng.normal(size=(16, 32)) / 6).astype(np.float32)

    def f(p: dict[str, Any]) -> float:
        return float(np.sum(np.tanh(X @ p["W"].astype(np.float32).T) * dout))

    def grad(p: dict[str, Any]) -> dict[str, np.ndarray]:
        t = np.tanh(X @ p["W"].astype(np.float32).T)
        return {"W": (dout * (1 - t * t)).T @ X}

    def wrong(p: dict[str, Any]) -> dict[str, np.ndarray]:
        g = grad(p)["W"].copy()
        g[3, 5] *= 1 + 1e-3
        return {"W": g}

    assert gradcheck(f, grad, {"W": W}).ok
    report = gradcheck(f, wrong, {"W": W})
    assert [e.index for e in report.mismatches] == [(3, 5)], str(report)


def test_an_all_zero_gradient_is_verified():
    report = gradcheck(lambda p: float(np.sum(np.maximum(p[0], 0))),
                       lambda p: [np.zeros(3)], [np.array([-1.0, -2.0, -0.5])])
    assert report.ok and report.skipped == 0, str(report)


def test_a_float32_gradient_is_allowed_float32_round_off_of_the_whole_gradients_scale():
    # The issue's logistic regression, its gradient computed in float32: b = mean(A - Y)
    # cancels to 6e-5 from terms of 0.5, so its round-off is u32 x 0.5, not u32 x 6e-5.
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(3, 4)), np.array([[1.0, 0, 1, 0]])

    def f(p: dict[str, Any]) -> Any:
        A = 1 / (1 + np.exp(-(p["w"].T @ X + p["b"])))
        return -np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A))

    def grad(p: dict[str, Any]) -> dict[str, np.ndarray]:
        w, b = p["w"].astype(np.float32), p["b"].astype(np.float32)
        A = 1 / (1 + np.exp(-(w.T @ X.astype(np.float32) + b)))
        dz = A - Y.astype(np.float32)
        return {"w": X.astype(np.float32) @ dz.T / 4, "b": np.sum(dz, keepdims=True) / 4}

    params = {"w": 1e-3 * rng.normal(size=(3, 1)), "b": np.zeros((1, 1))}
    report = gradcheck(f, grad, params)
    assert report.ok, str(report)

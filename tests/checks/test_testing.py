"""checks.testing: pytest helpers that pass on right gradients and fail with the report."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from backprop import Network
from backprop.slips import BY_NAME, plant
from checks import assert_gradients, assert_network, check_network


def _problem():
    net = Network.random([3, 4, 2], activations=["tanh", "sigmoid"], cost="cross_entropy",
                         seed=0)
    X = np.random.default_rng(0).normal(size=(3, 5))
    Y = np.random.default_rng(1).uniform(size=(2, 5))
    return net, X, Y


dW_missing_one_over_m = plant(BY_NAME["BP4 missing 1/m"])  # dW = delta a^T in every layer


def test_assert_network_passes_on_both_implementations_and_returns_the_report():
    net, X, Y = _problem()
    for impl in ("vectorized", "loop"):
        report = assert_network(net, X, Y, impl=impl)
        assert report.ok and report.checked > 0


def test_assert_network_forwards_check_network_options():
    net, X, Y = _problem()
    report = assert_network(net, X, Y, method="richardson", directions=2, seed=1)
    assert report.method == "richardson"


def test_assert_network_raises_with_the_report_naming_bp4_on_a_planted_bug():
    net, X, Y = _problem()
    with pytest.raises(AssertionError) as exc:
        assert_network(net, X, Y, impl=dW_missing_one_over_m)
    message = str(exc.value)
    assert message == str(check_network(net, X, Y, impl=dW_missing_one_over_m))
    assert "BP4 dW[1][j=0, i=0]" in message and "Mismatched elements: 20 / " in message


def test_assert_gradients_passes_on_a_right_gradient():
    def f(p):
        return np.sum(np.sin(p[0]) * p[1] ** 2)

    def grad(p):
        return [np.cos(p[0]) * p[1] ** 2, 2 * np.sum(np.sin(p[0]), axis=0) * p[1]]

    rng = np.random.default_rng(0)
    assert assert_gradients(f, grad, [rng.normal(size=(2, 3)), rng.normal(size=3)]).ok


def test_assert_gradients_raises_on_a_derivative_off_by_one_in_a_thousand():
    with pytest.raises(AssertionError, match=r"grad params\[0\]\[i0=1\]: analytic=4\.004"):
        assert_gradients(lambda p: np.sum(p[0] ** 2), lambda p: [2.002 * p[0]],
                         [np.array([1.0, 2.0])])


def test_pytest_traceback_hides_the_helpers_frames(tmp_path):
    (tmp_path / "test_user.py").write_text(textwrap.dedent("""
        import numpy as np
        from backprop import Gradients, Network, vectorized
        from checks import assert_gradients, assert_network

        def test_network():
            net = Network.random([2, 3, 1], activations="tanh", seed=0)
            X, Y = np.ones((2, 2)), np.zeros((1, 2))
            def backprop(net, X, Y):
                g = vectorized.backprop(net, X, Y)
                return Gradients(g.delta, [2 * w for w in g.dW], g.db)
            assert_network(net, X, Y, impl=backprop)

        def test_gradients():
            assert_gradients(lambda p: np.sum(p[0] ** 2), lambda p: [3 * p[0]],
                             [np.ones(2)])
    """))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--tb=long", "-q",
         "test_user.py"], cwd=tmp_path, capture_output=True, text=True, check=False,
        # Third-party plugins (hypothesis, benchmark, xdist, cov) only slow the start.
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "2 failed" in out
    assert "BP4 dW[0][j=" in out and "grad params[0][i0=0]" in out
    # The traceback ends at the user's call; the helpers' lines are hidden.
    assert "assert_network(net, X, Y, impl=backprop)" in out
    assert "testing.py" not in out and "__tracebackhide__" not in out
    assert "raise AssertionError(str(report))" not in out

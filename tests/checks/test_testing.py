"""checks.testing: pytest helpers that pass on right gradients and fail with the report."""

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from backprop import Network
from backprop.slips import BY_NAME, plant
from checks import assert_gradients, assert_network, check_network
from checks.report import Report, compare, headline


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
    assert message.endswith("\n\n" + str(check_network(net, X, Y, impl=dW_missing_one_over_m)))
    assert "BP4 dW[1][j=0, i=0]" in message and "Mismatched elements: 20 / " in message


def test_the_headline_without_a_diagnosis_is_the_first_mismatch_or_the_unverified_count():
    """headline's other verdicts, on reports built from the closeness rule directly."""
    def block(analytic, skip=(False, False)):
        return compare("grad", "params[0]", None, "central", np.array(analytic),
                       np.array([1.0, 2.0]), np.full(2, 1e-8), np.array(skip), ("i0",))

    assert headline(Report([block([1.0, np.nan])], "central", "")) == (
        "grad params[0][i0=1]: analytic=nan numeric=2 error=nan > tolerance 1.00e-08; "
        "1 of 2 elements mismatched, 1 of them NaN or inf")
    unverified = block([1.0, 2.0], skip=(False, True))
    assert headline(Report([unverified], "central", "", accept_unverified=False)) == (
        "elements left unverified: 1 (accept_unverified=True accepts them); none mismatched")
    assert headline(Report([unverified], "central", "")) == (
        "OK: 1 element verified, 1 unverified (accepted)")


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


@pytest.fixture(scope="module")
def user_pytest_run(tmp_path_factory):
    """A user's test file with a failing assert_network and assert_gradients, run by
    pytest in a subprocess with --junitxml: (the run, the JUnit report's root)."""
    folder = tmp_path_factory.mktemp("user")
    (folder / "test_user.py").write_text(textwrap.dedent("""
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
         "--junitxml=report.xml", "test_user.py"], cwd=folder, capture_output=True,
        text=True, check=False,
        # Third-party plugins (hypothesis, benchmark, xdist, cov) only slow the start.
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    return result, ET.parse(folder / "report.xml").getroot()


def test_pytest_traceback_hides_the_helpers_frames(user_pytest_run):
    result, _ = user_pytest_run
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "2 failed" in out
    assert "BP4 dW[0][j=" in out and "grad params[0][i0=0]" in out
    # The traceback ends at the user's call; the helpers' lines are hidden.
    assert "assert_network(net, X, Y, impl=backprop)" in out
    assert "testing.py" not in out and "__tracebackhide__" not in out
    assert "raise AssertionError(" not in out


def test_the_first_line_of_a_failure_is_the_diagnosis_for_pytest_junitxml(user_pytest_run):
    _, junit = user_pytest_run
    first_lines = {c.get("name"): next(c.iter("failure")).attrib["message"].splitlines()[0]
                   for c in junit.iter("testcase")}
    assert first_lines == {
        "test_network": "AssertionError: assert_network FAILED: BP4 at layer 1: dW[1] != "
                        "your delta[1] @ a[1].T / m (every element is m = 2 times too large: "
                        "a missing 1/m (sum for mean)?), and 1 more broken equation; "
                        "9 of 21 elements mismatched",
        "test_gradients": "AssertionError: assert_gradients FAILED: params[0]: every element "
                          "is 1.5 times the numerical one (the ratio is constant: a scale "
                          "factor); 2 of 2 elements mismatched"}

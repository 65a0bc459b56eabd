"""pytest helpers: assert that a gradient or a whole backprop is right.

    from checks import assert_network

    def test_my_backprop():
        net = Network.random([4, 8, 3], activations=["tanh", "sigmoid"], seed=0)
        X, Y = ...
        assert_network(net, X, Y, impl=my_backprop)

On failure they raise AssertionError whose first line is the diagnosis
(`assert_network FAILED: BP4 at layer 1: dW[1] != your delta[1] @ a[1].T / m (every
element is 2: ...) ...; 20 of 50 elements mismatched`: what `pytest --junitxml` and CI
reporters show as the failure's message), followed by
str(report): one row per equation and layer, then every mismatched element with its
equation, array, index, analytic and numerical values, error and tolerance. They set
`__tracebackhide__`, so pytest's traceback ends at your test, not in here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backprop import Network
from checks.gradcheck import Params, gradcheck
from checks.network import Impl, check_network
from checks.report import Report, headline
from checks.vjp import check_vjp

__all__ = ["assert_gradients", "assert_network", "assert_vjp"]


def assert_gradients(
    f: Callable[[Any], Any],
    grad: Callable[[Any], Any] | None,
    params: Params,
    **options: Any,
) -> Report:
    """Assert grad(params) == df/dparams element by element, by `checks.gradcheck`.

    options: gradcheck's keywords (method, rtol, atol, step). Returns the report when
    every element is within its tolerance.

    Raises:
        AssertionError: some element mismatched; the message is the diagnosis in
            one line, then str(report).
        TypeError, ValueError: bad arguments (as gradcheck).
    """
    __tracebackhide__ = True
    report = gradcheck(f, grad, params, **options)
    if not report.ok:
        raise AssertionError(_failure_message("assert_gradients", report))
    return report


def assert_vjp(
    f: Callable[[Any], Any],
    vjp: Callable[[Any, Any], Any],
    params: Params,
    **options: Any,
) -> Report:
    """Assert vjp(params, v) == v^T J element by element, by `checks.vjp.check_vjp`.

    options: check_vjp's keywords (cotangent, seed, method, rtol, atol, step,
    accept_unverified). Returns the report when every element is verified.

    Raises:
        AssertionError: some element mismatched or was left unverified; the message
            is the diagnosis in one line, then str(report).
        TypeError, ValueError: bad arguments (as check_vjp).
    """
    __tracebackhide__ = True
    report = check_vjp(f, vjp, params, **options)
    if not report.ok:
        raise AssertionError(_failure_message("assert_vjp", report))
    return report


def assert_network(
    net: Network, X: Any, Y: Any, impl: str | Impl = "vectorized", **options: Any
) -> Report:
    """Assert that impl's delta, dW and db (BP1-BP4) match numerical derivatives.

    impl: "vectorized", "loop", or your own callable (net, X, Y) -> Gradients. Y:
    targets, or integer class labels for categorical cross-entropy (as check_network).
    options: check_network's keywords (method, directions, seed, delta, ...). Returns
    the report when every element is within its tolerance.

    Raises:
        AssertionError: some element mismatched; the message is the diagnosis in
            one line, then str(report), each mismatch named by equation, layer and
            element.
        TypeError, ValueError: bad arguments or a malformed result of impl.
    """
    __tracebackhide__ = True
    report = check_network(net, X, Y, impl, **options)
    if not report.ok:
        raise AssertionError(_failure_message("assert_network", report))
    return report


def _failure_message(helper: str, report: Report) -> str:
    """The AssertionError of a failed helper: "<helper> FAILED: <the diagnosis in one
    line>" first (the line a JUnit report shows), then the full report."""
    return f"{helper} FAILED: {headline(report)}\n\n{report}"

"""The engine on its own, as a front door uses it: the stencils' kink tests (the
jump of f' read from second differences, the estimate at a quarter of the step),
and the black-box engine checking a vector-valued f's vector-Jacobian product
through <v, f>, the way a second front door (check_vjp) would.

A new test goes here if it is about checks/engine/ itself; a verdict of gradcheck
goes in test_gradcheck.py, one of check_network in test_checker.py.
"""

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from checks.engine.blackbox import BlackBox, survey
from checks.engine.elements import Elements
from checks.engine.stencils import CENTRAL, RICHARDSON, U64, read, steady
from checks.report import Block


@pytest.mark.parametrize("method", [RICHARDSON, CENTRAL], ids=["richardson", "central"])
def test_the_jump_test_reads_the_jump_of_f_prime_at_a_kink(method):
    h = method.step(U64)

    def at(x: float, g: Callable[[float], float]) -> Any:
        values = np.array([g(x + c * h) for c in method.offsets])
        return read(method, values, g(x), h)

    kink = at(0.0, lambda t: 3 * max(t, 0.0) + t)
    assert kink.jump == pytest.approx(3.0, rel=1e-6) and kink.kinked
    smooth = at(0.3, np.sin)
    assert abs(smooth.jump) <= smooth.jump_noise and not smooth.kinked


@pytest.mark.parametrize("method", [RICHARDSON, CENTRAL], ids=["richardson", "central"])
def test_the_two_steps_test_sees_a_kink_that_step_halving_misses(method):
    h = method.step(U64)

    def stencil(g: Callable[[float], float], step: float) -> Any:
        return read(method, np.array([g(c * step) for c in method.offsets]), g(0.0), step)

    for t in (0.3 * h, 0.7 * h, 1.5 * h):  # a kink at t, inside the stencil at h
        def g(x: float, t: float = t) -> float:
            return 2 * max(x - t, 0.0) + np.sin(x)
        coarse, fine = stencil(g, h), stencil(g, h / 4)
        assert coarse.kinked or fine.kinked or not steady(coarse, fine, method.order), t
    coarse, fine = stencil(np.exp, h), stencil(np.exp, h / 4)
    assert not coarse.kinked and not fine.kinked and steady(coarse, fine, method.order)


def f(x: Any) -> Any:
    """R^3 -> R^3: (sin(x0) x1, x0^2 + exp(x1), x0 x1 x2)."""
    return np.stack([np.sin(x[0]) * x[1], x[0] ** 2 + np.exp(x[1]), x[0] * x[1] * x[2]])


def jacobian(x: np.ndarray) -> np.ndarray:
    """df_i/dx_j of `f`."""
    return np.array([[np.cos(x[0]) * x[1], np.sin(x[0]), 0.0],
                     [2 * x[0], np.exp(x[1]), 0.0],
                     [x[1] * x[2], x[0] * x[2], x[0] * x[1]]])


def number(value: Any, at: str, real: bool) -> complex:
    """<v, f> as one number; a complex value at a real point would be f's bug."""
    z = complex(value)
    assert not (real and z.imag), f"complex value at {at}"
    return z


def check_vjp(vjp: np.ndarray, x: np.ndarray, v: np.ndarray, method: str) -> Block:
    """vjp against the numerical gradient of <v, f(x)>: a second front door in
    a few lines of the engine."""
    box = BlackBox(lambda arrays: v @ f(arrays[0]), number, [x.copy()], ("x",))
    center = number(box.call([x.copy()]), "x", True).real
    found = survey(box, method, None, center)
    return Elements(box, found, center, 0.0, 0.0).check([vjp], [U64], ["x"], "vjp")[0]


@pytest.mark.parametrize("method", ["auto", "complex_step", "richardson", "central"])
def test_the_engine_checks_a_vector_jacobian_product_of_a_black_box(method):
    rng = np.random.default_rng(0)
    x, v = rng.standard_normal(3), rng.standard_normal(3)
    right = check_vjp(jacobian(x).T @ v, x, v, method)
    assert right.ok and right.checked == 3, right.mismatches
    transposed = check_vjp(jacobian(x) @ v, x, v, method)  # J v for J^T v: a planted slip
    assert not transposed.ok
    assert transposed.mismatches[0].where().startswith("vjp x[i0=")

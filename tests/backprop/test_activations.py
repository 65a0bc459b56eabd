"""Every registered activation and cost against its numerical derivative (registry-driven),
and their numerics at the edges: finite, quiet, in the dtype of z, stable forms."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from backprop import ACTIVATIONS, COSTS
from backprop.activations import Activation

ELEMENTWISE = [name for name, act in ACTIVATIONS.items() if act.elementwise]
FROM_A = [name for name, act in ACTIVATIONS.items() if act.backward_from_a is not None]
UFUNCS = [name for name, act in ACTIVATIONS.items() if act.sigma_into is not None]
GRID = np.concatenate([-np.logspace(-3, np.log10(700), 60), [0.0],
                       np.logspace(-3, np.log10(700), 60)]).reshape(1, -1)


def richardson(f, z, h=1e-3):
    """(8 [f(z+h) - f(z-h)] - [f(z+2h) - f(z-2h)]) / 12h: error O(h^4)."""
    return (8 * (f(z + h) - f(z - h)) - (f(z + 2 * h) - f(z - 2 * h))) / (12 * h)


def away_from_kinks(act: Activation, z: np.ndarray, h: float) -> np.ndarray:
    mask = np.ones(z.shape, dtype=bool)
    for kink in act.kinks:
        mask &= np.abs(z - kink) > 2 * h
    return mask


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activation_derivative_matches_richardson_on_a_wide_grid(name):
    act = ACTIVATIONS[name]
    numeric = richardson(act.sigma, GRID)
    mask = away_from_kinks(act, GRID, 1e-3)
    np.testing.assert_allclose(act.sigma_prime(GRID)[mask], numeric[mask], rtol=1e-9,
                               atol=1e-12, err_msg=f"{name}: sigma' disagrees with Richardson")


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activation_is_complex_safe(name):
    act = ACTIVATIONS[name]
    h = 1e-30
    numeric = np.imag(act.sigma(GRID + 1j * h)) / h
    np.testing.assert_allclose(act.sigma_prime(GRID), numeric, rtol=1e-14, atol=1e-300,
                               err_msg=f"{name}: Im sigma(z + ih)/h != sigma'(z)")


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activation_keeps_its_real_part_exact_under_a_complex_step(name):
    """Re sigma(z + ih) must be sigma(z): later layers and the cost use it."""
    act = ACTIVATIONS[name]
    np.testing.assert_allclose(np.real(act.sigma(GRID + 1e-20j)), act.sigma(GRID), rtol=4e-16,
                               atol=0, err_msg=f"{name}: Re sigma(z + ih) != sigma(z)")


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activation_is_finite_and_quiet_at_extreme_z(name):
    act = ACTIVATIONS[name]
    z = np.array([[-1e308, -1e4, -745.0, 745.0, 1e4, 1e308]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert np.all(np.isfinite(act.sigma_prime(z))), f"{name}: sigma' not finite"
        if name not in ("identity", "relu", "leaky_relu", "softplus"):
            assert np.all(np.isfinite(act.sigma(z))), f"{name}: sigma not finite"


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_curvature_bound_of_the_error_model_holds(name):
    """The checker's error model assumes |sigma''| <= curvature |sigma'|."""
    act = ACTIVATIONS[name]
    z = GRID[:, np.abs(GRID[0]) < 30]
    mask = away_from_kinks(act, z, 1e-3)
    second = richardson(act.sigma_prime, z)
    bound = act.curvature * np.abs(act.sigma_prime(z)) * (1 + 1e-6) + 1e-9
    assert np.all(np.abs(second[mask]) <= bound[mask]), f"{name}: |sigma''| exceeds bound"


def test_softmax_jacobian_matches_complex_step():
    softmax = ACTIVATIONS["softmax"]
    z = np.random.default_rng(0).normal(size=(4, 3)) * 5
    J = softmax.sigma_prime(z)
    h = 1e-30
    for j in range(4):
        zc = z.astype(complex)
        zc[j] += 1j * h
        np.testing.assert_allclose(J[:, j, :], np.imag(softmax.sigma(zc)) / h, rtol=1e-13,
                                   atol=1e-16, err_msg=f"softmax Jacobian column {j}")


def test_softmax_backward_is_jacobian_transpose_product():
    softmax = ACTIVATIONS["softmax"]
    rng = np.random.default_rng(1)
    z, g = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    expected = np.einsum("kjx,kx->jx", softmax.sigma_prime(z), g)
    np.testing.assert_allclose(softmax.backward(z, g), expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", list(COSTS))
def test_cost_gradient_matches_complex_step(name):
    cost = COSTS[name]
    rng = np.random.default_rng(2)
    a = rng.uniform(0.05, 0.95, size=(3, 4))
    if cost.requires == "softmax":
        a = a / a.sum(axis=0)
    y = rng.dirichlet(np.ones(3), size=4).T
    h = 1e-30
    for j in range(3):
        ac = a.astype(complex)
        ac[j] += 1j * h
        np.testing.assert_allclose(cost.dC_da(a, y)[j], np.imag(cost.value(ac, y)) / h,
                                   rtol=1e-13, err_msg=f"{name}: dC/da row {j}")


@pytest.mark.parametrize("name", [n for n, c in COSTS.items() if c.value_z is not None])
def test_stable_cost_from_z_equals_cost_from_a(name):
    cost = COSTS[name]
    assert cost.requires is not None and cost.value_z is not None
    act = ACTIVATIONS[cost.requires]
    rng = np.random.default_rng(3)
    z = rng.normal(size=(3, 5)) * 3
    y = rng.dirichlet(np.ones(3), size=5).T
    a = act.sigma(z)
    if name == "cross_entropy":
        # -[y ln a + (1 - y) ln(1 - a)] with 1 - sigma(z) = sigma(-z): no cancellation.
        expected = -np.sum(y * np.log(a) + (1 - y) * np.log(act.sigma(-z)), axis=0)
    else:
        expected = cost.value(a, y)
    np.testing.assert_allclose(cost.value_z(z, y), expected, rtol=1e-13)


@pytest.mark.parametrize("name", [n for n, c in COSTS.items() if c.value_z is not None])
def test_stable_cost_is_finite_when_the_output_saturates(name):
    cost = COSTS[name]
    assert cost.value_z is not None
    z = np.array([[800.0, -800.0], [-800.0, 800.0]])
    y = np.array([[0.0, 1.0], [1.0, 0.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = cost.value_z(z, y)
    assert np.all(np.isfinite(value)) and np.all(value > 1000), value


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", FROM_A)
def test_backward_from_a_is_g_times_sigma_prime_of_z(name, dtype):
    """vectorized's sigma' from the cached a stays within the checker's error model:
    a few u relative plus curvature x 4|a| u absolute."""
    act, z = ACTIVATIONS[name], GRID.astype(dtype)
    g = np.random.default_rng(0).standard_normal(z.shape).astype(dtype)
    with np.errstate(over="ignore"):
        a = act.sigma(z)
    u = np.finfo(dtype).eps
    assert act.backward_from_a is not None
    got = act.backward_from_a(a.copy(), g.copy())
    want = g.astype(np.float64) * act.sigma_prime(GRID)
    tol = (8 * u * (np.abs(want) + act.curvature * 4 * np.abs(a * g))
           + 16 * np.finfo(dtype).smallest_normal)
    np.testing.assert_array_less(np.abs(got - want), tol, err_msg=f"{name}: from-a != g sigma'(z)")


@pytest.mark.parametrize("name", UFUNCS)
def test_sigma_into_writes_sigma_of_z(name):
    out = np.empty_like(GRID)
    sigma_into = ACTIVATIONS[name].sigma_into
    assert sigma_into is not None
    sigma_into(GRID.copy(), out=out)
    np.testing.assert_array_equal(out, ACTIVATIONS[name].sigma(GRID))


def test_softplus_fast_complex_path_matches_the_general_one():
    """Below |Im z| = 2^-30, softplus_parts skips cos, sin and arctan2 (the
    identity to within rounding there): same numbers as the general formula."""
    from backprop.activations import softplus_parts

    rng = np.random.default_rng(0)
    x = rng.uniform(-40, 40, 10_000)
    y = rng.standard_normal(10_000) * 1e-20
    re, im = softplus_parts(x, y)
    pos = x >= 0
    s, e = np.where(pos, -y, y), np.exp(np.where(pos, -x, x))
    re_general = np.where(pos, x, 0.0) + np.log1p(e * np.cos(s))
    im_general = np.where(pos, y, 0.0) + np.arctan2(e * np.sin(s), 1 + e * np.cos(s))
    eps = np.finfo(np.float64).eps
    np.testing.assert_allclose(re, re_general, rtol=eps, atol=0)
    np.testing.assert_allclose(im, im_general, rtol=2 * eps, atol=0)
    # A large imaginary part takes the general path: arg(1 + w) with cos and sin.
    _, im_big = softplus_parts(np.array([0.5]), np.array([0.25]))
    assert abs(im_big[0] - np.log1p(np.exp(0.5 + 0.25j)).imag) < 4 * eps


def test_cross_entropy_from_z_takes_complex_input_apart_correctly():
    """The complex path (real and imaginary parts computed apart) against the
    complex formula sum softplus(z) - y z, for a 2-D batch."""
    rng = np.random.default_rng(1)
    # Im z ~ 1e-8: the real part ln|1 + w| = log1p(Re w) + O(Im(w)^2) is exact to rounding
    z = rng.uniform(-3, 3, (3, 4)) + 1j * rng.uniform(-1e-8, 1e-8, (3, 4))
    y = rng.uniform(0, 1, (3, 4))
    expected = np.sum(np.log1p(np.exp(z)) - y * z, axis=0)
    value_z = COSTS["cross_entropy"].value_z
    assert value_z is not None
    np.testing.assert_allclose(value_z(z, y), expected, rtol=1e-13)


@pytest.mark.parametrize("name", list(COSTS))
def test_sampled_targets_are_accepted_by_the_cost(name):
    """Cost.sample_targets gives Y that check_XY accepts, over the whole range of u."""
    from backprop import Network
    from backprop.inputs import check_XY

    cost = COSTS[name]
    u = np.random.default_rng(0).uniform(size=(3, 50))
    u[:, 0], u[:, 1] = 0.0, 1.0  # both ends of the range
    Y = cost.sample_targets(u)
    net = Network.random([2, 3], cost.requires or "tanh", name, seed=0)
    check_XY(net, np.zeros((2, 50)), Y)
    assert Y.shape == u.shape and np.all(np.isfinite(Y))


def test_sampled_targets_span_each_costs_domain():
    """real: 4u - 2 spans [-2, 2]; probabilities: u itself; distributions: columns of
    0.01 + 0.99 u, normalised (so no target is 0 and each column sums to 1)."""
    u = np.array([[0.0, 1.0, 0.5], [1.0, 1.0, 0.25]])
    np.testing.assert_array_equal(COSTS["quadratic"].sample_targets(u),
                                  [[-2.0, 2.0, 0.0], [2.0, 2.0, -1.0]])
    np.testing.assert_array_equal(COSTS["cross_entropy"].sample_targets(u), u)
    w = 0.01 + 0.99 * u
    np.testing.assert_allclose(COSTS["categorical_cross_entropy"].sample_targets(u),
                               w / w.sum(axis=0), rtol=1e-15)
    assert COSTS["categorical_cross_entropy"].sample_targets(u)[0, 0] == 0.01 / 1.01


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "tanh"])
@given(z=hnp.arrays(np.float64, (2, 3), elements=st.floats(allow_nan=False,
                                                              allow_infinity=False)))
def test_activations_are_quiet_and_finite_at_any_finite_z(name, z):
    act = ACTIVATIONS[name]
    # Underflow (e^-800 -> 0) is the intended, silent, behaviour; anything else is not.
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        assert np.all(np.isfinite(act.sigma_prime(z)))
        assert np.all(np.isfinite(act.sigma(z)))
        h = 1e-20
        assert np.all(np.isfinite(np.imag(act.sigma(z + 1j * h)) / h))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_keep_the_dtype_of_z(name, dtype):
    act = ACTIVATIONS[name]
    z = np.linspace(-3, 3, 12).reshape(3, 4).astype(dtype)
    assert act.sigma(z).dtype == dtype
    assert act.sigma_prime(z).dtype == dtype
    assert act.backward(z, np.ones_like(z)).dtype == dtype


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


@pytest.mark.parametrize("name", list(COSTS))
def test_per_example_cost_is_taken_from_z_where_stable_else_from_a(name):
    """value_z(z, y) when the cost has it (a^L unread), else
    value(a, y), with a^L given or computed by the sigma passed in its place."""
    from backprop.feedforward import per_example_cost

    cost = COSTS[name]
    sigma = ACTIVATIONS[cost.requires or "tanh"]
    rng = np.random.default_rng(3)
    z, y = rng.uniform(-3, 3, (3, 4)), cost.sample_targets(rng.uniform(size=(3, 4)))
    a = sigma.sigma(z)
    if cost.value_z is not None:
        expected = cost.value_z(z, y)
        unread = np.full_like(a, np.nan)
        np.testing.assert_array_equal(per_example_cost(cost, z, unread, y), expected)
    else:
        expected = cost.value(a, y)
    np.testing.assert_array_equal(per_example_cost(cost, z, a, y), expected)
    np.testing.assert_array_equal(per_example_cost(cost, z, sigma.sigma, y), expected)

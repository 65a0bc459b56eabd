"""checks.plot: the heatmap lights up a planted bug; the step-size curve shows both regimes."""

import sys

import numpy as np
import pytest

from backprop import Gradients, Network, vectorized
from checks import check_network, gradcheck
from checks.engine.stencils import METHODS
from checks.plot import heatmap, require_matplotlib, step_size_curve, step_size_errors

PNG = b"\x89PNG\r\n\x1a\n"


def _problem():
    net = Network.random([3, 4, 2], activations=["tanh", "sigmoid"], cost="cross_entropy",
                         seed=0)
    X = np.random.default_rng(0).normal(size=(3, 5))
    Y = np.random.default_rng(1).uniform(size=(2, 5))
    return net, X, Y


def last_row_of_dW0_never_computed(net, X, Y):
    """BP4 slip: the loop over neurons j of layer 1 stops one short. The test's own
    planted numbers, not a catalogue slip: the heatmap needs one wrong row among right
    ones, a pattern no entry of backprop.slips makes."""
    g = vectorized.backprop(net, X, Y)
    dW0 = g.dW[0].copy()
    dW0[-1, :] = 0.0
    return Gradients(g.delta, [dW0, g.dW[1]], g.db)


def test_report_keeps_every_elements_ratio_and_a_wrong_row_lights_up():
    net, X, Y = _problem()
    report = check_network(net, X, Y, impl=last_row_of_dW0_never_computed)
    dW0 = next(b for b in report.blocks if b.name == "dW[0]")
    assert dW0.ratios is not None and dW0.ratios.shape == (4, 3)
    assert np.all(dW0.ratios[-1] > 1) and np.all(dW0.ratios[:-1] < 1)
    assert all(b.ratios is not None and np.all(b.ratios < 1)
               for b in report.blocks if b.name != "dW[0]")


@pytest.fixture
def matplotlib():
    return pytest.importorskip("matplotlib")


def test_heatmap_of_a_planted_bug_writes_a_png(matplotlib, tmp_path):
    net, X, Y = _problem()
    report = check_network(net, X, Y, impl=last_row_of_dW0_never_computed)
    path = heatmap(report, tmp_path / "bug.png")
    assert path.read_bytes()[:8] == PNG


def test_heatmap_draws_gradcheck_reports_and_plain_arrays(matplotlib, tmp_path):
    report = gradcheck(lambda p: np.sum(p[0] ** 3) + np.sum(p[1]),
                       lambda p: [3 * p[0] ** 2, np.ones(3)], [np.ones((2, 2, 2)), np.ones(3)])
    assert heatmap(report, tmp_path / "g.png").read_bytes()[:8] == PNG
    data = {"dW[0]": np.array([[0.1, 3.0], [np.nan, 0.0]]), "db[0]": [np.inf, 1e-9]}
    assert heatmap(data, tmp_path / "d.png", title="ratios").read_bytes()[:8] == PNG


def test_step_size_errors_show_truncation_slopes_and_accurate_default_steps():
    steps = np.logspace(-22, 0, 45)
    data = step_size_errors(steps=steps)
    assert set(data.errors) == set(METHODS)
    assert data.default_steps["complex_step"] == METHODS["complex_step"].step(2.0**-53)
    # Truncation regime, h in [1e-3, 1e-1]: slope 2 (central, complex step), 4 (Richardson).
    big = (steps >= 1e-3) & (steps <= 1e-1)
    for name, slope in (("central", 2), ("complex_step", 2), ("richardson", 4)):
        fit = np.polyfit(np.log(steps[big]), np.log(data.errors[name][big]), 1)[0]
        assert abs(fit - slope) < 0.5, f"{name}: slope {fit:.2f}, expected {slope}"
    # Round-off regime: finite differences fall apart at tiny h, complex step does not.
    tiny = steps <= 1e-15
    assert np.all(data.errors["central"][tiny] > 1e-3)
    assert np.all(data.errors["complex_step"][tiny] < 1e-14)
    # At each method's default step the error is near its best.
    for name, bound in (("complex_step", 1e-14), ("central", 1e-9), ("richardson", 1e-10)):
        h = data.default_steps[name]
        at_h = step_size_errors(steps=[h]).errors[name][0]
        assert at_h < bound, f"{name} at its default step {h:.2e}: error {at_h:.2e}"


def test_step_size_curve_writes_a_png(matplotlib, tmp_path):
    data = step_size_errors(steps=np.logspace(-22, 0, 23))
    assert step_size_curve(tmp_path / "s.png", data).read_bytes()[:8] == PNG


def test_missing_matplotlib_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[plot\]'"):
        require_matplotlib()

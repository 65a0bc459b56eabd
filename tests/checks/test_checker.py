"""The checker is itself tested by planting bugs: each must be caught and localised.
A new test goes here if it is about a verdict of check_network: planted bugs, kinks, methods
and steps, directional mode, falling back from the complex step (gradcheck's verdicts are in
test_gradcheck.py). What the checker says about bad arguments goes in tests/test_validation.py.
"""

import dataclasses

import numpy as np
import pytest

from backprop import ACTIVATIONS, Gradients, Network, derivation, forward, vectorized
from backprop.slips import BY_NAME, plant
from checks import check_network
from checks.cli.sweep import random_batch
from checks.engine.stencils import METHODS
from checks.netcheck import perturb
from checks.network import analyse
from tests.checks.mutants import MUTANTS, Mutant
from tests.checks.planting import random_case


def first_failure(report):
    return next(((b.equation, b.layer) for b in report.blocks if not b.ok), None)


def mutant_case(mutant: Mutant, seed: int = 0):
    net = Network.random(list(mutant.sizes), activations=list(mutant.activations),
                         cost=mutant.cost, seed=seed)
    X, Y = random_batch(net, 5, seed)
    return net, X, Y


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_every_planted_derivation_bug_is_caught_at_its_equation_and_layer(mutant):
    net, X, Y = mutant_case(mutant)
    report = check_network(net, X, Y, impl=mutant.impl)
    assert not report.ok, f"{mutant.name} slipped through:\n{report}"
    assert first_failure(report) == (mutant.equation, mutant.layer), str(report)
    shown = str(report)
    assert f"{mutant.equation} " in shown and "Mismatched elements" in shown


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_the_same_networks_pass_with_the_correct_implementation(mutant):
    net, X, Y = mutant_case(mutant)
    for impl in ("vectorized", "loop"):
        report = check_network(net, X, Y, impl=impl)
        assert report.ok, str(report)


def test_mismatch_line_names_equation_layer_element_and_values():
    net = Network.random([3, 4, 2], "tanh", seed=0)
    X, Y = random_batch(net, 3, 0)

    def wrong(net, X, Y):
        g = vectorized.backprop(net, X, Y)
        dW = [w.copy() for w in g.dW]
        dW[1][1, 2] += 1e-3
        return Gradients(g.delta, dW, g.db)

    report = check_network(net, X, Y, impl=wrong)
    (bad,) = report.mismatches
    assert str(bad).startswith("BP4 dW[1][j=1, i=2]: analytic=")
    assert "Mismatched elements: 1 / " in str(report)


def on_the_kink(activation: str, dtype=np.float64) -> tuple[Network, np.ndarray, np.ndarray]:
    """z[0][0, :] exactly 0 for every example (a zero row of W and b: the first unit
    sits on its kink), and z[0][:, 2] exactly 0 (zero biases on a zero input column)."""
    W1 = np.array([[0.0, 0.0], [1.0, -0.5], [0.3, 0.8]], dtype=dtype)
    net = Network([W1, np.array([[0.5, -1.0, 0.7]], dtype=dtype)],
                  [np.zeros((3, 1), dtype=dtype), np.array([[0.1]], dtype=dtype)],
                  [activation, "identity"], "quadratic")
    X = np.array([[0.5, -1.0, 0.0], [1.5, 0.3, 0.0]], dtype=dtype)
    return net, X, np.array([[0.2, -0.1, 0.4]], dtype=dtype)


def with_sigma_prime_at_0(activation: str, slope: float):
    """A backprop (the derivation's steps) that takes sigma'(0) = slope at the kink."""
    act = ACTIVATIONS[activation]

    def sigma_prime(z):
        return np.where(z == 0, slope, act.sigma_prime(z))

    wrong = dataclasses.replace(act, sigma_prime=sigma_prime, backward_from_a=None)

    def impl(net, X, Y):
        sigma = [wrong if s.name == activation else s for s in net.sigma]
        return derivation.backprop(net.weights, net.biases, sigma, net.cost_fn, X, Y)

    return impl


def kink_elements(report) -> set[str]:
    return {e.where() for e in report.mismatches}


@pytest.mark.parametrize("method", ["auto", *METHODS])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_elements_at_a_kink_are_checked_as_subgradients(activation, method):
    net, X, Y = on_the_kink(activation)
    report = check_network(net, X, Y, method=method)
    assert report.ok and report.skipped == 0, str(report)
    assert sum(b.subgradients for b in report.blocks) > 0
    assert "Verified as subgradients at kinks: " in str(report)
    assert "not differentiable here" not in str(report)
    # Any sigma'(0) between the slopes either side is a subgradient; one outside is not.
    low = 0.0 if activation == "relu" else 0.01
    assert check_network(net, X, Y, with_sigma_prime_at_0(activation, (low + 1) / 2),
                         method=method).ok


@pytest.mark.parametrize("method", ["auto", *METHODS])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_a_sigma_prime_of_2_at_the_kink_fails_at_the_kink_elements(activation, method):
    net, X, Y = on_the_kink(activation)
    report = check_network(net, X, Y, with_sigma_prime_at_0(activation, 2.0), method=method)
    assert not report.ok, str(report)
    # delta[0][j=0, x] for every example, delta[0][:, x=2], and what is built from them.
    wrong = {e.where() for e in report.mismatches}
    assert {f"BP2 delta[0][j=0, x={x}]" for x in range(3)} <= wrong, str(report)
    assert {f"BP2 delta[0][j={j}, x=2]" for j in range(3)} <= wrong, str(report)
    assert "BP2 delta[0][j=1, x=0]" not in wrong, str(report)  # away from the kink


def test_a_wrong_value_only_at_a_kink_element_is_caught_there():
    net, X, Y = on_the_kink("relu")
    g = vectorized.backprop(net, X, Y)

    def wrong(net, X, Y):
        delta = [d.copy() for d in g.delta]
        # At the kink (x = 2) the one-sided derivatives are 0 and W[1][0, 1] (a - y) =
        # 0.3: -1e-3 lies outside them.
        delta[0][1, 2] -= 1e-3
        return Gradients(delta, g.dW, g.db)

    for method in ["auto", *METHODS]:
        report = check_network(net, X, Y, impl=wrong, method=method)
        assert [e.where() for e in report.mismatches] == ["BP2 delta[0][j=1, x=2]"], str(report)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("offset", [0.0, 1e-12, -1e-12])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_units_at_or_within_1e_12_of_a_kink_pass(activation, offset, dtype):
    net, X, Y = on_the_kink(activation, dtype)
    net = Network(net.weights, [b + offset for b in net.biases], list(net.activations),
                  net.cost)
    for method in ["auto", *METHODS]:
        for impl in ("vectorized", "loop"):
            report = check_network(net, X, Y, impl, method=method)
            assert report.ok and report.skipped == 0, str(report)
            if report.method != "complex_step" or offset == 0:  # complex step: kinks in rounding
                assert sum(b.subgradients for b in report.blocks) > 0, str(report)


@pytest.mark.parametrize("slope", [None, 2.0], ids=["correct", "sigma'(0)=2"])
def test_kinks_are_checked_alike_on_every_path_of_the_engine(slope):
    # The fast path (one row run onward; tangents under complex step) against the dense
    # perturbation and the complex evaluation of the network.
    net, X, Y = on_the_kink("leaky_relu")
    impl = vectorized.backprop if slope is None else with_sigma_prime_at_0("leaky_relu", slope)
    g = impl(net, X, Y)
    model = analyse(net, X, Y)

    def verdicts(blocks):
        return [(b.subgradients, len(b.skipped), [e.where() for e in b.mismatches])
                for b in blocks]

    for method in METHODS.values():
        fast = verdicts(perturb.check_arrays(model, g, method))
        # Correct: every kink element a subgradient; sigma'(0) = 2: each a mismatch.
        assert sum(count if slope is None else len(wrong) for count, _, wrong in fast) > 0
        assert verdicts(perturb.check_arrays(model, g, method, structured=False)) == fast
        assert verdicts(perturb.check_arrays(model, g, method, tangents=False)) == fast


def test_several_kinks_at_once_are_left_unverified_with_the_reason():
    # tanh, then two relu units fed +z and -z of it: with x = 0 both relu z are 0,
    # and moving the tanh unit moves both over their kinks, in opposite directions.
    # C_x = (relu(t) - relu(-t) - 1)^2 / 2 = (t - 1)^2 / 2 is smooth, so D- = D+ = -1,
    # while the chain rule with relu'(0) = 0 gives 0: neither may be blamed.
    net = Network([np.array([[1.0]]), np.array([[1.0], [-1.0]]), np.array([[1.0, -1.0]])],
                  [np.zeros((1, 1)), np.zeros((2, 1)), np.zeros((1, 1))],
                  ["tanh", "relu", "identity"], "quadratic")
    X, Y = np.array([[0.0, 0.7]]), np.array([[1.0, 0.3]])
    for method in ["auto", *METHODS]:
        report = check_network(net, X, Y, method=method)
        assert report.ok, str(report)
        skipped = {e.where(): e.reason for b in report.blocks for e in b.skipped}
        assert set(skipped) == {"BP2 delta[0][j=0, x=0]", "BP3 db[0][j=0]"}, str(report)
        assert all("2 z over kinks at once" in why for why in skipped.values()), skipped
        assert "BP3 db[0][j=0]: the step moves 2 z over kinks at once" in str(report)
        assert sum(b.subgradients for b in report.blocks) > 0, str(report)


def test_random_networks_with_units_on_their_kinks_raise_no_false_alarm():
    """Zero biases and a zero input column put every relu / leaky_relu unit of that
    example on its kink, in one or two hidden layers, in float64 and float32."""
    rng = np.random.default_rng(17)
    for case in range(12):
        hidden = [str(rng.choice(["relu", "leaky_relu"])) for _ in range(1 + case % 2)]
        sizes = [int(n) for n in rng.integers(1, 5, size=len(hidden) + 2)]
        dtype = np.float64 if case % 3 else np.float32
        net = Network.random(sizes, [*hidden, "sigmoid"], "cross_entropy", seed=case,
                             dtype=dtype)
        net = Network(net.weights, [np.zeros_like(b) for b in net.biases], [*hidden, "sigmoid"],
                      "cross_entropy")
        X = rng.normal(size=(sizes[0], 3)).astype(dtype)
        X[:, 1] = 0
        Y = rng.uniform(size=(sizes[-1], 3)).astype(dtype)
        for method in ["auto", *METHODS]:
            report = check_network(net, X, Y, method=method)
            assert report.ok, f"{method}\n{report}"
            assert all(e.reason for b in report.blocks for e in b.skipped), str(report)
            assert sum(b.subgradients for b in report.blocks) > 0, str(report)


def test_a_wrong_relu_derivative_away_from_the_kink_is_still_caught():
    mutant = next(m for m in MUTANTS if m.slip.name == "relu' as 1 everywhere")
    net, X, Y = mutant_case(mutant)
    assert not check_network(net, X, Y, impl=mutant.impl).ok


@pytest.mark.parametrize("method", ["central", "richardson", "complex_step"])
def test_every_method_passes_correct_gradients_and_catches_a_gross_bug(method):
    mutant = next(m for m in MUTANTS if m.slip.name == "BP4 missing 1/m")
    net, X, Y = mutant_case(mutant)
    assert check_network(net, X, Y, method=method).ok
    assert not check_network(net, X, Y, impl=mutant.impl, method=method).ok


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_directional_mode_gives_the_same_verdict_and_localises(mutant):
    net, X, Y = mutant_case(mutant)
    fast = check_network(net, X, Y, impl=mutant.impl, directions=3)
    full = check_network(net, X, Y, impl=mutant.impl)
    assert not fast.ok and first_failure(fast) == first_failure(full), str(fast)
    assert fast.mismatches[0].where() in {e.where() for e in full.mismatches}
    assert check_network(net, X, Y, directions=3).ok


def test_directional_mode_compares_projections_when_all_is_well():
    net = Network.random([6, 5, 4, 3], "tanh", seed=3)
    X, Y = random_batch(net, 4, 3)
    report = check_network(net, X, Y, directions=2)
    assert report.ok, str(report)
    assert all(b.method == "complex_step/dir" and b.name.endswith("·u") for b in report.blocks)
    assert report.checked == 3 * (2 * 4 + 2 + 2)  # per layer: delta (u, x), db (u), dW (u)


def test_a_report_is_frozen_and_renders_its_findings_when_asked():
    net = Network.random([3, 4, 2], ["tanh", "sigmoid"], "cross_entropy", seed=6)
    X, Y = random_batch(net, 5, 6)
    report = check_network(net, X, Y, impl=plant(BY_NAME["BP3 first example only"]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.title = "changed"  # type: ignore[misc]
    matches = "    matches: the first example's delta only, not the batch mean"
    diagnosis = ["Diagnosis (the backward pass, from the output layer down):",
                 "  BP3 at layer 1: db[1] != mean over the batch of your delta[1]", matches,
                 "  BP3 at layer 0: db[0] != mean over the batch of your delta[0]", matches]
    assert report.diagnosis == diagnosis and report.as_dict()["diagnosis"] == diagnosis
    assert "\n".join(diagnosis) in str(report)


def test_saturated_units_are_checked_to_full_precision_without_cached_derivatives():
    # tanh(20 x) with x = 1: sigma' = 1.7e-17, every gradient ~1e-17. A derivative
    # computed from the cached activation (1 - a^2 = 0) cannot resolve that, so
    # the default tolerates it; cached_derivatives=False does not.
    net = Network([np.array([[20.0]])], [np.zeros((1, 1))], "tanh", "quadratic")
    X, Y = np.ones((1, 1)), np.full((1, 1), 0.5)
    g = vectorized.backprop(net, X, Y)
    doubled = Gradients([2 * d for d in g.delta], [2 * w for w in g.dW], [2 * b for b in g.db])
    assert check_network(net, X, Y, impl="loop", cached_derivatives=False).ok
    report = check_network(net, X, Y, impl=lambda *_: doubled, cached_derivatives=False)
    assert not report.ok and first_failure(report) == ("BP1", 0)


@pytest.mark.parametrize("mutant", MUTANTS[::3], ids=[m.name for m in MUTANTS[::3]])
def test_structured_fast_path_gives_the_same_numbers_as_the_simple_one(mutant):
    net, X, Y = mutant_case(mutant)
    for impl in (mutant.impl, vectorized.backprop):
        fast = check_network(net, X, Y, impl=impl)
        # The dense path is the engine's (checks.netcheck.perturb), not check_network's.
        g = impl(net, X.copy(), Y.copy())
        g = Gradients([d.astype(np.float64) for d in g.delta],
                      [w.astype(np.float64) for w in g.dW], [b.astype(np.float64) for b in g.db])
        simple = perturb.check_arrays(analyse(net, X, Y), g, METHODS[fast.method],
                                      structured=False)
        assert fast.ok == all(b.ok for b in simple)
        assert ([e.where() for e in fast.mismatches]
                == [e.where() for b in simple for e in b.mismatches])
        for b_fast, b_simple in zip(fast.blocks, simple, strict=True):
            assert b_fast.worst_error == pytest.approx(b_simple.worst_error, rel=1e-6, abs=1e-15)


def test_progress_counts_elements_up_to_every_element_of_delta_dW_db():
    net = Network.random([3, 4, 2], "tanh", seed=0)
    X, Y = random_batch(net, 3, 0)
    seen: list[tuple[int, int]] = []
    check_network(net, X, Y, progress=lambda done, total: seen.append((done, total)))
    total = (4 + 2) * 3 + (4 + 2) + (4 * 3 + 2 * 4)  # delta, db, dW
    assert {t for _, t in seen} == {total} and seen[-1] == (total, total)
    done = [d for d, _ in seen]
    assert done == sorted(done) and len(done) >= 6  # at least once per array


def _general_bp1(net, X, Y):
    """vectorized's gradients with delta^L in BP1's general form, dC/da ⊙ sigma'(z),
    as a student derives it: for cross-entropy dC/da = (a - y) / (a (1 - a))."""
    g = vectorized.backprop(net, X, Y)
    trace = forward(net, X)
    delta_L = derivation.general_output_delta(
        derivation.Pass(net.weights, net.sigma, net.cost_fn, Y, trace.z, trace.a))
    return Gradients(delta=[*g.delta[:-1], delta_L], dW=g.dW, db=g.db)


@pytest.mark.parametrize("seed", [18, 21, 30, 71, 75])
def test_bp1_in_its_general_form_is_forgiven_its_rounding(seed):
    """float32 cross-entropy networks on which the general form rounds a few ulps
    differently from a - y (1 - a amplifies a's rounding): no false alarm."""
    net, X, Y = random_case(np.random.default_rng(seed), np.float32)
    assert net.cost == "cross_entropy"
    g = _general_bp1(net, X, Y)
    assert check_network(net, X, Y, impl=lambda *_: g, cached_derivatives=False).ok

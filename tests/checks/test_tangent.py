"""checks.netcheck.tangent: forward tangents give the complex step's numbers, from sigma and C.

Every test compares the tangents against the path they replace: the network evaluated
in complex arithmetic for each perturbation (check_arrays(..., tangents=False)).
"""

import copy
import dataclasses

import numpy as np
import pytest

from backprop import ACTIVATIONS, COSTS, HIDDEN, Activation, Gradients, Network, vectorized
from checks.cli.sweep import random_batch
from checks.engine.stencils import COMPLEX_STEP, U64
from checks.netcheck import moves, perturb, tangent
from checks.network import analyse
from tests.checks.scales import scales


def float64_backprop(net, X, Y):
    """vectorized's gradients in float64: what the engine takes (check_network casts them)."""
    g = vectorized.backprop(net, X, Y)
    return Gradients(*([a.astype(np.float64) for a in arrays] for arrays in (g.delta, g.dW, g.db)))


def both_paths(net, X, Y):
    """(tangent blocks, complex-evaluation blocks, scales) of the correct gradients."""
    model, g = analyse(net, X, Y), float64_backprop(net, X, Y)
    return (perturb.check_arrays(model, g, COMPLEX_STEP),
            perturb.check_arrays(model, g, COMPLEX_STEP, tangents=False),
            list(scales(model, g)))


def assert_same_numbers(new_blocks, old_blocks, scale, ulps=32):
    """Numerical derivatives within `ulps` float64 ulps of each element's scale (the
    sum of the absolute terms it adds up) and far inside the tolerance, kinks left
    out; the same elements skipped and the same verdicts."""
    __tracebackhide__ = True
    for new, old, s in zip(new_blocks, old_blocks, scale, strict=True):
        diff = np.where(np.isnan(old.ratios), 0.0, np.abs(new.numeric - old.numeric))
        with np.errstate(divide="ignore", invalid="ignore"):
            in_ulps = np.where(diff == 0, 0.0, diff / (U64 * s))
        np.testing.assert_array_less(in_ulps, ulps, err_msg=f"{new.name}: |tangents - "
                                     "complex evaluation| in ulps of each element's scale")
        np.testing.assert_array_less(diff / old.tolerance, 0.1, err_msg=f"{new.name}: "
                                     "|tangents - complex evaluation| / tolerance")
        assert [e.index for e in new.skipped] == [e.index for e in old.skipped], new.name
        assert new.ok == old.ok, new.name


OUTPUTS = [(output, cost) for cost, c in COSTS.items()
           for output in ([c.requires] if c.requires else list(ACTIVATIONS))]


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize(("output", "cost"), OUTPUTS, ids=[f"{o}-{c}" for o, c in OUTPUTS])
def test_tangents_match_complex_evaluation_for_every_activation_and_cost(hidden, output, cost):
    net = Network.random([5, 4, 6, 3], [hidden, hidden, output], cost, seed=7, scale=1.5)
    X, Y = random_batch(net, 4, 7)
    assert_same_numbers(*both_paths(net, X, Y))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_tangents_match_complex_evaluation_in_deep_and_wide_networks(dtype):
    net = Network.random([12, 40, 3, 30, 20, 4], "tanh", "quadratic", seed=2, dtype=dtype)
    X, Y = random_batch(net, 9, 2)
    assert_same_numbers(*both_paths(net, X, Y))


def test_dense_changes_give_the_same_tangents_as_rows():
    net = Network.random([4, 6, 5, 3], ["softplus", "tanh", "sigmoid"], "cross_entropy", seed=1)
    X, Y = random_batch(net, 3, 1)
    model = analyse(net, X, Y)
    loc = tangent.local_derivatives(model, COMPLEX_STEP.step(U64))
    rows = np.array([0, 2, 2, 5])
    change = np.random.default_rng(0).standard_normal((4, 3))
    dense = np.zeros((4, 6, 3))
    dense[np.arange(4), rows] = change
    by_row, _ = tangent.tangent_costs(loc, 0, rows, change)
    by_dense, _ = tangent.tangent_costs(loc, 0, None, dense)
    np.testing.assert_allclose(by_row, by_dense, rtol=16 * U64,
                               atol=16 * U64 * np.max(np.abs(by_dense)),
                               err_msg="one row of z moved: rows and dense changes differ")


class NoDerivative(Activation):
    def backward(self, z, g):
        raise AssertionError("Activation.backward used by the numerical side")


def boom(*args):
    raise AssertionError("a registry derivative used by the numerical side")


def test_tangents_take_nothing_from_the_registry_derivatives():
    net = Network.random([4, 5, 5, 3], ["tanh", "sigmoid", "softmax"],
                         "categorical_cross_entropy", seed=4)
    X, Y = random_batch(net, 3, 4)
    model, g = analyse(net, X, Y), float64_backprop(net, X, Y)
    blind = copy.copy(net)
    blind.sigma = tuple(NoDerivative(**{**{f.name: getattr(s, f.name)
                                           for f in dataclasses.fields(s)},
                                        "sigma_prime": boom, "backward_from_a": boom})
                        for s in net.sigma)
    blind.cost_fn = dataclasses.replace(net.cost_fn, dC_da=boom, delta=boom)
    blind_model = dataclasses.replace(model, ref=dataclasses.replace(model.ref, net=blind))
    new = perturb.check_arrays(blind_model, g, COMPLEX_STEP)
    for seeing, not_seeing in zip(perturb.check_arrays(model, g, COMPLEX_STEP), new, strict=True):
        np.testing.assert_array_equal(not_seeing.numeric, seeing.numeric, err_msg=seeing.name)


def twins(deeper: bool) -> Network:
    """Twin tanh units a[1][0] = a[1][1] exactly, and a relu whose z is their difference,
    0 exactly: at its kink, and moved by perturbations of the twins' layer (deeper:
    two layers on, through a tanh layer that keeps the twins apart)."""
    W0 = np.array([[0.5, -0.3], [0.5, -0.3], [0.2, 0.9]])
    b0 = np.array([[0.1], [0.1], [-0.2]])
    relu_W, relu_b = np.array([[1.0, -1.0, 0.0], [0.7, 0.2, -0.4]]), np.array([[0.0], [0.05]])
    head = ([np.array([[0.6, -0.8]])], [np.array([[0.3]])], ["identity"])
    if not deeper:
        return Network([W0, relu_W, *head[0]], [b0, relu_b, *head[1]], ["tanh", "relu", *head[2]])
    W1, b1 = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.3, 0.3, 0.3]]), np.zeros((3, 1))
    return Network([W0, W1, relu_W, *head[0]], [b0, b1, relu_b, *head[1]],
                   ["tanh", "tanh", "relu", *head[2]])


@pytest.mark.parametrize("deeper", [False, True], ids=["next-layer", "two-layers-on"])
def test_kinks_reached_by_a_tangent_are_found_and_checked_as_subgradients(deeper):
    net = twins(deeper)
    X, Y = np.array([[0.4, -1.0, 2.0], [1.0, 0.5, -0.3]]), np.array([[0.2, -0.1, 0.7]])
    new, old, scale = both_paths(net, X, Y)
    assert_same_numbers(new, old, scale)
    model, g = analyse(net, X, Y), float64_backprop(net, X, Y)
    local = perturb.forward_tangents(model, COMPLEX_STEP)
    assert local is not None
    kinked = {}
    for l in range(net.L):
        for t in moves.targets_of(model, g, l):
            found = perturb.element_derivatives(model, l, t, COMPLEX_STEP, tangents=local).kinked
            np.testing.assert_array_equal(
                found, perturb.element_derivatives(model, l, t, COMPLEX_STEP).kinked,
                err_msg=f"{t.id.name}: kinks found by tangents and by complex evaluation")
            kinked[t.id.name] = {tuple(int(i) for i in idx) for idx in np.argwhere(found)}
    relu = 2 if deeper else 1
    assert kinked["dW[0]"] == {(j, i) for j in range(2) for i in range(2)}, kinked
    assert kinked[f"delta[{relu}]"] == {(0, x) for x in range(3)}, kinked
    assert not kinked[f"dW[{relu + 1}]"], kinked
    # Each of them checked as a subgradient, on either path.
    for blocks in (new, old):
        assert {b.name: b.subgradients for b in blocks if b.subgradients} == {
            name: len(found) for name, found in kinked.items() if found}
        assert not any(b.skipped for b in blocks)


def test_blocks_and_threads_do_not_change_a_bit(monkeypatch):
    net = Network.random([7, 9, 8, 2], ["leaky_relu", "tanh", "sigmoid"], "cross_entropy", seed=3)
    X, Y = random_batch(net, 5, 3)
    model, g = analyse(net, X, Y), float64_backprop(net, X, Y)

    def numbers():
        return [b.numeric for b in perturb.check_arrays(model, g, COMPLEX_STEP)]

    default = numbers()
    monkeypatch.setattr(tangent, "TANGENT_BYTES", 1)  # one perturbation per block
    for workers in (1, 3):
        monkeypatch.setattr(tangent, "WORKERS", workers)
        for ours, theirs in zip(numbers(), default, strict=True):
            np.testing.assert_array_equal(ours, theirs, err_msg=f"{workers} workers")


def test_only_what_the_registry_allows_uses_tangents():
    assert all(tangent.applies(Network.random([3, 4, 2], [h, "softmax"],
                                              "categorical_cross_entropy")) for h in HIDDEN)


def test_checks_with_tangents_pass_correct_and_catch_a_planted_error():
    net = Network.random([6, 8, 8, 3], "tanh", "quadratic", seed=5)
    X, Y = random_batch(net, 4, 5)
    model, g = analyse(net, X, Y), float64_backprop(net, X, Y)
    assert all(b.ok for b in perturb.check_arrays(model, g, COMPLEX_STEP))
    dW = [w.copy() for w in g.dW]
    dW[0][3, 2] *= 1 + 1e-9
    bad = Gradients(g.delta, dW, g.db)
    failing = [b.name for b in perturb.check_arrays(model, bad, COMPLEX_STEP) if not b.ok]
    assert failing == ["dW[0]"], failing


def test_threads_follow_the_cpus_and_the_thread_variables(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    assert 1 <= tangent.workers() <= 8
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert tangent.workers() == 1


def test_the_check_runs_in_a_child_forked_after_the_parent_ran_it(monkeypatch):
    """The block threads are made per process: a child forked after the parent used
    them (multiprocessing's default on Linux, mutmut) gets its own, and does not hang."""
    import multiprocessing

    from checks import check_network
    from checks.netcheck import tangent

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    monkeypatch.setattr(tangent, "WORKERS", 2)
    net = Network.random([64, 64, 10], "tanh", seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((64, 4)), rng.standard_normal((10, 4))
    assert check_network(net, X, Y).ok  # the parent makes its pool
    child = multiprocessing.get_context("fork").Process(
        target=lambda: check_network(net, X, Y))
    child.start()
    child.join(timeout=120)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive and child.exitcode == 0

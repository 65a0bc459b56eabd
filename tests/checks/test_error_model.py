"""The error model's pieces: the derivation (backprop.derivation) and the table of
local rounding terms (checks.netcheck.error_model) that both E and the sampled deviations read."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backprop import Network, backward_order, derivation, loop, vectorized
from checks import check_network
from checks.netcheck.error_model import Term, flush_terms, local_terms, propagate, reference
from checks.netcheck.sampled import sampled_terms
from checks.strategies import batches, networks


def plain(net, X, Y, **options):
    return derivation.backprop(net.weights, net.biases, net.sigma, net.cost_fn, X, Y, **options)


@given(data=st.data(), net=networks(max_depth=4, dtypes=(np.float64, np.float32)))
def test_the_derivation_is_a_correct_backprop(data, net):
    X, Y = data.draw(batches(net))
    g = plain(net, X, Y)
    assert check_network(net, X, Y, impl=lambda *_: g, cached_derivatives=False).ok


@given(data=st.data(), net=networks(max_depth=4))
def test_sigma_prime_from_the_cached_activation_is_a_correct_backprop(data, net):
    X, Y = data.draw(batches(net))
    g = plain(net, X, Y, steps=derivation.FROM_CACHED_A)
    assert check_network(net, X, Y, impl=lambda *_: g).ok


@given(data=st.data(), net=networks(max_depth=4, dtypes=(np.float64, np.float32)))
def test_every_intermediate_the_derivation_rounds_has_a_local_bound_in_the_table(data, net):
    """The sampled deviations move exactly what the derivation hands to its rounding
    hook, by the table's terms: a renamed or new intermediate without a term would
    silently not be sampled."""
    X, Y = data.draw(batches(net))
    ref = reference(net, X, Y)
    table = local_terms(ref, cached=True)
    base = plain(net, ref.X, ref.Y)  # float64: what the sampled runs perturb
    terms = sampled_terms(ref, table, base)
    called = []

    def record(name, l, value):
        called.append((name, l))
        return value

    derivation.backprop(ref.W, ref.b, net.sigma, net.cost_fn, ref.X, ref.Y, rounding=record)
    unknown = {name for name, _ in called} - set(terms)
    assert not unknown, f"rounded by the derivation, unknown to the sampled terms: {unknown}"
    for name, l in called:
        assert terms[name][l], f"{name}[{l}] is rounded by the derivation but has no term"
        for term in terms[name][l]:
            assert np.all(np.isfinite(term.sampled)) and np.all(term.sampled >= 0), (name, l)
    unused = [(name, l) for name, per_layer in terms.items() for l, t in enumerate(per_layer)
              if t and (name, l) not in called]
    # The output layer's sigma' is not computed where the cost's a - y replaces BP1.
    allowed = [("sigma_prime", net.L - 1)] if net.cost_fn.delta is not None else []
    assert unused in ([], allowed), f"terms that the derivation never rounds: {unused}"


@pytest.mark.parametrize(("roundings", "worst", "sampled"), [(0, 3.0, 3.0), (9, 27.0, 9.0)])
def test_a_sum_counts_its_roundings_fully_in_the_worst_case_and_by_sqrt_when_sampled(
        roundings, worst, sampled):
    term = Term(np.array([3.0]), roundings)
    assert term.worst[0] == worst and term.sampled[0] == sampled


@pytest.mark.parametrize(("dtype", "share"),
                         [(np.float64, 0.5), (np.float32, 2**-29 / (1 + 2**-29))])
def test_the_output_sums_of_an_elementwise_output_carry_only_the_references_share(dtype, share):
    """u64 / (u + u64) of the roundoff for an elementwise output; all of it under softmax."""
    X = np.ones((2, 4), dtype=dtype)
    net = Network.random([2, 3], "tanh", seed=0, dtype=dtype)
    sums = local_terms(reference(net, X, np.zeros((3, 4), dtype=dtype)), cached=True).sums
    assert sums.unit == pytest.approx(share, rel=1e-12)
    assert np.all(sums.worst == sums.unit * sums.bound)
    softmax = Network.random([2, 3], ["softmax"], "categorical_cross_entropy", seed=0,
                             dtype=dtype)
    Y = np.full((3, 4), 1 / 3, dtype=dtype)
    assert local_terms(reference(softmax, X, Y), cached=True).sums.unit == 1.0


def test_vectorized_is_within_the_tolerance_the_model_gives_it():
    """The model's tolerance is what check_network applies: vectorized's own
    rounding, against the float64 loop, fits inside it element by element."""
    from checks.network import tolerances

    net = Network.random([5, 7, 4], ["tanh", "sigmoid"], "cross_entropy", seed=3,
                         dtype=np.float32)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((5, 6)).astype(np.float32)
    Y = rng.uniform(size=(4, 6)).astype(np.float32)
    tol = tolerances(net, X, Y)
    g32 = vectorized.backprop(net, X, Y)
    net64 = Network([w.astype(np.float64) for w in net.weights],
                    [b.astype(np.float64) for b in net.biases], list(net.activations), net.cost)
    g64 = loop.backprop(net64, X.astype(np.float64), Y.astype(np.float64))
    for field in ("delta", "dW", "db"):
        for actual, exact, t in zip(getattr(g32, field), getattr(g64, field),
                                    getattr(tol, field), strict=True):
            assert np.all(np.abs(actual - exact) <= t), field


def test_the_flush_table_is_the_table_with_one_unit_per_element_and_its_roundings_kept():
    net = Network.random([3, 4, 2], ["tanh", "sigmoid"], "cross_entropy", seed=1)
    X = np.random.default_rng(1).standard_normal((3, 5))
    ref = reference(net, X, np.random.default_rng(2).uniform(size=(2, 5)))
    table = local_terms(ref, cached=True)
    flush = flush_terms(ref, table)
    M = np.abs(ref.a[-1])
    for rounded, unit in [(table.z[0], flush.z[0]), (table.W_T_delta(0, M), flush.W_T_delta(0, M)),
                          (table.dW(1, M), flush.dW(1, M)), (table.db(1, M), flush.db(1, M))]:
        assert np.all(unit.bound == 1.0) and unit.bound.shape == rounded.bound.shape
        assert unit.roundings == rounded.roundings
    assert flush.magnitudes is table.magnitudes, "F is carried through the same magnitudes as E"
    E, F = propagate(ref, table.magnitudes, table), propagate(ref, table.magnitudes, flush)
    assert list(E.bounds) == list(F.bounds) == list(backward_order(net.L))


def test_the_model_keys_its_bounds_and_tolerances_by_array():
    from checks.network import analyse

    net = Network.random([3, 4, 2], ["relu", "softmax"], "categorical_cross_entropy", seed=2)
    X = np.random.default_rng(3).standard_normal((3, 4))
    Y = np.full((2, 4), 0.5)
    model = analyse(net, X, Y)
    assert list(model.tol) == list(model.E) == list(backward_order(net.L))
    assert [model.tol[a].shape for a in backward_order(net.L) if a.kind == "delta"] == [
        (2, 4), (4, 4)]

"""Which networks are checked (checks.cli.sweep.configs): each option given fixes its part
of the sweep, the rest is still swept; a choice that fits no network names the option."""

import hashlib

import pytest

from backprop import COSTS, HIDDEN, Network
from checks.cli.sweep import SWEEP_SIZES, configs


def test_the_default_sweep_is_56_networks_in_a_fixed_order():
    found = configs()
    assert len(found) == 56 and len({repr(c) for c in found}) == 56
    assert found[:4] == [([3, 2], ["sigmoid"], "quadratic"),
                         ([3, 4, 2], ["sigmoid", "sigmoid"], "quadratic"),
                         ([3, 5, 4, 3], ["sigmoid", "sigmoid", "sigmoid"], "quadratic"),
                         ([3, 4, 2], ["sigmoid", "softmax"], "quadratic")]
    assert found[-1] == ([3, 5, 4, 3], ["identity", "identity", "softmax"],
                         "categorical_cross_entropy")
    assert [sum(c == name for _, _, c in found) for name in COSTS] == [30, 13, 13]
    # Network k is drawn from seed + k: the order is part of every default-sweep number.
    digest = hashlib.sha256(repr(found).encode()).hexdigest()[:16]
    assert digest == "83f2ad822da47295", "the default sweep's networks or their order changed"


@pytest.mark.parametrize("cost", list(COSTS))
def test_cost_alone_sweeps_the_default_networks_of_that_cost(cost):
    assert configs(cost=cost) == [c for c in configs() if c[2] == cost]


@pytest.mark.parametrize("sizes", [[3, 2], [3, 4, 2], [2, 6, 5, 4, 1]])
def test_sizes_alone_sweeps_every_activation_and_cost_on_those_sizes(sizes):
    found = configs(sizes=sizes)
    assert all(s == sizes for s, _, _ in found)
    default = configs()
    depths = [len(s) - 1 for s, _, _ in default]
    if len(sizes) - 1 in depths:  # the default sweep's networks of this depth, resized
        assert found == [(sizes, a, c) for s, a, c in default if len(s) == len(sizes)]
    assert {c for _, _, c in found} == set(COSTS)
    assert {a[0] for _, a, c in found if c == "quadratic"} == set(HIDDEN)


@pytest.mark.parametrize("name", HIDDEN)
def test_one_activation_name_is_every_layer_over_the_sweep_sizes_and_the_costs_it_suits(name):
    found = configs(activations=name)
    assert [s for s, _, _ in found] == [list(s) for s in SWEEP_SIZES] * len(
        {c for _, _, c in found})
    assert all(a == [name] * (len(s) - 1) for s, a, _ in found)
    suited = [c for c, fn in COSTS.items() if fn.requires in (None, name)]
    assert [c for _, _, c in found] == [c for c in suited for _ in SWEEP_SIZES]


def test_a_sigmoid_sweep_has_sigmoid_in_every_layer_and_skips_the_softmax_cost():
    assert configs(activations="sigmoid") == [
        (list(s), ["sigmoid"] * (len(s) - 1), c)
        for c in ("quadratic", "cross_entropy") for s in SWEEP_SIZES]


@pytest.mark.parametrize("cost", ["cross_entropy", "categorical_cross_entropy"])
def test_one_name_with_a_cost_that_requires_an_output_gets_it_as_network_does(cost):
    found = configs(activations="tanh", cost=cost)
    assert [s for s, _, _ in found] == [list(s) for s in SWEEP_SIZES]
    for sizes, acts, _ in found:
        assert acts == list(Network.random(sizes, "tanh", cost).activations)
        assert acts[-1] == COSTS[cost].requires and set(acts[:-1]) <= {"tanh"}


def test_a_per_layer_list_fixes_the_depth_and_sweeps_the_sizes_and_costs_it_suits():
    assert configs(activations=["relu", "softmax"]) == [
        ([3, 4, 2], ["relu", "softmax"], "quadratic"),
        ([3, 4, 2], ["relu", "softmax"], "categorical_cross_entropy")]
    assert configs(activations=["tanh", "tanh", "sigmoid"]) == [
        ([3, 5, 4, 3], ["tanh", "tanh", "sigmoid"], c) for c in ("quadratic", "cross_entropy")]


def test_two_choices_sweep_the_third():
    assert configs(sizes=[3, 4, 2], cost="quadratic") == [
        ([3, 4, 2], a, "quadratic") for s, a, c in configs(cost="quadratic") if len(s) == 3]
    assert configs(sizes=[2, 3], activations="sigmoid") == [
        ([2, 3], ["sigmoid"], "quadratic"), ([2, 3], ["sigmoid"], "cross_entropy")]
    assert configs(activations="relu", cost="quadratic") == [
        (list(s), ["relu"] * (len(s) - 1), "quadratic") for s in SWEEP_SIZES]


def test_all_three_choices_are_exactly_one_network():
    assert configs([3, 4, 2], "tanh", "quadratic") == [([3, 4, 2], ["tanh", "tanh"], "quadratic")]
    assert configs([3, 4, 2], ["tanh", "softmax"], "categorical_cross_entropy") == [
        ([3, 4, 2], ["tanh", "softmax"], "categorical_cross_entropy")]


def test_configs_rejects_a_choice_that_fits_no_network_naming_the_option():
    with pytest.raises(ValueError, match=r"^--activations softmax,tanh: activations"):
        configs(activations=["softmax", "tanh"])
    with pytest.raises(ValueError, match=r"^--cost: unknown cost 'mse'"):
        configs(cost="mse")

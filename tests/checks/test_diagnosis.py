"""The report names the first broken equation and, when the numbers show it, the slip."""

import re

import numpy as np
import pytest

from backprop import Gradients, Network, vectorized
from checks import check_network
from checks.cli.sweep import random_batch
from tests.checks.mutants import MUTANTS, Mutant

# What the diagnosis must say about each slip it can recognise from the numbers.
NAMED = {
    "BP1: sigma' missing": "sigma' left out",
    "BP1: sigma'(a) for sigma'(z)": "sigma' evaluated at a instead of z",
    "BP1: sign flip y - a": "the sign is flipped",
    "BP1: quadratic dC/da = 2(a - y)": "every element is 2",
    "BP1: hand-derivation slip dC/da = -(y/a + (1-y)/(1-a))": "a sign slip in the derivative",
    "BP1: cross-entropy a - y times sigma' again": "multiplied by sigma' again",
    "BP1: softmax treated as elementwise (diagonal Jacobian)": "softmax treated as elementwise",
    "BP1: categorical cross-entropy delta = y - a": "the sign is flipped",
    "BP1: delta returned as the batch mean": "delta returned as the batch mean",
    "BP2: sigma' missing": "sigma' left out",
    "BP2: sigma'(a) for sigma'(z)": "sigma' evaluated at a instead of z",
    "BP2: W for W^T": "used where its transpose belongs",
    "BP2: the wrong layer's weights W^l for W^{l+1}": "the wrong layer's weights",
    "BP2: the next layer's sigma'(z^{l+1})": "the next layer's sigma'",
    "BP2: sign flip": "the sign is flipped",
    "BP2: off-by-one loop range skips the first layer": "never computed",
    "BP3: sum for mean": "m = 4 times too large: a missing 1/m",
    "BP3: first example only": "the first example's delta only",
    "BP4: missing 1/m": "m = 4 times too large: a missing 1/m",
    "BP4: 1/m applied twice": "divided by m once too often",
    "BP4: z^{l-1} for a^{l-1} (the wrong layer's activations)": "used where a[2] belongs",
    "BP4: sign flip": "the sign is flipped",
    "BP4: a single element off by 1e-9": "only one element is wrong: BP4 dW[0][j=1, i=2]",
    "relu': 1 everywhere": "sigma' left out",
}


def run(mutant: Mutant):
    net = Network.random(list(mutant.sizes), list(mutant.activations), mutant.cost, seed=0)
    X, Y = random_batch(net, 4, 0)
    return check_network(net, X, Y, impl=mutant.impl)


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_the_first_broken_equation_is_the_slips(mutant):
    report = run(mutant)
    assert report.findings, str(report)
    first = report.findings[0]
    assert (first.equation, first.layer) == (mutant.equation, mutant.layer), str(report)


@pytest.mark.parametrize("name", sorted(NAMED))
def test_a_recognisable_slip_is_named(name):
    mutant = next(m for m in MUTANTS if m.name == name)
    report = run(mutant)
    slip = report.findings[0].slip or ""
    assert NAMED[name] in slip, str(report)
    assert NAMED[name] in str(report)


def test_arrays_built_from_a_wrong_delta_are_marked_as_consequences():
    report = run(next(m for m in MUTANTS if m.name == "BP2: sigma'(a) for sigma'(z)"))
    follows = {b.name: b.follows_from for b in report.blocks if not b.ok}
    assert follows["db[1]"] == follows["dW[1]"] == "delta[1]"
    assert follows["delta[1]"] is None  # the cause itself
    assert "MISMATCH (follows from delta[1])" in str(report)


@pytest.mark.parametrize("mutant", MUTANTS[::4], ids=[m.name for m in MUTANTS[::4]])
def test_each_mismatched_element_is_listed_at_most_once(mutant):
    text = str(run(mutant))
    listed = re.findall(r"^    (BP\d \w+\[\d\]\[[^\]]*\]):", text, flags=re.MULTILINE)
    assert listed and len(listed) == len(set(listed)), text


def test_the_listing_follows_the_derivation_and_names_db_by_j_alone():
    report = run(next(m for m in MUTANTS if m.name == "BP3: sum for mean"))
    text = str(report)
    assert "db[2][j=" in text and "0=0" not in text and ", 0=" not in text
    headers = re.findall(r"^  (\w+\[\d\]) \(BP\d", text, flags=re.MULTILINE)
    assert headers == sorted(headers, key=lambda h: (not h.startswith("delta"), -int(h[-2])))


def test_without_delta_the_report_says_what_cannot_be_concluded():
    net = Network.random([3, 4, 2], "tanh", seed=0)
    X, Y = random_batch(net, 4, 0)

    def no_delta_missing_m(net, X, Y):
        g = vectorized.backprop(net, X, Y)
        return Gradients(dW=[w * X.shape[1] for w in g.dW], db=[b.copy() for b in g.db])

    report = check_network(net, X, Y, impl=no_delta_missing_m)
    assert [(f.equation, f.layer) for f in report.findings] == [("BP4", 1), ("BP4", 0)]
    assert "missing 1/m" in (report.findings[0].slip or "")
    assert "delta not given" in str(report) and "return delta to tell them apart" in str(report)


def test_a_correct_backprop_has_no_diagnosis():
    net = Network.random([3, 4, 2], "tanh", seed=0)
    X, Y = random_batch(net, 4, 0)
    report = check_network(net, X, Y)
    assert report.findings == [] and "Diagnosis" not in str(report)
    assert report.as_dict()["diagnosis"] == []


def test_a_constant_ratio_is_named_only_when_every_element_shows_it():
    net = Network.random([3, 4, 2], "tanh", seed=0)
    X, Y = random_batch(net, 4, 0)
    g = vectorized.backprop(net, X, Y)
    dW = [w.copy() for w in g.dW]
    dW[1][0, :] *= 3.0  # one row three times too large, the rest right
    report = check_network(net, X, Y, impl=lambda *_: Gradients(g.delta, dW, g.db))
    slip = report.findings[0].slip or ""
    assert "times" not in slip and "only row j=0 is wrong" in slip, str(report)
    assert np.isfinite(report.blocks[2].worst_ratio)

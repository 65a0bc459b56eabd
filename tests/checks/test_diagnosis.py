"""The report names the first broken equation and, when the numbers show it, the slip."""

import re

import numpy as np
import pytest

from backprop import Gradients, Network, vectorized
from backprop.slips import SLIPS
from checks import check_network
from checks.cli.sweep import random_batch
from tests.checks.mutants import MUTANTS, SHOWN_ON, Mutant

# A slip the diagnosis recomputes is named "matches: " + its words (backprop.slips);
# one named by its numbers, in words of the diagnosis's own ratio and pattern rules,
# written out here where they add to the catalogue's words.
THE_NUMBERS_SAY = {
    "BP1 quadratic dC/da = 2(a - y)": "every element is 2: a factor 2 too many",
    "BP2 loop one layer short": "every element is 0: this array was never computed",
    "BP3 sum for mean": "every element is m = 4 times too large: a missing 1/m",
    "BP4 missing 1/m": "every element is m = 4 times too large: a missing 1/m",
    "BP4 sign flipped": "every element is -1: the sign is flipped",
    "BP4 one element off by 1e-9": "only one element is wrong: BP4 dW[0][j=1, i=2]",
    "relu' as 1 everywhere": "matches: sigma' left out",
}
NAMED = [m for m in MUTANTS if m.slip.named != "not named"]


def mutant(slip_name: str) -> Mutant:
    return next(m for m in MUTANTS if m.slip.name == slip_name)


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


@pytest.mark.parametrize("mutant", NAMED, ids=[m.name for m in NAMED])
def test_a_recognisable_slip_is_named_by_its_words_on_its_network(mutant):
    report = run(mutant)
    slip = report.findings[0].slip or ""
    words = mutant.slip.says(mutant.layer)
    if mutant.slip.named == "recomputed":
        assert f"matches: {words}" in slip, str(report)
    assert words in slip and THE_NUMBERS_SAY.get(mutant.slip.name, words) in slip, str(report)
    assert slip in str(report)


def test_every_slip_of_the_catalogue_is_planted_on_a_network():
    assert list(SHOWN_ON) == [s.name for s in SLIPS], "each slip needs the network it shows on"
    assert all(SHOWN_ON[s.name] for s in SLIPS), "each slip needs the network it shows on"


def test_arrays_built_from_a_wrong_delta_are_marked_as_consequences():
    report = run(mutant("BP2 with sigma'(a)"))
    follows = {b.name: b.follows_from and b.follows_from.name for b in report.blocks if not b.ok}
    assert follows["db[1]"] == follows["dW[1]"] == "delta[1]"
    assert follows["delta[1]"] is None  # the cause itself
    assert "MISMATCH (follows from delta[1])" in str(report)


@pytest.mark.parametrize("mutant", MUTANTS[::4], ids=[m.name for m in MUTANTS[::4]])
def test_each_mismatched_element_is_listed_at_most_once(mutant):
    text = str(run(mutant))
    listed = re.findall(r"^    (BP\d \w+\[\d\]\[[^\]]*\]):", text, flags=re.MULTILINE)
    assert listed and len(listed) == len(set(listed)), text


def test_the_listing_follows_the_derivation_and_names_db_by_j_alone():
    report = run(mutant("BP3 sum for mean"))
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

"""A sweep that explains itself (checks.cli.explain): failures that coincide exactly with a
part of the configuration are said so, with the narrowing command, which passes; any other
failing sweep lists its failing networks."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

from checks.cli import main, render
from checks.cli.explain import command
from checks.cli.parse import build_parser, parse
from tests.cli.common import STUDENT, user_module


def _said(out):
    """The summary under the table with its wrapped lines joined."""
    return " ".join(out[out.index("Failed: "):].split())


def _commands(out):
    return [line.strip() for line in out.splitlines() if line.startswith("    backprop-check ")]


def test_a_student_sigmoid_cross_entropy_backprop_is_told_to_narrow_the_sweep_and_it_passes(
        tmp_path, capsys, monkeypatch):
    user_module(tmp_path, monkeypatch, "mybackprop", STUDENT)
    assert main(["--impl", "mybackprop:backprop"]) == 1
    out = capsys.readouterr().out
    assert ("Every network with a tanh, relu, leaky_relu, softplus, identity or softmax layer, "
            "or with a quadratic or categorical_cross_entropy cost, fails; every sigmoid + "
            "cross_entropy network passes (3 of 56): your code may handle only those. "
            "Check just them:") in _said(out)
    # Instead of 53 networks' slip guesses, which do not apply (sigma' is not left out).
    assert "Failed: 53 checks" in out and "sigma' left out" not in out
    assert "Network(sizes=" not in out
    # Its relu networks' exact zeros: the rel. error is inf there, and said why.
    assert render.ZERO_LEGEND in out
    narrow, first = _commands(out)
    assert narrow == ("backprop-check --impl mybackprop:backprop --activations sigmoid "
                      "--cost cross_entropy")
    # The command as printed, run from the user's directory, passes.
    bin_dir = str(Path(sys.executable).parent)
    result = subprocess.run(shlex.split(narrow), cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"]},
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("backprop-check: 3 networks x 1 implementation")
    # The other command shows the first failing network's report: network 0, seed 0.
    assert first == ("backprop-check --impl mybackprop:backprop --sizes 3,2 --activations "
                     "sigmoid --cost quadratic")
    assert main(shlex.split(first)[1:]) == 1
    assert capsys.readouterr().out.startswith(
        "check_network(backprop) Network(sizes=[3, 2], activations=['sigmoid'], "
        "cost='quadratic'")


# Every network of --sizes 2,2 is wrong exactly where `wrong` holds.
WRONG_WHERE = """
from backprop import Gradients, vectorized

def backprop(net, X, Y):
    g = vectorized.backprop(net, X, Y)
    wrong = {}
    return Gradients(g.delta, [2 * w for w in g.dW] if wrong else g.dW, g.db)  # BP4 slip
"""
SWEEP = ["--sizes", "2,2", "--batch", "2"]  # 8 networks of depth 1


def test_only_failures_that_coincide_exactly_with_a_narrowing_are_explained(
        tmp_path, capsys, monkeypatch):
    def run(name, wrong):
        user_module(tmp_path, monkeypatch, name, WRONG_WHERE.format(wrong))
        assert main([*SWEEP, "--impl", f"{name}:backprop"]) == 1
        return capsys.readouterr().out

    out = run("notquadratic", "net.cost != 'quadratic'")
    assert ("Every network with a softmax layer, or with a cross_entropy or "
            "categorical_cross_entropy cost, fails; every quadratic network passes (6 of 8)"
            ) in _said(out)
    assert _commands(out)[0] == ("backprop-check --sizes 2,2 --batch 2 --impl "
                                 "notquadratic:backprop --cost quadratic")
    # One network of the 8 fails: no narrowing chooses the other 7. Every one fails:
    # nothing to narrow to. Both list each failing network with its diagnosis.
    for name, wrong, failing in [("onlytanh", "net.activations == ('tanh',)", 1),
                                 ("everywhere", "True", 8)]:
        out = run(name, wrong)
        assert "Check just them" not in out and not _commands(out)
        assert out.count(f"[{name}:backprop] Network(sizes=[2, 2]") == failing
        assert out.count("BP4 at layer 0: dW[0]") == failing


def test_the_narrowing_command_is_the_options_as_given_plus_the_narrowing():
    settings = parse(build_parser(), ["--sizes", "3,4,2", "--batch", "2", "--seed", "7",
                                      "--impl", "my dir/net.py:backprop"])
    assert command(settings, cost="quadratic") == (
        "backprop-check --sizes 3,4,2 --batch 2 --seed 7 --impl 'my dir/net.py:backprop' "
        "--cost quadratic")
    # A changed option stays in its place; one set to its default is left out.
    assert command(settings, sizes="3,2", seed=0) == (
        "backprop-check --sizes 3,2 --batch 2 --impl 'my dir/net.py:backprop'")
    assert command(parse(build_parser(), ["--json"])) == "backprop-check --json"


RELU_ONLY = """
import numpy as np
from backprop import Gradients

def backprop(net, X, Y):
    zs, acts = [], [X]
    for W, b in zip(net.weights, net.biases):
        zs.append(W @ acts[-1] + b)
        acts.append(np.maximum(zs[-1], 0))
    delta = [(acts[-1] - Y) * (zs[-1] > 0)]                  # quadratic cost, relu output
    for l in range(len(zs) - 2, -1, -1):
        delta.insert(0, (net.weights[l + 1].T @ delta[0]) * (zs[l] > 0))
    m = X.shape[1]
    return Gradients(delta, [d @ a.T / m for d, a in zip(delta, acts)],
                     [d.mean(axis=1, keepdims=True) for d in delta])
"""


def test_a_network_passing_by_chance_outside_the_narrowing_is_named_not_a_reason_to_give_up(
        tmp_path, capsys, monkeypatch):
    # Relu-only code: the sweep's one relu-only network passes, and so does the depth-1
    # identity network, whose z happen to be positive on its batch.
    user_module(tmp_path, monkeypatch, "reluonly", RELU_ONLY)
    assert main(["--impl", "reluonly:backprop"]) == 1
    out = capsys.readouterr().out
    assert ("every relu network passes (1 of 56), and 1 other (--sizes 3,2 --activations "
            "identity --cost quadratic): your code may handle only those") in _said(out), out
    narrowed = _commands(out)[0]
    assert narrowed == "backprop-check --impl reluonly:backprop --activations relu"
    assert main(narrowed.split()[1:]) == 0, capsys.readouterr().out

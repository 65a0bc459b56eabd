"""The user's code (checks.cli.load): --impl MODULE:FUNCTION imported from the current
directory; a crash in it exits 3 showing the user's file and line, a malformed result exits
2 without the usage banner; code shaped unlike ours (Nielsen's) is checked like ours."""

import json
import textwrap

import pytest

from backprop import Network
from checks.cli import main
from checks.cli.sweep import SWEEP_SIZES
from tests.cli.common import ONE_NETWORK, user_module


def test_cli_user_backprop_with_a_malformed_result_exits_2_without_the_usage_banner(
        tmp_path, monkeypatch, capsys):
    (tmp_path / "issue6_junk_backprop.py").write_text("def backprop(net, X, Y):\n    return None\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main([*ONE_NETWORK, "--impl", "issue6_junk_backprop:backprop"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("backprop-check: error: --impl issue6_junk_backprop:backprop: ")
    assert "must return Gradients(delta, dW, db)" in err and "got NoneType" in err, err
    assert "usage:" not in err


# A user's file, so written as a user writes it: the catalogue's "BP2 with W for W^T"
# (backprop.slips), which on this network's non-square W[1] crashes in the matmul.
WRONG_TRANSPOSE = """
    import numpy as np
    from backprop import Gradients

    def backprop(net, X, Y):
        a, z = [X], []
        for W, b in zip(net.weights, net.biases):
            z.append(W @ a[-1] + b)
            a.append(np.tanh(z[-1]))
        L, m = net.L, X.shape[1]
        delta = [None] * L
        delta[L - 1] = (a[L] - Y) * (1 - a[L] ** 2)
        for l in range(L - 2, -1, -1):
            delta[l] = (net.weights[l + 1] @ delta[l + 1]) * (1 - a[l + 1] ** 2)  # W, not W^T
        dW = [delta[l] @ a[l].T / m for l in range(L)]
        db = [delta[l].mean(axis=1, keepdims=True) for l in range(L)]
        return Gradients(delta, dW, db)
"""


def test_a_crash_in_the_user_backprop_exits_3_showing_the_users_file_and_line(
        tmp_path, monkeypatch, capsys):
    path = user_module(tmp_path, monkeypatch, "wrong_transpose", WRONG_TRANSPOSE)
    line = next(k for k, text in enumerate(path.read_text().splitlines(), 1) if "W, not" in text)
    assert main([*ONE_NETWORK, "--impl", "wrong_transpose:backprop"]) == 3
    captured = capsys.readouterr()
    err = captured.err
    assert captured.out == "" and "usage:" not in err
    assert err.startswith("backprop-check: --impl wrong_transpose:backprop raised ValueError "
                          "while checking Network(sizes=[3, 4, 2]")
    assert f'wrong_transpose.py", line {line}, in backprop' in err
    assert "net.weights[l + 1] @ delta[l + 1]" in err
    assert err.rstrip().splitlines()[-1].startswith("ValueError: matmul: ")
    # The frames of backprop-check itself (cli.py, network.py) are left out.
    assert "checks" + "/" not in err.replace("checks.", "") and "cli.py" not in err


PER_EXAMPLE = """
    from checks import per_example

    def crashing(net, x, y):
        return {}["db"]

    def backprop_returning_a_list(net, x, y):
        return [1, 2, 3]

    def misusing_the_library(net, X, Y):
        from backprop import vectorized
        return vectorized.backprop(net, X[:1], Y)

    crash = per_example(crashing)
    malformed = per_example(backprop_returning_a_list)
"""


def test_a_crash_inside_per_example_exits_3_and_its_malformed_result_exits_2(
        tmp_path, monkeypatch, capsys):
    user_module(tmp_path, monkeypatch, "per_example_cases", PER_EXAMPLE)
    assert main([*ONE_NETWORK, "--impl", "per_example_cases:crash"]) == 3
    err = capsys.readouterr().err
    assert 'per_example_cases.py", line 5, in crashing' in err and "KeyError: 'db'" in err
    with pytest.raises(SystemExit) as info:
        main([*ONE_NETWORK, "--impl", "per_example_cases:malformed"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "backprop_returning_a_list must return (nabla_b, nabla_w)" in err
    assert "Traceback" not in err and "usage:" not in err


def test_the_library_raising_under_the_users_call_is_a_crash_shown_at_the_users_line(
        tmp_path, monkeypatch, capsys):
    user_module(tmp_path, monkeypatch, "per_example_cases", PER_EXAMPLE)
    assert main([*ONE_NETWORK, "--impl", "per_example_cases:misusing_the_library"]) == 3
    err = capsys.readouterr().err
    assert 'per_example_cases.py", line 12, in misusing_the_library' in err
    assert "ValueError: X has 1 rows, but the network's input layer has 3 neurons" in err
    assert "validate.py" not in err  # backprop's own frames are left out


NIELSEN = """
    import numpy as np
    from backprop import Gradients

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    def backprop(net, X, Y):
        # Nielsen's: sigmoid in every layer, whatever net.activations says.
        a, z = [X], []
        for W, b in zip(net.weights, net.biases):
            z.append(W @ a[-1] + b)
            a.append(sigmoid(z[-1]))
        L, m = net.L, X.shape[1]
        sigma_prime = [sigmoid(z_l) * (1 - sigmoid(z_l)) for z_l in z]
        delta = [None] * L
        delta[L - 1] = net.cost_fn.dC_da(a[L], Y) * sigma_prime[L - 1]
        for l in range(L - 2, -1, -1):
            delta[l] = (net.weights[l + 1].T @ delta[l + 1]) * sigma_prime[l]
        dW = [delta[l] @ a[l].T / m for l in range(L)]
        db = [delta[l].mean(axis=1, keepdims=True) for l in range(L)]
        return Gradients(delta, dW, db)
"""


def test_a_sigmoid_only_backprop_passes_the_sigmoid_sweep_over_sizes_and_depths(
        tmp_path, monkeypatch, capsys):
    (tmp_path / "nielsen.py").write_text(textwrap.dedent(NIELSEN))
    monkeypatch.chdir(tmp_path)
    assert main(["--activations", "sigmoid", "--impl", "nielsen:backprop", "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)["reports"]
    assert [r["network"] for r in reports] == [
        repr(Network.random(list(s), "sigmoid", c))
        for c in ("quadratic", "cross_entropy") for s in SWEEP_SIZES]
    assert main(["--sizes", "4,6,5,3", "--activations", "sigmoid", "--impl",
                 "nielsen:backprop"]) == 0
    # ...and the same code is caught where its sigmoid is wrong.
    assert main([*ONE_NETWORK, "--impl", "nielsen:backprop"]) == 1


@pytest.mark.parametrize(("spec", "fragment"), [
    ("mybackprop", "--impl 'mybackprop': expected vectorized, loop, both or MODULE:FUNCTION"),
    ("json:no_such_function", "--impl 'json:no_such_function': json has no function "
     "'no_such_function'"),
])
def test_an_impl_that_names_no_function_exits_2_before_checking(spec, fragment, capsys):
    with pytest.raises(SystemExit) as info:
        main(["--impl", spec])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert fragment in captured.err and "usage: backprop-check" in captured.err
    assert captured.out == ""

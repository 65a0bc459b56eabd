"""The user's code (checks.cli.load): --impl MODULE:FUNCTION imported from the current
directory, or PATH:FUNCTION loaded from a file; whatever fails in it (import, SyntaxError,
sys.exit, an exception, a malformed result) exits 3 showing the user's file and line; its
stdout goes to stderr; a file an installed package shadows is named with the fix; code
shaped unlike ours (Nielsen's) is checked like ours."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from backprop import Network
from checks.cli import main
from checks.cli.sweep import SWEEP_SIZES
from tests.cli.common import ONE_NETWORK, TINY, user_module


def test_cli_user_backprop_with_a_malformed_result_exits_3_naming_the_functions_file(
        tmp_path, monkeypatch, capsys):
    path = tmp_path / "issue6_junk_backprop.py"
    path.write_text("def backprop(net, X, Y):\n    return None\n")
    monkeypatch.chdir(tmp_path)
    assert main([*ONE_NETWORK, "--impl", "issue6_junk_backprop:backprop"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("backprop-check: --impl issue6_junk_backprop:backprop: ")
    assert "must return Gradients(delta, dW, db)" in err and "got NoneType" in err, err
    assert f"(the function is defined at {path}, line 1)" in err, err
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


def test_a_crash_inside_per_example_and_its_malformed_result_both_exit_3(
        tmp_path, monkeypatch, capsys):
    user_module(tmp_path, monkeypatch, "per_example_cases", PER_EXAMPLE)
    assert main([*ONE_NETWORK, "--impl", "per_example_cases:crash"]) == 3
    err = capsys.readouterr().err
    assert 'per_example_cases.py", line 5, in crashing' in err and "KeyError: 'db'" in err
    assert main([*ONE_NETWORK, "--impl", "per_example_cases:malformed"]) == 3
    err = capsys.readouterr().err
    assert "backprop_returning_a_list must return (nabla_b, nabla_w)" in err
    assert "Traceback" not in err and "usage:" not in err


def test_the_library_raising_under_the_users_call_is_a_crash_shown_at_the_users_line(
        tmp_path, monkeypatch, capsys):
    user_module(tmp_path, monkeypatch, "per_example_cases", PER_EXAMPLE)
    assert main([*ONE_NETWORK, "--impl", "per_example_cases:misusing_the_library"]) == 3
    err = capsys.readouterr().err
    assert 'per_example_cases.py", line 12, in misusing_the_library' in err
    assert "ValueError: X has 1 row, but the network's input layer has 3 neurons" in err
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
    ("mybackprop", "--impl 'mybackprop': expected vectorized, loop, both, MODULE:FUNCTION or "
     "PATH/TO/FILE.py:FUNCTION"),
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


@pytest.mark.parametrize(("source", "line", "raised"), [
    ("def backprop(net, X, Y:\n    pass\n", 1, "raised SyntaxError"),
    ("import numpy\nraise RuntimeError('no data file')\n", 2, "raised RuntimeError"),
    # An import inside the user's module failed: the user's code, not a missing --impl.
    ("\nimport no_such_package_of_the_user\n", 2, "raised ModuleNotFoundError"),
    ("import sys\nsys.exit(0)\n", 2, "exited with sys.exit(0)"),
])
def test_user_code_that_fails_at_import_exits_3_naming_its_file_and_line(
        source, line, raised, tmp_path, monkeypatch, capsys):
    path = user_module(tmp_path, monkeypatch, "failing_import", source)
    assert main([*TINY, "--impl", "failing_import:backprop"]) == 3
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert lines[0] == (f"backprop-check: --impl failing_import:backprop {raised} "
                        "while being imported")
    assert lines[1].startswith(f"  at {path}, line {line}"), captured.err
    assert f'File "{path}", line {line}' in captured.err
    # Neither backprop-check's frames nor the import machinery's are shown.
    assert "importlib" not in captured.err and "load.py" not in captured.err, captured.err
    assert captured.out == "" and "usage:" not in captured.err


def test_sys_exit_0_in_the_user_function_exits_3_not_0(tmp_path, monkeypatch, capsys):
    path = user_module(tmp_path, monkeypatch, "exits", """
        import sys

        def backprop(net, X, Y):
            sys.exit(0)
    """)
    assert main([*TINY, "--impl", "exits:backprop"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("backprop-check: --impl exits:backprop exited with sys.exit(0) while "
                          "checking Network(sizes=[2, 1]")
    assert f"  at {path}, line 5, in backprop\n" in err and err.endswith("SystemExit: 0\n")


def test_os_exit_0_in_the_user_function_exits_3_and_json_says_so(tmp_path):
    """os._exit(0) would end the process with 0, nothing checked; with --json, stdout is the
    failure as a JSON object (was: exit 0, stdout empty)."""
    (tmp_path / "quits.py").write_text(textwrap.dedent("""
        import os

        def backprop(net, X, Y):
            os._exit(0)
    """))
    result = subprocess.run([sys.executable, "-m", "checks", *TINY, "--impl", "quits:backprop",
                             "--json"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 3, result.stderr
    where = f"{tmp_path / 'quits.py'}, line 5, in backprop"
    assert result.stderr.startswith("backprop-check: --impl quits:backprop called os._exit(0) "
                                    "while checking Network(sizes=[2, 1]"), result.stderr
    assert f"  at {where}\n" in result.stderr
    error = json.loads(result.stdout)["error"]
    assert error.startswith("--impl quits:backprop called os._exit(0) while checking Network(")
    assert error.endswith(f", at {where}")


def test_json_when_the_user_code_fails_at_import_is_the_failure_in_one_line(
        tmp_path, monkeypatch, capsys):
    path = user_module(tmp_path, monkeypatch, "raises", """
        import os

        raise ValueError("no\\nway")
    """)
    real_exit = os._exit
    assert main([*TINY, "--impl", "raises:backprop", "--json"]) == 3
    assert json.loads(capsys.readouterr().out) == {
        "schema": 2, "ok": False, "status": 3,
        "error": "--impl raises:backprop raised ValueError while being imported, "
                 f"at {path}, line 4, in <module>: no way"}
    assert os._exit is real_exit  # put back after the user's code ran

SLIPPED_BACKPROP = """
    from backprop import Gradients, vectorized

    def backprop(net, X, Y):
        g = vectorized.backprop(net, X, Y)
        return Gradients(g.delta, [2 * w for w in g.dW], g.db)  # BP4 slip
"""


def test_impl_takes_a_file_path_relative_absolute_or_with_a_colon(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "path", [*sys.path])
    folder = tmp_path / "v1:2" / "src"  # a ':' before the last one: the split is at the last
    folder.mkdir(parents=True)
    (folder / "path_form_slip.py").write_text(textwrap.dedent("""
        from path_form_sibling import backprop  # the file's own folder is on sys.path
    """))
    (folder / "path_form_sibling.py").write_text(textwrap.dedent(SLIPPED_BACKPROP))
    monkeypatch.chdir(tmp_path)
    for path in ("v1:2/src/path_form_slip.py", folder / "path_form_slip.py"):
        assert main([*TINY, "--impl", f"{path}:backprop"]) == 1  # the slip is caught
        assert "BP4 dW[0]" in capsys.readouterr().out
    monkeypatch.chdir(folder)
    assert main([*TINY, "--impl", "./path_form_slip.py:backprop"]) == 1
    with pytest.raises(SystemExit) as info:
        main([*TINY, "--impl", "path_form_slip.py:no_such_function"])
    assert info.value.code == 2
    assert "path_form_slip.py has no function 'no_such_function'" in capsys.readouterr().err


@pytest.mark.parametrize(("spec", "yours"), [
    ("backprop:backprop", "your file backprop.py"),
    # The worst case: this would check backprop-check's own code, verified, exit 0.
    ("backprop.vectorized:backprop", "your file backprop.py"),
    ("checks:check", "your folder checks" + os.sep),
])
def test_a_user_file_shadowed_by_an_installed_package_exits_2_saying_how_to_fix_it(
        spec, yours, tmp_path, monkeypatch, capsys):
    (tmp_path / "backprop.py").write_text(textwrap.dedent(SLIPPED_BACKPROP))
    (tmp_path / "checks").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main([*TINY, "--impl", spec])
    assert info.value.code == 2
    err = capsys.readouterr().err
    package = spec.partition(".")[0].partition(":")[0]
    assert (f"--impl {spec!r}: {yours} in the current directory is shadowed by the installed "
            f"package {package!r}") in err, err
    assert "rename it (e.g. my" in err
    if yours.endswith(".py"):
        assert "or pass it as a path: --impl ./backprop.py:" in err
        # ...and the path form does check the user's file: its slip is caught.
        assert main([*TINY, "--impl", "./backprop.py:backprop"]) == 1


def test_user_code_output_goes_to_stderr_leaving_stdout_to_the_json(tmp_path):
    """Run as a user runs it: the user's prints at import and in the call, to sys.stdout,
    sys.__stdout__, fd 1 and C's stdout, all reach stderr, and --json's stdout parses."""
    (tmp_path / "noisy.py").write_text(textwrap.dedent("""
        import ctypes, os, sys
        from backprop import vectorized

        print("noisy: at import")

        def backprop(net, X, Y):
            print("noisy: print")
            print("noisy: sys.__stdout__", file=sys.__stdout__)
            os.write(1, b"noisy: fd 1\\n")
            if sys.platform.startswith("linux"):
                ctypes.CDLL(None).printf(b"noisy: printf\\n")
            return vectorized.backprop(net, X, Y)
    """))
    result = subprocess.run([sys.executable, "-m", "checks", *TINY, "--impl", "noisy:backprop",
                             "--json"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True
    printed = [line for line in result.stderr.splitlines() if line.startswith("noisy: ")]
    expected = ["at import", "print", "sys.__stdout__", "fd 1"]
    if sys.platform.startswith("linux"):
        expected.append("printf")
    assert printed == [f"noisy: {what}" for what in expected], result.stderr


def test_a_file_path_impl_with_a_syntax_error_exits_3_naming_the_file_and_line(tmp_path):
    """End to end, from a scratch directory: sub/dir/mine.py:backprop, a SyntaxError."""
    (tmp_path / "sub" / "dir").mkdir(parents=True)
    (tmp_path / "sub" / "dir" / "mine.py").write_text("import numpy\n\ndef backprop(net, X, Y:\n")
    result = subprocess.run([sys.executable, "-m", "checks", *TINY, "--impl",
                             "sub/dir/mine.py:backprop"],
                            cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 3, result.stderr
    path = (tmp_path / "sub" / "dir" / "mine.py").resolve()
    assert result.stderr.startswith(
        "backprop-check: --impl sub/dir/mine.py:backprop raised SyntaxError while being imported\n"
        f"  at {path}, line 3\n"), result.stderr
    assert "SyntaxError: '(' was never closed" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


# A user's file: Nielsen's per-example backprop given as --impl directly, and a batch
# backprop that rebinds a weight matrix of the network it receives.
NIELSEN_AND_REBINDING = """
    import numpy as np
    from backprop import vectorized

    def backprop(net, x, y):
        return [np.zeros(b.shape) for b in net.biases], [np.zeros(w.shape) for w in net.weights]

    def rebinding(net, X, Y):
        net.weights[0] = net.weights[0] * 2
        return vectorized.backprop(net, X, Y)
"""


def test_nielsen_code_given_directly_and_a_rebound_weight_exit_3_saying_what_to_do(
        tmp_path, monkeypatch, capsys):
    user_module(tmp_path, monkeypatch, "nielsen_cases", NIELSEN_AND_REBINDING)
    assert main([*TINY, "--impl", "nielsen_cases.py:backprop"]) == 3
    err = capsys.readouterr().err
    assert "must return Gradients(delta, dW, db), got tuple" in err, err
    assert ("a (nabla_b, nabla_w) of one example, as in Nielsen's book? wrap it: batch = "
            "per_example(backprop) (docs/code-shapes.md)") in err, err
    assert main([*TINY, "--impl", "nielsen_cases:rebinding"]) == 3
    err = capsys.readouterr().err
    assert "rebinding replaced net.weights[0]: a backprop must not change the network" in err
    assert "Traceback" not in err and "MISMATCH" not in err, err


def test_a_second_run_in_the_same_process_checks_the_file_of_its_own_folder(
        tmp_path, monkeypatch, capsys):
    # Two folders, each with its own mine.py: the first right, the second with a slip.
    # The second run must import its own file, not reuse the first from sys.modules.
    good, bad = tmp_path / "good", tmp_path / "bad"
    for folder, factor in ((good, 1), (bad, 2)):
        folder.mkdir()
        (folder / "mine.py").write_text(
            "from backprop import vectorized\n\ndef backprop(net, X, Y):\n"
            "    g = vectorized.backprop(net, X, Y)\n"
            f"    return {{'delta': g.delta, 'dW': [{factor} * w for w in g.dW], 'db': g.db}}\n")
    monkeypatch.delitem(sys.modules, "mine", raising=False)
    monkeypatch.chdir(good)
    assert main([*TINY, "--impl", "mine:backprop"]) == 0, capsys.readouterr()
    monkeypatch.chdir(bad)
    assert main([*TINY, "--impl", "mine:backprop"]) == 1, capsys.readouterr()
    sys.modules.pop("mine", None)

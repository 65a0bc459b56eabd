"""backprop-check as a whole (checks.cli.app.main): the main job and its exit status, the
same command as `python -m checks`, a report per network when one is checked, the table
otherwise. A test of one job of the app goes in that job's file (test_parse, test_load,
test_run, test_render, test_sweep, test_progress); what a bad option's message says is
tested in test_parse.py, while the same bad value passed to the Python API belongs in
tests/test_validation.py.
"""

import json
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from checks.cli import app, main, render
from tests.cli.common import ONE_NETWORK, TINY, user_module


def test_main_job_verifies_every_equation_and_exits_0(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for equation in ("BP1", "BP2", "BP3", "BP4", "BP1 (cost with a − y)",
                     "a − y = general BP1 (identity check)"):
        assert equation in out
    assert "MISMATCH" not in out and "verified" in out
    # The table says what each count counts.
    lines = out.splitlines()
    assert lines[0] == ("backprop-check: 56 networks x 2 implementations (vectorized, loop), "
                        "batch 4, float64, seed 0")
    assert lines[2].split()[:3] == ["equation", "arrays", "method"]
    rows = {line[:36].strip(): line[36:].split() for line in lines[3:9]}
    # arrays: network x implementation x layer for BP2-BP4 (BP2: hidden layers only),
    # the output layer's delta for BP1, one per network (no implementation) for the identity.
    assert {name: int(row[0]) for name, row in rows.items()} == {
        "BP1": 60, "BP1 (cost with a − y)": 52, "a − y = general BP1 (identity check)": 26,
        "BP2": 144, "BP3": 256, "BP4": 256}
    assert rows["a − y = general BP1 (identity check)"][1] == "exact"
    assert lines[9] == render.LEGEND  # under the table, once


def test_python_dash_m_checks_runs_the_same_command():
    result = subprocess.run([sys.executable, "-m", "checks", "--sizes", "2,3,1", "--impl",
                             "vectorized"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "BP4" in result.stdout


def test_a_planted_bug_in_a_user_backprop_exits_1_and_names_the_equation(tmp_path, capsys,
                                                                         monkeypatch):
    (tmp_path / "mybackprop.py").write_text(textwrap.dedent("""
        from backprop import Gradients, vectorized

        def backprop(net, X, Y):
            g = vectorized.backprop(net, X, Y)
            return Gradients(g.delta, [2 * w for w in g.dW], g.db)  # BP4 slip
    """))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "mybackprop", raising=False)  # another test's file
    assert main([*ONE_NETWORK, "--impl", "mybackprop:backprop"]) == 1
    out = capsys.readouterr().out
    assert "BP4 dW[1][j=" in out and "FAILED" in out
    assert "BP4 at layer 1: dW[1] != your delta[1] @ a[1].T / m" in out
    assert "every element is 2" in out
    # Each mismatched element is printed once: the report lists it, the summary does not.
    listed = re.findall(r"BP4 dW\[\d\]\[j=\d, i=\d\]", out)
    assert listed and len(listed) == len(set(listed)), out


def test_a_sweep_prints_the_table_and_one_network_its_report(capsys):
    assert main(["--activations", "sigmoid", "--cost", "cross_entropy", "--impl", "loop"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("backprop-check: 3 networks x 1 implementation (loop)")
    assert "check_network(" not in out
    assert main([*ONE_NETWORK, "--impl", "loop"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("check_network(loop.backprop) Network(sizes=[3, 4, 2], "
                          "activations=['tanh', 'tanh'], cost='quadratic'")
    assert "backprop-check: 1 network x 1 implementation (loop)" in out


@pytest.mark.parametrize("value", ["np.nan", "np.inf"])
def test_non_finite_gradients_of_the_user_exit_1_a_mismatch_not_a_crash(
        value, tmp_path, monkeypatch, capsys):
    user_module(tmp_path, monkeypatch, "non_finite", f"""
        import numpy as np
        from backprop import vectorized

        def backprop(net, X, Y):
            g = vectorized.backprop(net, X, Y)
            g.dW[0][0, 0] = {value}
            return g
    """)
    assert main([*TINY, "--impl", "non_finite:backprop"]) == 1
    captured = capsys.readouterr()
    assert "BP4 dW[0][j=0, i=0]" in captured.out and "FAILED" in captured.out
    assert "Traceback" not in captured.err


def test_an_internal_error_exits_4_saying_it_is_a_bug_of_backprop_check(monkeypatch, capsys):
    def broken_run(*args, **kwargs):
        raise RuntimeError("a planted bug in backprop-check")

    monkeypatch.setattr(app, "run", broken_run)
    assert main([*TINY, "--impl", "vectorized"]) == 4
    captured = capsys.readouterr()
    assert captured.err.startswith("backprop-check: internal error: this is a bug in "
                                   "backprop-check, not in your code")
    assert "Traceback (most recent call last)" in captured.err
    assert captured.err.endswith("RuntimeError: a planted bug in backprop-check\n")
    assert captured.out == ""


def test_ctrl_c_exits_130_quietly(tmp_path, monkeypatch, capsys):
    user_module(tmp_path, monkeypatch, "interrupted", """
        def backprop(net, X, Y):
            raise KeyboardInterrupt
    """)
    assert main([*TINY, "--impl", "interrupted:backprop"]) == 130
    assert "Traceback" not in capsys.readouterr().err


def test_a_reader_that_stops_early_leaves_no_traceback_and_the_verdict(tmp_path):
    """`backprop-check | head -1` as a user runs it: stdout's reader is gone before the output
    is written (head exits after its line): no BrokenPipeError, the exit status is the verdict."""
    with subprocess.Popen([sys.executable, "-m", "checks", *TINY, "--impl", "both"],
                          cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        err = process.stderr.read().decode()
        assert process.wait() == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception" not in err, err


@pytest.mark.parametrize(("last_line", "status", "stdout"), [
    ("", 0, "verified"),
    # The failure text, written to stderr after its reader has gone, is dropped too.
    ("raise ValueError('at import')", 3, ""),
])
def test_prints_after_stderrs_reader_has_gone_are_dropped_and_the_verdict_stays(
        last_line, status, stdout, tmp_path):
    """`backprop-check --impl prt.py:backprop 2>&1 >o.txt | head -1`: the user's print()s go to
    stderr, whose reader goes after one line. Dropped, they neither fail the user's code nor
    backprop-check: the exit status is the verdict, the table in o.txt (was: exit 1, o.txt
    empty)."""
    (tmp_path / "prt.py").write_text(textwrap.dedent("""
        from backprop import vectorized

        print("prt: at import")
        print("prt: more than a pipe holds " + "x" * 200_000)  # blocks until the reader goes

        def backprop(net, X, Y):
            print("prt: in the function")
            return vectorized.backprop(net, X, Y)
    """) + last_line + "\n")
    with (tmp_path / "o.txt").open("w") as out, subprocess.Popen(
            [sys.executable, "-m", "checks", *TINY, "--impl", "prt.py:backprop"],
            cwd=tmp_path, stdout=out, stderr=subprocess.PIPE) as process:
        assert process.stderr is not None
        assert process.stderr.readline() == b"prt: at import\n"
        process.stderr.close()
        assert process.wait() == status
    printed = (tmp_path / "o.txt").read_text()
    assert stdout in printed if stdout else printed == "", printed


def test_stdout_closed_at_start_is_nothing_to_print_to_and_the_verdict_stays(tmp_path):
    """`backprop-check >&-`: exit 0 (was 4, an AttributeError on sys.stdout, None)."""
    command = shlex.join([sys.executable, "-m", "checks", *TINY, "--impl", "vectorized"])
    result = subprocess.run(f"{command} >&-", shell=True, cwd=tmp_path, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_json_with_an_internal_error_prints_the_error_as_json(monkeypatch, capsys):
    def broken_run(*args, **kwargs):
        raise RuntimeError("a planted\nbug")

    monkeypatch.setattr(app, "run", broken_run)
    assert main([*TINY, "--json"]) == 4
    data = json.loads(capsys.readouterr().out, parse_constant=reject)
    assert data == {"schema": 2, "ok": False, "status": 4, "error": (
        f"internal error of backprop-check: RuntimeError, at {__file__}, line "
        f"{broken_run.__code__.co_firstlineno + 1}: a planted bug")}


def reject(token):
    raise ValueError(f"not strict JSON: {token}")

CS231N = """
    import numpy as np
    from backprop import Gradients

    def backprop(net, X, y):
        '''CS231n's shape: integer labels y, dscores already divided by N.'''
        assert y.shape == (X.shape[1],) and y.dtype.kind == "i"
        a = [X]
        for l, (W, b) in enumerate(zip(net.weights, net.biases)):
            z = W @ a[-1] + b
            a.append(np.tanh(z) if l < net.L - 1 else np.exp(z) / np.exp(z).sum(axis=0))
        N = X.shape[1]
        dscores = a[-1].copy()
        dscores[y, np.arange(N)] -= 1
        dscores /= N
        delta = [dscores]
        for l in range(net.L - 2, -1, -1):
            delta.insert(0, (net.weights[l + 1].T @ delta[0]) * (1 - a[l + 1] ** 2))
        return Gradients(delta, [d @ a[l].T for l, d in enumerate(delta)],
                         [d.sum(axis=1, keepdims=True) for d in delta])
"""


def test_a_cs231n_style_backprop_verifies_with_labels_and_delta_mean(tmp_path, capsys,
                                                                     monkeypatch):
    """Run as a user runs it (a scratch directory, the installed command); without
    --delta mean, the report says that option is what the code needs."""
    (tmp_path / "cs231n.py").write_text(textwrap.dedent(CS231N))
    argv = ["--sizes", "3,4,3", "--activations", "tanh", "--labels", "--batch", "3",
            "--impl", "cs231n:backprop"]
    command = str(Path(sys.executable).with_name("backprop-check"))
    result = subprocess.run([command, *argv, "--delta", "mean"], cwd=tmp_path,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(delta of the mean cost): OK" in result.stdout
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "cs231n", raising=False)  # another run's, in-process
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "check it with delta='mean' (backprop-check --delta mean)" in out, out
    assert "BP3 at layer" not in out and "BP4 at layer" not in out, out  # dW, db right

"""backprop-check, the command line: the main job, its exit codes (0 verified, 1 a mismatch,
2 a usage error or a malformed result, 3 a crash in the code checked), which networks each
combination of --sizes, --activations and --cost checks (checks.sweep.configs), its JSON,
--directions, --plot and progress. A new test goes here if it runs main() or the command; what
a bad option's message says is tested here too, while the same bad value passed to the Python
API belongs in test_validation.py.
"""

import hashlib
import io
import json
import re
import subprocess
import sys
import textwrap
import types

import pytest

from backprop import COSTS, HIDDEN, Network
from checks.cli import main, render
from checks.cli import progress as progress_module
from checks.cli.progress import Progress
from checks.cli.sweep import SWEEP_SIZES, configs

# All three choices given: exactly one network, reported in full.
ONE_NETWORK = ["--sizes", "3,4,2", "--activations", "tanh", "--cost", "quadratic"]


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


def test_the_a_minus_y_rows_and_their_legend_appear_only_for_costs_that_have_it(capsys):
    assert main(["--cost", "quadratic", "--activations", "tanh", "--impl", "loop"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("backprop-check: 3 networks x 1 implementation (loop), ")
    assert "a − y" not in out and render.LEGEND not in out
    assert main(["--cost", "cross_entropy", "--sizes", "3,2", "--impl", "loop"]) == 0
    out = capsys.readouterr().out
    assert "\nbackprop-check: 1 network x 1 implementation (loop), " in out
    table = out[out.index("\nbackprop-check: "):]
    assert "\nBP1 (cost with a − y) " in table
    assert re.search(r"^BP1 +\d", table, flags=re.MULTILINE) is None  # no plain BP1 row
    assert out.count(render.LEGEND) == 1


def test_json_output_has_ok_settings_and_equations(capsys):
    assert main(["--sizes", "3,4,2", "--activations", "tanh", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True
    assert data["settings"]["sizes"] == "3,4,2"
    assert set(data["equations"]) == {"BP1", "BP2", "BP3", "BP4"}
    # "networks" is the former name of "arrays": kept, with the same value.
    assert all(row["arrays"] == row["networks"] > 0 for row in data["equations"].values())
    assert data["reports"][0]["blocks"][0]["checked"] > 0


def test_a_planted_bug_in_a_user_backprop_exits_1_and_names_the_equation(tmp_path, capsys,
                                                                         monkeypatch):
    (tmp_path / "mybackprop.py").write_text(textwrap.dedent("""
        from backprop import Gradients, vectorized

        def backprop(net, X, Y):
            g = vectorized.backprop(net, X, Y)
            return Gradients(g.delta, [2 * w for w in g.dW], g.db)  # BP4 slip
    """))
    monkeypatch.chdir(tmp_path)
    assert main([*ONE_NETWORK, "--impl", "mybackprop:backprop"]) == 1
    out = capsys.readouterr().out
    assert "BP4 dW[1][j=" in out and "FAILED" in out
    assert "BP4 at layer 1: dW[1] != your delta[1] @ a[1].T / m" in out
    assert "every element is 2" in out
    # Each mismatched element is printed once: the report lists it, the summary does not.
    listed = re.findall(r"BP4 dW\[\d\]\[j=\d, i=\d\]", out)
    assert listed and len(listed) == len(set(listed)), out


@pytest.mark.parametrize("argv", [["--batch", "0"], ["--sizes", "3,x,2"], ["--cost", "nope"],
                                  ["--impl", "no_such_module:f"], ["--activations", "nope"]])
def test_bad_usage_exits_2_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage: backprop-check" in capsys.readouterr().err


def test_python_dash_m_checks_runs_the_same_command():
    result = subprocess.run([sys.executable, "-m", "checks", "--sizes", "2,3,1", "--impl",
                             "vectorized"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "BP4" in result.stdout


def _plant_bp4_slip(tmp_path, monkeypatch):
    (tmp_path / "mybackprop.py").write_text(textwrap.dedent("""
        from backprop import Gradients, vectorized

        def backprop(net, X, Y):
            g = vectorized.backprop(net, X, Y)
            return Gradients(g.delta, [2 * w for w in g.dW], g.db)  # BP4 slip
    """))
    monkeypatch.chdir(tmp_path)


ELEMENT_KEYS = {"where", "index", "analytic", "numeric", "error", "tolerance"}
BLOCK_KEYS = {"equation", "name", "layer", "method", "checked", "skipped", "worst_error",
              "tolerance_at_worst", "worst_error_over_tolerance", "mismatches",
              "skipped_elements"}
REPORT_KEYS = {"network", "impl", "ok", "title", "method", "method_reason", "checked",
               "skipped", "mismatched", "blocks", "diagnosis"}
EQUATION_KEYS = {"arrays", "networks", "checked", "skipped", "worst_error_over_tolerance",
                 "worst_error", "methods", "failures"}


def test_json_has_the_shape_documented_in_the_cli_docstring(tmp_path, capsys, monkeypatch):
    _plant_bp4_slip(tmp_path, monkeypatch)
    assert main([*ONE_NETWORK, "--impl", "mybackprop:backprop", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"ok", "settings", "equations", "reports"}
    assert data["ok"] is False
    assert set(data["settings"]) == {"sizes", "activations", "cost", "batch", "dtype", "seed",
                                     "method", "directions", "impl", "json", "plot"}
    assert all(set(row) == EQUATION_KEYS for row in data["equations"].values())
    assert len(data["equations"]["BP4"]["failures"]) == 3 * 4 + 4 * 2  # all of dW doubled
    (report,) = data["reports"]
    assert set(report) == REPORT_KEYS and report["impl"] == "mybackprop:backprop"
    assert all(set(block) == BLOCK_KEYS for block in report["blocks"])
    bp4 = next(b for b in report["blocks"] if b["name"] == "dW[1]")
    assert set(bp4["mismatches"][0]) == ELEMENT_KEYS
    assert bp4["mismatches"][0]["where"] == "BP4 dW[1][j=0, i=0]"


def test_plot_writes_a_heatmap_of_the_failing_network(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    _plant_bp4_slip(tmp_path, monkeypatch)
    assert main([*ONE_NETWORK, "--impl", "mybackprop:backprop", "--json",
                 "--plot", "heat.png"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["plot"] == {"path": "heat.png", "report": 0}
    assert (tmp_path / "heat.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_chooses_the_first_failure_else_the_deepest_network():
    assert render.plotted([True, True, False, False], [1, 3, 2, 3]) == 2
    assert render.plotted([True] * 4, [1, 3, 2, 3]) == 1


def test_plot_without_matplotlib_exits_2_saying_how_to_install_it(tmp_path, capsys,
                                                                  monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(SystemExit) as exc:
        main(["--sizes", "3,4,2", "--plot", str(tmp_path / "x.png")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--plot needs matplotlib, which is not installed: pip install matplotlib\n" in err


def test_plot_into_a_missing_directory_exits_2_before_checking(tmp_path, capsys):
    pytest.importorskip("matplotlib")  # without it, --plot exits 2 for that reason first
    with pytest.raises(SystemExit) as exc:
        main(["--plot", str(tmp_path / "no" / "x.png")])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert "does not exist" in captured.err and captured.out == ""


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_on_a_terminal_is_one_rewritten_line_on_stderr(monkeypatch, capsys):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main([*ONE_NETWORK, "--impl", "both", "--json"]) == 0
    json.loads(capsys.readouterr().out)  # stdout stays pure JSON
    err = terminal.getvalue()
    assert "\r[1/2] checking vectorized on [3, 4, 2] quadratic: 0/100 elements" in err
    assert "\r[2/2] checking loop on [3, 4, 2] quadratic: 50/100 elements, ~" in err
    assert "\n" not in err and err.endswith("\r")  # the line is wiped at the end


def test_progress_off_a_terminal_appears_only_after_progress_after_seconds(monkeypatch,
                                                                            capsys):
    assert main([*ONE_NETWORK, "--json"]) == 0
    assert capsys.readouterr().err == ""  # quick and not a terminal: silent
    monkeypatch.setattr(progress_module, "PROGRESS_AFTER", -1.0)
    assert main([*ONE_NETWORK, "--json"]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)
    first, *_, last = captured.err.splitlines()
    assert first == "[1/2] checking vectorized on [3, 4, 2] quadratic: 0/100 elements"
    assert re.fullmatch(r"\[2/2\] done in \d+\.\d s", last)


class _Clock:
    """A fake time.monotonic: `now` seconds, moved by `tick` at every reading."""

    def __init__(self, tick=0.0):
        self.now, self.tick = 0.0, tick

    def __call__(self):
        self.now += self.tick
        return self.now


def test_progress_estimates_the_time_left_from_the_elements_of_the_whole_run():
    clock, stream = _Clock(), io.StringIO()
    progress = Progress([100, 300], stream, clock=clock)
    clock.now = 2.0
    progress.within(1, "vectorized on [3, 4, 2] quadratic")(50, 100)
    # 50 of 400 elements in 2 s: 350 more take 14 s; 16 s in all is short, no suggestion.
    assert stream.getvalue() == ("[1/2] checking vectorized on [3, 4, 2] quadratic: "
                                 "50/400 elements, ~14 s left\n")
    progress.finished(1)
    clock.now = 3.0
    progress.within(2, "loop on [3, 4, 2] quadratic")(0, 200)  # its own total replaces 300
    assert stream.getvalue().splitlines()[-1] == ("[2/2] checking loop on [3, 4, 2] "
                                                  "quadratic: 100/300 elements, ~6 s left")


def test_a_long_run_suggests_directions_once():
    clock, stream = _Clock(), io.StringIO()
    progress = Progress([1000, 1000], stream, clock=clock)
    update = progress.within(1, "vectorized on [784, 100, 10] quadratic")
    for now, done in [(2.0, 10), (3.5, 20), (5.0, 30)]:
        clock.now = now
        update(done, 1000)
    lines = stream.getvalue().splitlines()
    assert lines == [
        "this will take ~400 s; --directions 4 checks each array along 4 random directions "
        "first and is much faster",
        "[1/2] checking vectorized on [784, 100, 10] quadratic: 10/2000 elements, ~398 s left",
        "[1/2] checking vectorized on [784, 100, 10] quadratic: 20/2000 elements, ~346 s left",
        "[1/2] checking vectorized on [784, 100, 10] quadratic: 30/2000 elements, ~328 s left"]


def test_no_suggestion_with_directions_given_or_before_a_second_of_measurement():
    clock, stream = _Clock(), io.StringIO()
    progress = Progress([1000], stream, suggest=False, clock=clock)
    clock.now = 2.0
    progress.within(1, "x")(10, 1000)
    assert "--directions" not in stream.getvalue() and "~198 s left" in stream.getvalue()
    clock, terminal = _Clock(), _Terminal()
    progress = Progress([1000], terminal, clock=clock)
    clock.now = 0.5  # on a terminal the estimate shows at once; it is not trusted yet
    progress.within(1, "x")(1, 1000)
    assert terminal.getvalue() == "\r[1/1] checking x: 1/1000 elements, ~500 s left"
    clock.now = 1.0
    progress.within(1, "x")(2, 1000)
    assert terminal.getvalue().count("this will take ~500 s; --directions 4") == 1
    # ...on a line of its own: the progress line is wiped first and written again after.
    first = "[1/1] checking x: 1/1000 elements, ~500 s left"
    assert "\r" + " " * len(first) + "\rthis will take" in terminal.getvalue()
    assert terminal.getvalue().endswith("faster\n\r[1/1] checking x: 2/1000 elements, "
                                        "~499 s left")


def test_the_cli_suggests_directions_when_its_run_is_estimated_long(monkeypatch, capsys):
    clock = _Clock(tick=5.0)  # every reading of the clock: 5 s later
    monkeypatch.setattr(progress_module, "time", types.SimpleNamespace(monotonic=clock))
    assert main([*ONE_NETWORK, "--json"]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)  # stdout stays pure JSON
    err = captured.err.splitlines()
    assert sum(line.startswith("this will take ~") for line in err) == 1
    assert err[0] == "[1/2] checking vectorized on [3, 4, 2] quadratic: 0/100 elements"
    assert re.fullmatch(r"\[1/2\] checking vectorized on \[3, 4, 2\] quadratic: "
                        r"\d+/100 elements, ~\d+ s left", err[2]), err
    assert re.fullmatch(r"\[2/2\] done in \d+\.\d s", err[-1])


def test_the_cli_does_not_suggest_directions_for_a_short_run(monkeypatch, capsys):
    monkeypatch.setattr(progress_module, "time", types.SimpleNamespace(monotonic=_Clock(tick=0.01)))
    terminal = _Terminal()  # every update is shown
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main([*ONE_NETWORK, "--json"]) == 0
    assert "elements, ~0 s left" in terminal.getvalue()
    assert "--directions" not in terminal.getvalue()


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--batch", "0"], "--batch must be >= 1, got 0"),
    (["--sizes", "3"], "--sizes: sizes needs an input and an output width"),
    (["--sizes", "3,0,2"], "sizes[1] = 0: every layer needs at least 1 neuron"),
    (["--sizes", "3,x,2"], "--sizes must be comma-separated integers"),
    (["--sizes", "3,4,2", "--activations", "tanh,tanh,tanh"],
     "--activations tanh,tanh,tanh has 3 names, but --sizes 3,4,2 has 2 layers"),
    (["--activations", "tanh,tanh,tanh,tanh"],
     "--activations tanh,tanh,tanh,tanh has 4 names, but the sweep's depths are 1-3"),
    (["--activations", "nope"], "--activations: unknown activation 'nope'"),
    (["--activations", "tanh,nope", "--cost", "quadratic"],
     "--activations: unknown activation 'nope'"),
    (["--sizes", "3,4,2", "--activations", "softmax,tanh"],
     "--activations softmax,tanh: activations[0] of [3, 4, 2] is 'softmax', which may only "
     "be the output layer"),
    (["--activations", "softmax"], "one name means every layer"),
    (["--sizes", "3,4,2", "--activations", "tanh,tanh", "--cost", "cross_entropy"],
     "--cost cross_entropy requires a 'sigmoid' output layer, but --activations tanh,tanh "
     "ends in 'tanh'"),
    (["--activations", ""], "--activations is empty"),
    (["--sizes", "3,2", "--seed", "-1"], "seed must be >= 0, got -1"),
    (["--dtype", "float16"], "invalid choice: 'float16'"),
    (["--method", "five-point"], "invalid choice: 'five-point'"),
    (["--impl", "no_such_module:backprop"], "cannot import 'no_such_module'"),
    (["--directions", "0"], "--directions must be >= 1, got 0"),
    (["--directions", "x"], "argument --directions: invalid int value: 'x'"),
])
def test_cli_bad_usage_exits_2_naming_the_option(argv, fragment, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err and "usage: backprop-check" in err, err


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


def _user_module(tmp_path, monkeypatch, name, source):
    """source written to tmp_path/name.py, importable by --impl name:... in this test only."""
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, name, raising=False)
    return path


def test_a_crash_in_the_user_backprop_exits_3_showing_the_users_file_and_line(
        tmp_path, monkeypatch, capsys):
    path = _user_module(tmp_path, monkeypatch, "wrong_transpose", WRONG_TRANSPOSE)
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
    _user_module(tmp_path, monkeypatch, "per_example_cases", PER_EXAMPLE)
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
    _user_module(tmp_path, monkeypatch, "per_example_cases", PER_EXAMPLE)
    assert main([*ONE_NETWORK, "--impl", "per_example_cases:misusing_the_library"]) == 3
    err = capsys.readouterr().err
    assert 'per_example_cases.py", line 12, in misusing_the_library' in err
    assert "ValueError: X has 1 rows, but the network's input layer has 3 neurons" in err
    assert "validate.py" not in err  # backprop's own frames are left out


def test_directions_checks_projections_and_passes_a_correct_network(capsys):
    assert main([*ONE_NETWORK, "--directions", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["settings"]["directions"] == 4
    blocks = [b for r in data["reports"] for b in r["blocks"]]
    assert {b["method"] for b in blocks} == {"complex_step/dir"}
    assert all(b["name"].endswith("·u") for b in blocks)
    assert {m for row in data["equations"].values() for m in row["methods"]} == {
        "complex_step/dir"}


def test_directions_still_names_the_element_of_a_planted_bug(tmp_path, capsys, monkeypatch):
    _plant_bp4_slip(tmp_path, monkeypatch)
    assert main([*ONE_NETWORK, "--impl", "mybackprop:backprop", "--directions", "4"]) == 1
    out = capsys.readouterr().out
    assert "BP4 dW[1][j=" in out and "FAILED" in out
    # Every dW failed along its directions and was then checked element by element.
    table = out[out.index("\nbackprop-check: "):].splitlines()
    method = {line.split()[0]: line.split()[2] for line in table if line.startswith("BP")}
    assert method == {"BP1": "complex_step/dir", "BP2": "complex_step/dir",
                      "BP3": "complex_step/dir", "BP4": "complex_step"}


@pytest.mark.parametrize("sizes", ["3,2", "3,4,3"])
def test_the_a_minus_y_row_accepts_float32_targets_that_sum_to_1_in_float32(sizes, capsys):
    """A float32 Y whose columns sum to 1 in float32 is off by ~1e-8 in float64; the
    identity a - y = J^T dC/da needs the sum exactly 1, so the row renormalises."""
    argv = ["--dtype", "float32", "--cost", "categorical_cross_entropy", "--sizes", sizes,
            "--batch", "8"]
    assert main(argv) == 0, capsys.readouterr().out


# Which networks are checked: each option given fixes its part of the sweep.

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


def test_a_failing_sweep_names_each_failing_network_once_with_its_first_broken_equation(
        tmp_path, capsys, monkeypatch):
    (tmp_path / "sumbackprop.py").write_text(textwrap.dedent("""
        from backprop import Gradients, vectorized

        def backprop(net, X, Y):
            g = vectorized.backprop(net, X, Y)
            return Gradients(g.delta, [w * X.shape[1] for w in g.dW], g.db)  # BP4: no 1/m
    """))
    monkeypatch.chdir(tmp_path)
    assert main(["--impl", "sumbackprop:backprop", "--activations", "tanh",
                 "--cost", "quadratic"]) == 1
    out = capsys.readouterr().out
    assert "Failed: 3 checks (network x implementation)" in out
    for sizes in ("[3, 2]", "[3, 4, 2]", "[3, 5, 4, 3]"):
        assert out.count(f"Network(sizes={sizes},") == 1, out
    assert out.count("a missing 1/m") >= 3 and "analytic=" not in out

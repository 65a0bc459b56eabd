"""backprop-check: the main job, its exit codes and its JSON."""

import json
import subprocess
import sys
import textwrap

import pytest

from checks.cli import main


def test_main_job_verifies_every_equation_and_exits_0(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for equation in ("BP1", "BP2", "BP3", "BP4", "δ^L = a^L − y", "a−y = general BP1"):
        assert equation in out
    assert "MISMATCH" not in out and "verified" in out


def test_json_output_has_ok_settings_and_equations(capsys):
    assert main(["--sizes", "3,4,2", "--activations", "tanh", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True
    assert data["settings"]["sizes"] == "3,4,2"
    assert set(data["equations"]) == {"BP1", "BP2", "BP3", "BP4"}
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
    assert main(["--sizes", "3,4,2", "--impl", "mybackprop:backprop"]) == 1
    out = capsys.readouterr().out
    assert "BP4 dW[1][j=0, i=0]" in out and "FAILED" in out


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

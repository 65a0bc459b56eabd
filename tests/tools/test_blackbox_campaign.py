"""tools/blackbox_campaign.py: its table counts what its docstring says, its default
reaches 2,000 correct checks, and --case reproduces one check."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.checks.zoo import FAMILIES
from tools import blackbox_campaign as campaign

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_runs_at_least_2000_checks_of_correct_code():
    todo = campaign.jobs(FAMILIES.values(), campaign.DEFAULT_SEEDS)
    assert sum(job.bug is None for job in todo) >= 2000


def test_a_verbatim_family_runs_once_and_a_seeded_one_per_seed_and_bug():
    todo = campaign.jobs([FAMILIES["issue_silent_linear"], FAMILIES["coursera_relu"]], 3)
    assert [j.spec() for j in todo[:2]] == ["issue_silent_linear:0",
                                           "issue_silent_linear:0:grad 2d"]
    assert len(todo) == 2 + 3 * (1 + len(FAMILIES["coursera_relu"].bugs))


def test_the_table_has_a_row_per_family_and_a_line_per_bug(capsys):
    campaign.main(["--families", "affine,issue_silent_linear", "--seeds", "2",
                   "--workers", "1"])
    out = capsys.readouterr().out
    row = r"^affine +float64 +2 +\d+ +\d+ +\d+ +\d+ +[\d.e+-]+ +[\d.e+-]+$"
    assert re.search(row, out, re.M), out
    assert re.search(r"^    dx = dout @ w +caught +[0-2] / 2 +localised +[0-2] / 2", out,
                     re.M), out
    assert re.search(r"^issue_silent_linear +float64 +1 ", out, re.M), out
    for needle in ("False alarms: ", "Silent passes: ", "processor: ", "total "):
        assert needle in out, f"{needle!r} missing:\n{out}"


def test_an_unknown_family_is_named_in_the_error():
    with pytest.raises(SystemExit, match="unknown families \\['nope'\\]"):
        campaign.main(["--families", "nope"])


def test_the_script_runs_from_a_checkout_and_reproduces_one_case():
    out = subprocess.run([sys.executable, "tools/blackbox_campaign.py", "--case",
                          "affine:1:dx = dout @ w"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.startswith("affine seed=1  bug=dx = dout @ w  planted=((0, None),)"), out
    assert "gradcheck: " in out, out

"""tools/kink_sweep.py and tools/kink_outcomes.py run and say what they measure (smoke runs)."""

import json

from tools import kink_outcomes, kink_sweep


def test_kink_sweep_prints_its_table_with_no_false_alarm_and_every_plant_caught(capsys):
    assert kink_sweep.main(["--cases", "8"]) == 0
    out = capsys.readouterr().out
    (total,) = [line for line in out.splitlines() if line.startswith("| all |")]
    checks, false_alarms, subgradients, _, planted, caught = (
        int(cell) for cell in total.split("|")[4:10])
    assert checks == 8 * 2 * len(kink_sweep.METHODS) and false_alarms == 0, out
    assert subgradients > 0 and planted > 0 and caught == planted, out


def test_kink_outcomes_counts_the_elements_skipped_before_and_checked_after(tmp_path, capsys):
    def report(checked, skipped, text=""):
        return {"text": text, "dict": {"checked": checked, "skipped": skipped,
                                       "mismatched": 0}}

    rows = {"before": report(10, 3), "after": report(13, 0, "Verified as subgradients at "
                                                      "kinks: 3 (the analytic value ...)")}
    for name, value in rows.items():
        (tmp_path / name).write_text(json.dumps({"case": "random-1", "what": "check-vectorized",
                                                 "value": value}) + "\n")
    assert kink_outcomes.main([str(tmp_path / "before"), str(tmp_path / "after")]) == 0
    assert ("1 networks, 1 reports with kink elements skipped before: 3 elements; after, 3 of "
            "them checked (3 verified as subgradients, 0 new mismatches), 0 still skipped"
            in capsys.readouterr().out)

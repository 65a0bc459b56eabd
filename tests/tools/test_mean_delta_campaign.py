"""tools/mean_delta_campaign.py runs and says what it measures (a smoke run)."""

from tools import mean_delta_campaign


def test_mean_delta_campaign_finds_no_false_alarm_and_catches_every_plant(capsys):
    assert mean_delta_campaign.main(["--cases", "8"]) == 0
    out = capsys.readouterr().out
    assert "| mean | 0 |" in out and "| per_example | 0 |" in out, out
    assert "caught 8 of 8" in out, out

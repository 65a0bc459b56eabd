"""Progress on stderr (checks.cli.progress): a rewritten line on a terminal, plain lines
only after PROGRESS_AFTER s elsewhere, the time left over the whole run, and one suggestion
of --directions for a long run; stdout stays pure."""

import io
import json
import re
import sys
import types

from checks.cli import main
from checks.cli import progress as progress_module
from checks.cli.progress import Progress
from tests.cli.common import ONE_NETWORK


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

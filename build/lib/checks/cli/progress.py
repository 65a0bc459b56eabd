"""Progress of a backprop-check run on stderr, with the time left.

"[k/n] checking <what>: done/total elements, ~s left": a rewritten line on a
terminal, else plain lines at most one a second once the run has lasted
PROGRESS_AFTER s (so CI logs stay short); and, once, a suggestion of
--directions when the whole run is estimated to take longer than LONG_RUN s.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from typing import TextIO

# Seconds after which progress is shown even when stderr is not a terminal (CI logs).
PROGRESS_AFTER = 1.0
# A run estimated longer than this (s) suggests --directions, once the estimate rests on
# ESTIMATE_AFTER s of measurement (the first fractions of a second say little).
LONG_RUN, ESTIMATE_AFTER = 30.0, 1.0
SUGGESTION = ("this will take ~{:.0f} s; --directions 4 checks each array along 4 random "
              "directions first and is much faster")



def elements(sizes: Sequence[int], m: int) -> int:
    """How many elements check_network compares: delta[l] (n_l x m), dW[l], db[l]."""
    return sum(n * m + n * n_prev + n for n_prev, n in itertools.pairwise(sizes))


class Progress:
    """"[k/n] checking <what>: done/total elements, ~s left" on stderr: a rewritten
    line on a terminal, else plain lines at most one a second, and only once the run
    has lasted PROGRESS_AFTER s. totals: the elements each of the n checks is
    expected to compare (a check's own total replaces it once it reports one). The
    time left is elapsed / done * remaining, over the whole run; suggest: say once
    when that makes the run longer than LONG_RUN s. clock: time.monotonic."""

    def __init__(self, totals: Sequence[int], stream: TextIO, *, suggest: bool = True,
                 clock: Callable[[], float] | None = None) -> None:
        self.n, self.stream, self.suggest = len(totals), stream, suggest
        self.totals, self.checked = list(totals), [0] * len(totals)
        self.clock = clock or time.monotonic
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.start = self.last = self.clock()
        self.width = 0  # characters of the current terminal line
        self.lines = 0  # plain lines written

    def update(self, k: int, what: str) -> None:
        now = self.clock()
        done, total = sum(self.checked), sum(self.totals)
        text = f"[{k}/{self.n}] checking {what}: {done}/{total} elements"
        elapsed = now - self.start
        if done and elapsed > 0:
            text += f", ~{elapsed / done * (total - done):.0f} s left"
            if self.suggest and elapsed >= ESTIMATE_AFTER and elapsed / done * total > LONG_RUN:
                self.clear()
                self.stream.write(SUGGESTION.format(elapsed / done * total) + "\n")
                self.suggest = False
        if self.tty:
            text = text[:119]
            self.stream.write("\r" + text.ljust(self.width))
            self.width = len(text)
        elif elapsed > PROGRESS_AFTER and (self.lines == 0 or now - self.last >= 1):
            self.stream.write(text + "\n")
            self.lines, self.last = self.lines + 1, now
        else:
            return
        self.stream.flush()

    def within(self, k: int, what: str) -> Callable[[int, int], None]:
        """A check_network progress callback for check k: its elements done/total."""

        def update(done: int, total: int) -> None:
            self.checked[k - 1], self.totals[k - 1] = done, total
            self.update(k, what)

        return update

    def finished(self, k: int) -> None:
        """Check k is over: every element of it counts as done."""
        self.checked[k - 1] = self.totals[k - 1]

    def clear(self) -> None:
        """Wipe the terminal line, e.g. before printing to the same terminal."""
        if self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0

    def done(self) -> None:
        self.clear()
        if self.lines:
            seconds = self.clock() - self.start
            self.stream.write(f"[{self.n}/{self.n}] done in {seconds:.1f} s\n")
            self.stream.flush()

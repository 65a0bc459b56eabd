"""stdout and stderr whose reader may go away (`2>&1 | head -1`) or that were closed at start
(`>&-`): backprop-check's verdict is its exit status, never a write that failed.

`Forgiving` wraps stderr for the whole run (main), so that every write to it, backprop-check's
own (progress, the failure text, the internal-error message, argparse's banner) and the
user's print() while user_code redirects their stdout to it, is dropped once stderr's reader
has gone, instead of raising BrokenPipeError into the user's code or into main.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable
from typing import Any, TextIO, cast


def to_devnull(stream: TextIO) -> None:
    """stream's file descriptor pointed at os.devnull, its reader having gone: what is still
    written there (the interpreter's own flush at exit included) is dropped without an error,
    as Python's documentation on SIGPIPE recommends. Nothing when stream has no descriptor."""
    with contextlib.suppress(OSError, ValueError):
        fd = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


class Forgiving:
    """A text stream writing to stream until its reader goes away (BrokenPipeError), then
    dropping what it is given; anything else (isatty, fileno, encoding) is stream's."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            self.stream.write(text)
        except BrokenPipeError:
            to_devnull(self.stream)
        return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            to_devnull(self.stream)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def forgiving_stderr() -> contextlib.AbstractContextManager[TextIO]:
    """sys.stderr wrapped in Forgiving while inside."""
    return contextlib.redirect_stderr(cast(TextIO, Forgiving(sys.stderr)))


def streams_present() -> None:
    """sys.stdout and sys.stderr writing to os.devnull when they were closed at start (`>&-`,
    `2>&-`: None): printing the results is then printing to nothing, and os.devnull takes fd 1
    (fd 2), so that no file opened later gets it (user_code points fd 1 at fd 2's file)."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            # Left open: the process writes to it until it exits.
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))

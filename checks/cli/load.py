"""The code backprop-check checks: the built-in implementations, or the user's --impl, guarded.

`implementations` reads --impl; the user's MODULE:FUNCTION is imported from the
current directory and wrapped by `guarded`, so that an exception it raises
becomes `ImplCrashed` (exit status 3, shown by `crash_text` as the user's own
traceback), told apart from a malformed result (`MalformedResult`, exit status 2).
"""

from __future__ import annotations

import functools
import importlib
import sys
import traceback
from pathlib import Path

import backprop
import checks
from backprop import Array, Gradients, Network
from checks.cli.parse import UsageError
from checks.network import Impl

# The installed packages' folders: a frame in them is backprop-check's, not the user's.
BACKPROP_DIR, CHECKS_DIR = (Path(p.__file__ or "").resolve().parent for p in (backprop, checks))

Implementations = list[tuple[str, Impl | str]]
"""(label, what check_network's impl= is given) for each implementation a run checks."""


class ImplCrashed(Exception):
    """--impl's function raised (its exception is __cause__) on net: exit status 3."""

    def __init__(self, net: Network) -> None:
        super().__init__(f"--impl's function raised while checking {net!r}")
        self.net = net


class MalformedResult(Exception):
    """--impl's function returned something that is not gradients of the network
    (the message says what): exit status 2, without the usage banner."""


def implementations(spec: str) -> Implementations:
    """--impl: both (vectorized, then loop), one of them, or MODULE:FUNCTION, guarded."""
    if spec == "both":
        return [("vectorized", "vectorized"), ("loop", "loop")]
    if spec in ("vectorized", "loop"):
        return [(spec, spec)]
    return [(spec, guarded(load(spec)))]


def load(spec: str) -> Impl:
    """The function MODULE:FUNCTION, imported from the current directory; UsageError if
    it cannot be."""
    module_name, _, function = spec.partition(":")
    if not module_name or not function:
        raise UsageError(f"--impl {spec!r}: expected vectorized, loop, both or MODULE:FUNCTION")
    sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"--impl {spec!r}: cannot import {module_name!r} ({exc})") from None
    fn = getattr(module, function, None)
    if not callable(fn):
        raise UsageError(f"--impl {spec!r}: {module_name} has no function {function!r}")
    return fn


def guarded(fn: Impl) -> Impl:
    """fn, with an exception it raises wrapped in ImplCrashed, except per_example's
    own message about a malformed result (raised inside checks/), which passes."""

    @functools.wraps(fn)
    def call(net: Network, X: Array, Y: Array) -> Gradients:
        try:
            return fn(net, X, Y)
        except Exception as exc:
            frames = traceback.extract_tb(exc.__traceback__)
            if isinstance(exc, (TypeError, ValueError)) and _inside(frames[-1].filename,
                                                                    CHECKS_DIR):
                raise
            raise ImplCrashed(net) from exc

    call.__qualname__ = getattr(fn, "__qualname__", repr(fn))
    return call


def _inside(filename: str, *folders: Path) -> bool:
    path = Path(filename).resolve()
    return any(path.is_relative_to(folder) for folder in folders)


def crash_text(exc: ImplCrashed, spec: str) -> str:
    """The user's traceback, frames of backprop/ and checks/ left out, chained ones too."""
    cause = exc.__cause__
    assert cause is not None
    top = traceback.TracebackException.from_exception(cause)
    pending, seen = [top], set()
    while pending:
        te = pending.pop()
        if id(te) in seen:
            continue
        seen.add(id(te))
        te.stack = traceback.StackSummary.from_list(
            [f for f in te.stack if not _inside(f.filename, BACKPROP_DIR, CHECKS_DIR)])
        pending.extend(t for t in (te.__cause__, te.__context__) if t is not None)
    return (f"backprop-check: --impl {spec} raised {type(cause).__name__} while checking "
            f"{exc.net!r} (the frames of backprop-check itself are left out):\n"
            + "".join(top.format()))

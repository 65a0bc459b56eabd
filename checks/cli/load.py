"""The code backprop-check checks: the built-in implementations, or the user's --impl, guarded.

`implementations` reads --impl. MODULE:FUNCTION is imported from the current
directory, unless an installed package of that name shadows the user's file or
folder there (a backprop.py, a checks/): a usage error saying so and how to fix
it. PATH:FUNCTION (PATH ends in .py or contains a slash; split at the last ':')
is loaded from that file under a name no installed package has, its folder first
on sys.path so that its own imports of sibling files work.

The user's code, its import and each call, runs inside `user_code`: what it
writes to stdout goes to stderr, so that stdout carries only the table or the
JSON (dropped once stderr's reader has gone: checks.cli.streams). Whatever it
raises, an exception, a SyntaxError, SystemExit (sys.exit, any code),
OsExitCalled (os._exit, which user_code makes raise it), becomes `ImplCrashed`;
a result that is not gradients, `MalformedResult`. Both are `UserCodeFailed`,
exit status 3, shown by `failure_text` with the user's file and line and the
user's own traceback (`failure_summary`: what and where in one line, for --json).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib
import importlib.util
import inspect
import os
import re
import sys
import sysconfig
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn, TextIO, cast

import backprop
import checks
from backprop import Array, Gradients, Network
from checks.cli.parse import UsageError
from checks.cli.streams import Forgiving
from checks.network import Impl

# The installed packages' folders: a frame in them is backprop-check's, not the user's.
BACKPROP_DIR, CHECKS_DIR = (Path(p.__file__ or "").resolve().parent for p in (backprop, checks))
IMPORTLIB_DIR = Path(importlib.__file__ or "").resolve().parent  # import_module's frame
# Where Python's and the installed packages' files are: a frame there is not the user's own
# line either, though it is shown in the user's traceback.
LIBRARY_DIRS = tuple({Path(sysconfig.get_paths()[key]).resolve()
                      for key in ("stdlib", "platstdlib", "purelib", "platlib")})
# The name a file given by path is loaded under: no installed package starts so.
PATH_MODULE_PREFIX = "backprop_check_impl_"

Implementations = list[tuple[str, Impl | str]]
"""(label, what check_network's impl= is given) for each implementation a run checks."""


class UserCodeFailed(Exception):
    """The user's --impl failed: exit status 3; `failure_text` says how and where."""


class OsExitCalled(SystemExit):
    """The user's code called os._exit(code) (user_code makes it raise this instead): a crash,
    exit status 3, as sys.exit is."""


class ImplCrashed(UserCodeFailed):
    """--impl's code raised (its exception, SystemExit included, is __cause__): on net, or
    while being imported when net is None."""

    def __init__(self, net: Network | None) -> None:
        super().__init__("--impl's code raised "
                         + ("while being imported" if net is None else f"while checking {net!r}"))
        self.net = net


class MalformedResult(UserCodeFailed):
    """--impl's function fn returned something that is not gradients of the network (the
    message says what)."""

    def __init__(self, message: str, fn: object) -> None:
        super().__init__(message)
        self.fn = fn


def implementations(spec: str) -> Implementations:
    """--impl: both (vectorized, then loop), one of them, or the user's function, guarded."""
    if spec == "both":
        return [("vectorized", "vectorized"), ("loop", "loop")]
    if spec in ("vectorized", "loop"):
        return [(spec, spec)]
    return [(spec, guarded(load(spec)))]


def is_path(module_part: str) -> bool:
    """Whether --impl's part before the last ':' names a file rather than a module."""
    return module_part.endswith(".py") or "/" in module_part or os.sep in module_part


def load(spec: str) -> Impl:
    """The function of MODULE:FUNCTION or PATH:FUNCTION; UsageError if the module or
    file does not exist or has no such function, ImplCrashed if importing it raised."""
    module_part, _, function = spec.rpartition(":")
    if not module_part or not function:
        raise UsageError(f"--impl {spec!r}: expected vectorized, loop, both, MODULE:FUNCTION "
                         "or PATH/TO/FILE.py:FUNCTION")
    module = (_load_file(Path(module_part), spec) if is_path(module_part)
              else _import(module_part, spec))
    fn = getattr(module, function, None)
    if not callable(fn):
        raise UsageError(f"--impl {spec!r}: {module_part} has no function {function!r}")
    return fn


def _import(module_name: str, spec: str) -> object:
    """module_name imported, the current directory first on sys.path."""
    if sys.path[:1] != [""]:
        sys.path.insert(0, "")
    _forget_another_folders(module_name.partition(".")[0])
    shadowing = _shadowing(module_name, spec)
    if shadowing is not None:
        raise UsageError(shadowing)
    try:
        with user_code():
            return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or (module_name + ".").startswith(exc.name + "."):
            raise UsageError(f"--impl {spec!r}: cannot import {module_name!r} ({exc})") from None
        raise ImplCrashed(None) from exc  # an import inside the user's module failed
    except (Exception, SystemExit) as exc:
        raise ImplCrashed(None) from exc


def _forget_another_folders(top: str) -> None:
    """Drop top (and its submodules) from sys.modules when it was imported from a user's
    file elsewhere than the current directory, which has its own top.py: a process
    that runs backprop-check twice (tests, a notebook) from two folders checks each
    folder's file, not the first one imported. Installed packages stay."""
    module = sys.modules.get(top)
    origin = getattr(module, "__file__", None)
    here = Path(f"{top}.py")
    if origin is None or not here.is_file() or Path(origin).resolve() == here.resolve():
        return
    if _inside(origin, BACKPROP_DIR, CHECKS_DIR, *LIBRARY_DIRS):
        return
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        del sys.modules[name]


def _shadowing(module_name: str, spec: str) -> str | None:
    """The message when the current directory holds a file or folder named like
    module_name's top package, but importing it would find an installed one instead."""
    top = module_name.partition(".")[0]
    file, folder = Path(f"{top}.py"), Path(top)
    if not file.is_file() and not folder.is_dir():
        return None
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    origin = None if found is None or found.origin is None else Path(found.origin).resolve()
    if origin is None or origin == file.resolve() or origin.is_relative_to(folder.resolve()):
        return None
    yours = f"your file {file}" if file.is_file() else f"your folder {folder}{os.sep}"
    function = spec.rpartition(":")[2]
    fix = (f"rename it (e.g. my{file}, then --impl my{module_name}:{function})"
           + (f" or pass it as a path: --impl .{os.sep}{file}:{function}"
              if file.is_file() else ""))
    return (f"--impl {spec!r}: {yours} in the current directory is shadowed by the installed "
            f"package {top!r} ({origin.parent if origin.name == '__init__.py' else origin}), "
            f"which importing {module_name} finds instead: {fix}")


def _load_file(path: Path, spec: str) -> object:
    """The module in the file at path, loaded under a name no installed package has, its
    folder first on sys.path (for the file's imports of its siblings)."""
    if not path.is_file():
        where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
        raise UsageError(f"--impl {spec!r}: no such file {str(path)!r}{where}")
    name = PATH_MODULE_PREFIX + re.sub(r"\W", "_", path.stem)
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise UsageError(f"--impl {spec!r}: {str(path)!r} is not a Python file (*.py)")
    folder = str(path.resolve().parent)
    if sys.path[:1] != [folder]:
        sys.path.insert(0, folder)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # as import does: the module's own classes can find it
    try:
        with user_code():
            module_spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        del sys.modules[name]
        raise ImplCrashed(None) from exc
    return module


@contextlib.contextmanager
def user_code() -> Iterator[None]:
    """While the user's code runs, its stdout (print, sys.__stdout__, C's printf alike)
    goes to stderr: stdout then carries only backprop-check's table or JSON.

    Redirected at the file descriptor, so that writes below Python's sys.stdout are
    caught too; each buffer is flushed on the way in (ours, to stdout) and on the way
    out (the user's, to stderr) before fd 1 is put back. The user's print() is dropped
    once stderr's reader has gone (Forgiving), and os._exit raises OsExitCalled (exit
    status 3, not the status the user's code gave with nothing checked).
    """
    _flush()
    saved = _fd1_to_stderr()
    real_exit = os._exit
    os._exit = functools.partial(_refuse_os_exit, os.getpid(), real_exit)
    try:
        with contextlib.redirect_stdout(cast(TextIO, Forgiving(sys.stderr))):
            yield
    finally:
        os._exit = real_exit
        _flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def _refuse_os_exit(pid: int, real_exit: Callable[[int], NoReturn], status: int) -> NoReturn:
    """os._exit while the user's code runs: OsExitCalled instead of ending the process with
    status (exit 0, nothing checked), except in a child process the user's code forked (its
    os._exit is the child's end)."""
    if os.getpid() != pid:
        real_exit(status)
    raise OsExitCalled(status)


def _fd1_to_stderr() -> int | None:
    """fd 1 pointed at stderr's file; a copy of the old fd 1 to put back, or None when fd 1
    or fd 2 is closed (nothing to keep apart at that level then)."""
    try:
        saved = os.dup(1)
    except OSError:
        return None
    try:
        os.dup2(2, 1)
    except OSError:
        os.close(saved)
        return None
    return saved


@functools.cache
def _c_library() -> ctypes.CDLL | None:
    """The C library the process runs with (its stdio buffers), None where ctypes cannot
    name it (CDLL(None) is POSIX only)."""
    try:
        return ctypes.CDLL(None)
    except (OSError, TypeError):
        return None


def _flush() -> None:
    """Python's stdout and stderr buffers, and C's stdio buffers, written out."""
    for stream in (sys.stdout, sys.__stdout__, sys.stderr):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
    library = _c_library()
    if library is not None:
        library.fflush(None)  # NULL: every C output stream


def guarded(fn: Impl) -> Impl:
    """fn run as user_code, with anything it raises (SystemExit too) wrapped in
    ImplCrashed, except per_example's own message about a malformed result (raised
    inside checks/), which passes."""

    @functools.wraps(fn)
    def call(net: Network, X: Array, Y: Array) -> Gradients:
        try:
            with user_code():
                return fn(net, X, Y)
        except (Exception, SystemExit) as exc:
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


def _ours(filename: str) -> bool:
    """A frame of backprop-check or of the import machinery, left out of the user's traceback."""
    return filename.startswith("<frozen importlib") or _inside(
        filename, BACKPROP_DIR, CHECKS_DIR, IMPORTLIB_DIR)


def _where(cause: BaseException) -> str | None:
    """'FILE, line N' of the user's line: a SyntaxError's own, else the innermost frame
    outside backprop-check, Python's library and the installed packages if there is one."""
    if isinstance(cause, SyntaxError) and cause.filename is not None:
        return f"{cause.filename}, line {cause.lineno}"
    frames = [f for f in traceback.extract_tb(cause.__traceback__) if not _ours(f.filename)]
    own = [f for f in frames if not _inside(f.filename, *LIBRARY_DIRS)] or frames
    return f"{own[-1].filename}, line {own[-1].lineno}, in {own[-1].name}" if own else None


def _definition(fn: object) -> str | None:
    """'FILE, line N' where the user's function is defined (None when it is not a Python
    function of the user's, such as per_example's wrapper)."""
    code = getattr(inspect.unwrap(fn), "__code__", None)  # type: ignore[arg-type]
    if code is None or _ours(code.co_filename):
        return None
    return f"{code.co_filename}, line {code.co_firstlineno}"


def _headline(exc: UserCodeFailed, spec: str) -> tuple[str, str | None]:
    """What failed ('--impl SPEC raised E while ...') and where (the user's file and line, or
    for a malformed result where the function is defined: None when unknown)."""
    if isinstance(exc, MalformedResult):
        return f"--impl {spec}: {exc}", _definition(exc.fn)
    cause = exc.__cause__
    assert isinstance(exc, ImplCrashed) and cause is not None
    what = (f"called os._exit({cause.code!r})" if isinstance(cause, OsExitCalled)
            else f"exited with sys.exit({cause.code!r})" if isinstance(cause, SystemExit)
            else f"raised {type(cause).__name__}")
    when = ("while being imported" if exc.net is None else f"while checking {exc.net!r}")
    return f"--impl {spec} {what} {when}", _where(cause)


def failure_summary(exc: UserCodeFailed, spec: str) -> str:
    """failure_text's what and where in one line (--json's "error"), with the exception's
    message: '--impl m:f raised ValueError while being imported, at FILE, line N: message'."""
    what, where = _headline(exc, spec)
    cause = exc.__cause__
    message = ("" if cause is None or isinstance(cause, SystemExit)
               else " ".join(str(cause).split()))
    return what + (f", at {where}" if where else "") + (f": {message}" if message else "")


def failure_text(exc: UserCodeFailed, spec: str) -> str:
    """What stderr says when the user's code failed: what and where (the user's file
    and line), then, for a crash, the user's traceback without backprop-check's frames
    (chained exceptions' too)."""
    what, where = _headline(exc, spec)
    if isinstance(exc, MalformedResult):
        return (f"backprop-check: {what}"
                + (f"\n  (the function is defined at {where})" if where else "") + "\n")
    assert exc.__cause__ is not None
    top = traceback.TracebackException.from_exception(exc.__cause__)
    pending, seen = [top], set()
    while pending:
        te = pending.pop()
        if id(te) in seen:
            continue
        seen.add(id(te))
        te.stack = traceback.StackSummary.from_list([f for f in te.stack if not _ours(f.filename)])
        pending.extend(t for t in (te.__cause__, te.__context__) if t is not None)
    return (f"backprop-check: {what}\n"
            + (f"  at {where}\n" if where else "")
            + "Your code's traceback (the frames of backprop-check itself are left out):\n"
            + "".join(top.format()))

"""Regenerate the sample outputs in README.md from the commands that print them.

A sample is a fenced block right below a marker that names its command:

    <!-- sample: backprop-check --sizes 4,8,3 -->
    ```
    ...what the command prints...
    ```

The command (split with shlex; `backprop-check` or `python -m checks`) runs in
this process through `checks.cli.main`, with stdout captured; progress goes to
stderr and is left alone. Its stdout replaces the block's text. A marker ending
in `| module=NAME` first writes the README's python block that starts with
`# NAME.py` into a fresh temporary folder and runs the command there, so that
`--impl NAME:FUNCTION` imports the README's own code; `| module=NAME replace=OLD,NEW`
writes it with the text OLD replaced by NEW (no spaces in either): a slip
planted in the README's own example, for a sample of a failing report;
`| lines=A:B` keeps lines A to B of the output (a Python slice: `lines=:20`,
`lines=-9:`), each cut marked by a line `[...]`, for a long output whose
point is one part of it.

    python tools/readme_samples.py            # rewrite README.md in place
    python tools/readme_samples.py --check    # list the stale samples; exit 1 if any

`tests/test_readme.py` runs the check, so a sample that no longer matches what
its command prints fails the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from checks.cli import main as cli_main

README = Path(__file__).resolve().parents[1] / "README.md"
SAMPLE = re.compile(
    r"^<!-- sample: (?P<spec>[^\n]*?) -->\n```[^\n]*\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
PYTHON_BLOCK = re.compile(r"^```python\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)
PROGRAMS = (["backprop-check"], ["python", "-m", "checks"], ["python3", "-m", "checks"])


@dataclass(frozen=True)
class Sample:
    """One marked block: the marker's text, the parsed command, and where the body is."""

    spec: str
    argv: list[str]
    module: str | None
    replace: tuple[str, str] | None
    lines: slice  # the lines of the output shown
    start: int  # offsets of the block's body in the README text
    end: int
    body: str


def parse(spec: str) -> tuple[list[str], str | None, tuple[str, str] | None, slice]:
    """`backprop-check ARGS | module=NAME replace=OLD,NEW lines=A:B` -> (ARGS, NAME,
    (OLD, NEW), slice(A, B))."""
    command, _, options = spec.partition("|")
    module, replace, lines = None, None, slice(None)
    for option in options.split():
        key, _, value = option.partition("=")
        if key == "module" and value:
            module = value
        elif key == "replace" and value.count(",") == 1:
            old, new = value.split(",")
            replace = (old, new)
        elif key == "lines" and re.fullmatch(r"-?\d*:-?\d*", value):
            start, stop = (int(v) if v else None for v in value.split(":"))
            lines = slice(start, stop)
        else:
            raise ValueError(f"sample {spec!r}: unknown option {option!r}, expected "
                             "module=NAME, replace=OLD,NEW or lines=A:B")
    words = shlex.split(command)
    for program in PROGRAMS:
        if words[: len(program)] == program:
            return words[len(program):], module, replace, lines
    raise ValueError(f"sample {spec!r}: the command must start with backprop-check "
                     "or python -m checks")


def samples(text: str) -> list[Sample]:
    """Every marked sample of text, in order."""
    found = []
    for match in SAMPLE.finditer(text):
        argv, module, replace, lines = parse(match["spec"])
        found.append(Sample(match["spec"], argv, module, replace, lines, match.start("body"),
                            match.end("body"), match["body"]))
    return found


def module_source(text: str, name: str) -> str:
    """The README's python block whose first line is `# NAME.py`."""
    blocks = [m["code"] for m in PYTHON_BLOCK.finditer(text)
              if m["code"].split("\n", 1)[0].split(":")[0].strip() == f"# {name}.py"]
    if len(blocks) != 1:
        raise ValueError(f"module={name}: README has {len(blocks)} python blocks "
                         f"starting '# {name}.py', expected 1")
    return blocks[0]


def output(sample: Sample, text: str) -> str:
    """What the sample's command prints on stdout now, as the block's body."""
    out = io.StringIO()
    saved_path, saved_cwd = sys.path[:], os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        try:
            if sample.module is not None:
                source = module_source(text, sample.module)
                if sample.replace is not None:
                    old, new = sample.replace
                    if source.count(old) != 1:
                        raise ValueError(f"sample {sample.spec!r}: {old!r} occurs "
                                         f"{source.count(old)} times in {sample.module}.py")
                    source = source.replace(old, new)
                Path(folder, f"{sample.module}.py").write_text(source, encoding="utf-8")
                sys.path.insert(0, folder)
                sys.modules.pop(sample.module, None)
                os.chdir(folder)
            with contextlib.redirect_stdout(out):
                status = cli_main(sample.argv)
        except SystemExit as exc:  # argparse: a usage error
            status = exc.code if isinstance(exc.code, int) else 2
        finally:
            os.chdir(saved_cwd)
            sys.path[:] = saved_path
            if sample.module is not None:
                sys.modules.pop(sample.module, None)
    if status not in (0, 1):
        raise ValueError(f"sample {sample.spec!r}: the command exited with status {status}")
    return "".join(f"{line}\n" for line in shown(out.getvalue().rstrip("\n").split("\n"),
                                                 sample.lines))


def shown(lines: list[str], part: slice) -> list[str]:
    """lines[part], with a line `[...]` where lines were cut before or after it."""
    start, stop, _ = part.indices(len(lines))
    return (["[...]"] if start > 0 else []) + lines[start:stop] + (
        ["[...]"] if stop < len(lines) else [])


def refresh(text: str) -> tuple[str, list[str]]:
    """text with every sample replaced by its command's output, and the stale samples' specs."""
    pieces, stale, last = [], [], 0
    for sample in samples(text):
        body = output(sample, text)
        if body != sample.body:
            stale.append(sample.spec)
        pieces += [text[last:sample.start], body]
        last = sample.end
    return "".join(pieces) + text[last:], stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; list the stale samples and exit 1 if any")
    parser.add_argument("path", nargs="?", type=Path, default=README)
    args = parser.parse_args(argv)
    text = args.path.read_text(encoding="utf-8")
    new, stale = refresh(text)
    for spec in stale:
        print(f"{'stale' if args.check else 'refreshed'}: {spec}")
    if args.check:
        return 1 if stale else 0
    if new != text:
        args.path.write_text(new, encoding="utf-8")
    print(f"{len(samples(text))} samples, {len(stale)} refreshed in {args.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

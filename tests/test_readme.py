"""The README's examples run as written: the code a student copies must work."""

import contextlib
import io
import re
import sys
from pathlib import Path

import pytest

from checks.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def block(first_line: str) -> str:
    """The README's python block that starts with first_line."""
    found = [b for b in BLOCKS if b.startswith(first_line)]
    assert len(found) == 1, f"README has {len(found)} python blocks starting {first_line!r}"
    return found[0]


@pytest.fixture
def nielsen(tmp_path, monkeypatch):
    """The README's nielsen_backprop.py, importable from a fresh folder."""
    module = block("# nielsen_backprop.py")
    (tmp_path / "nielsen_backprop.py").write_text(
        module + "\nfrom checks import per_example\nbatch = per_example(backprop)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    sys.modules.pop("nielsen_backprop", None)
    yield
    sys.modules.pop("nielsen_backprop", None)


def test_the_nielsen_style_example_checks_out(nielsen):
    usage = next(b for b in BLOCKS if "from nielsen_backprop import backprop" in b)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(usage, "README.md", "exec"), {})
    assert ": OK" in out.getvalue().splitlines()[0], out.getvalue()


def test_the_readme_command_sweeps_the_nielsen_style_backprop(nielsen, capsys):
    command = re.search(r"`backprop-check --impl\s+nielsen_backprop:batch ([^`]*)`", README)
    assert command is not None, "README no longer shows the per-example command"
    argv = ["--impl", "nielsen_backprop:batch", *command.group(1).split()]
    assert main(argv) == 0, capsys.readouterr().out

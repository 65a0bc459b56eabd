"""The README's examples run as written, and its sample outputs are what the commands print
now: the code a student copies must work, and the output shown must be the output they get."""

import contextlib
import difflib
import io
import re
import sys
from pathlib import Path

import pytest

from checks.cli import main
from tools.readme_samples import refresh, samples

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
# The README's page of other code shapes: its examples are held to the same standard.
SHAPES = (ROOT / "docs" / "code-shapes.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README + SHAPES, flags=re.DOTALL)
# A block whose first line is `# NAME.py` is a module the others import; the rest are programs.
MODULES = {m[1]: b for b in BLOCKS if (m := re.match(r"# (\w+)\.py\b", b))}
PROGRAMS = [b for b in BLOCKS if not re.match(r"# (\w+)\.py\b", b)]


def block(first_line: str) -> str:
    """The README's python block that starts with first_line."""
    found = [b for b in BLOCKS if b.startswith(first_line)]
    assert len(found) == 1, f"README has {len(found)} python blocks starting {first_line!r}"
    return found[0]


@pytest.fixture
def readme_modules(tmp_path, monkeypatch):
    """Every `# NAME.py` block of the README, importable from a fresh folder (the cwd)."""
    for name, source in MODULES.items():
        (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    for name in MODULES:
        sys.modules.pop(name, None)
    yield tmp_path
    for name in MODULES:
        sys.modules.pop(name, None)


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
    command = re.search(r"`backprop-check\s+--impl\s+nielsen_backprop:batch ([^`]*)`", SHAPES)
    assert command is not None, "docs/code-shapes.md no longer shows the per-example command"
    argv = ["--impl", "nielsen_backprop:batch", *command.group(1).split()]
    assert main(argv) == 0, capsys.readouterr().out


def _where(program: str) -> str:
    """README.md:LINE (or docs/code-shapes.md:LINE) of a python block, to name its test."""
    page, text = ("README.md", README) if program in README else ("code-shapes.md", SHAPES)
    return f"{page}:{text[:text.index(program)].count(chr(10))}"


@pytest.mark.parametrize("program", PROGRAMS, ids=[_where(p) for p in PROGRAMS])
def test_every_python_program_in_the_readme_runs(program, readme_modules):
    """Each program block runs as written (its own asserts hold), and each test it defines
    passes, with the README's modules (mybackprop.py, ...) importable as a student has them."""
    namespace: dict[str, object] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(program, "README.md", "exec"), namespace)
        tests = [f for name, f in namespace.items() if name.startswith("test_") and callable(f)]
        for test in tests:
            test()


def test_the_readme_shows_the_example_programs_it_promises():
    assert {"mybackprop", "nielsen_backprop"} <= set(MODULES), sorted(MODULES)
    assert any("def test_" in p and "from mybackprop import backprop" in p for p in PROGRAMS), \
        "README no longer has the pytest example that imports mybackprop"
    assert any("check_network(net, X, Y" in p and "import mybackprop" not in p
               for p in PROGRAMS), "README no longer has the API example"


def test_the_readme_samples_are_what_their_commands_print_now():
    assert samples(README), "README has no <!-- sample: ... --> blocks"
    new, stale = refresh(README)
    diff = "".join(difflib.unified_diff(README.splitlines(keepends=True),
                                        new.splitlines(keepends=True), "README.md", "now", n=1))
    assert not stale, (
        f"{len(stale)} README sample(s) differ from what their commands print now: "
        f"{stale}; run `python tools/readme_samples.py` to refresh them.\n{diff}")


def test_the_sample_tool_runs_a_module_sample_from_the_readmes_own_code():
    text = ("```python\n# tiny.py\nfrom backprop import vectorized\n"
            "backprop = vectorized.backprop\n```\n\n"
            "<!-- sample: backprop-check --impl tiny:backprop --sizes 3,2 "
            "--activations sigmoid --cost quadratic | module=tiny -->\n"
            "```\nold output\n```\n")
    new, stale = refresh(text)
    assert len(stale) == 1 and stale[0].endswith("| module=tiny"), stale
    body = new.split("module=tiny -->\n```\n")[1]
    assert body.startswith("check_network(backprop) Network(sizes=[3, 2]"), body
    assert refresh(new) == (new, []), "a refreshed sample is not stable"
    assert "tiny" not in sys.modules


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file (outside code blocks)."""
    text = re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)
    headings = re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", ["README.md", *sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))])
def test_every_link_points_to_a_file_in_the_repository(page):
    """The README and docs/ refer to nothing outside the repository, and nothing missing."""
    path = ROOT / page
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        file, _, anchor = target.partition("#")
        where = (path.parent / file).resolve() if file else path
        if "://" in target or not where.is_relative_to(ROOT) or not where.exists():
            broken.append(target)
        elif anchor and where.suffix == ".md" and anchor not in _anchors(where.read_text()):
            broken.append(target)
    assert not broken, f"{page} links to {broken}: not a file or heading in this repository"


SECTION_QUOTE = re.compile(r"""(README|[\w/]+\.md)(?:'s)?,? ["“]([^"”]+)["”]""")


@pytest.mark.parametrize("page", ["pyproject.toml", ".ci/run", *sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))])
def test_every_section_named_in_words_exists(page):
    """A pointer written in words (the README's "Testing", docs/testing.md, "Mutation
    testing") names a heading that the page it names has."""
    text = (ROOT / page).read_text(encoding="utf-8")
    missing = []
    for target, section in SECTION_QUOTE.findall(text):
        file = ROOT / ("README.md" if target == "README" else target)
        headings = re.findall(r"^#+ (.+)$", file.read_text(encoding="utf-8"), flags=re.MULTILINE)
        if " ".join(section.split()) not in headings:
            missing.append(f"{target} {section!r}")
    assert not missing, f"{page} names sections that do not exist: {missing}"


def test_api_states_the_default_ulps_of_the_code():
    from checks.netcheck.error_model import ULPS

    entry = re.search(r"- `ulps=`:(.*?)\n- ", (ROOT / "docs" / "api.md").read_text(),
                      flags=re.DOTALL)
    assert entry is not None
    assert f"default\n  {ULPS} " in entry[1] or f"default {ULPS} " in entry[1], entry[1]
    assert "checker.md#your-arithmetic-ulps-and-flush-to-zero" in entry[1]


def test_the_sample_tool_keeps_the_lines_asked_for_and_marks_the_cuts():
    text = ("<!-- sample: backprop-check --sizes 3,2 --activations sigmoid --cost quadratic "
            "--impl vectorized | lines=-1: -->\n```\nold output\n```\n")
    new, stale = refresh(text)
    assert stale and new.split("-->\n```\n")[1] == "[...]\nverified: every element within " \
        "its error-model tolerance\n```\n", new
    text = text.replace("lines=-1:", "lines=:1")
    body = refresh(text)[0].split("-->\n```\n")[1]
    assert body.startswith("check_network(vectorized.backprop) Network(sizes=[3, 2]") and \
        body.endswith("\n[...]\n```\n") and body.count("\n") == 3, body

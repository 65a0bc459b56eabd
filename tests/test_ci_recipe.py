"""The CI recipe a user copies: the pre-commit hook this repository declares, and the
commands of docs/ci.md, which may use only options backprop-check has."""

import re
import shlex
from pathlib import Path

from checks.cli.parse import build_parser

ROOT = Path(__file__).resolve().parents[1]
HOOKS = ROOT / ".pre-commit-hooks.yaml"
CI_PAGE = ROOT / "docs" / "ci.md"


def _hooks() -> list[dict[str, str]]:
    """.pre-commit-hooks.yaml read line by line (PyYAML is no dependency): each `- id:`
    starts a hook, and each `key: value` under it is one of its settings."""
    hooks: list[dict[str, str]] = []
    for line in HOOKS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item = re.fullmatch(r"(- |  )(\w+): (.*)", line)
        assert item is not None, f"not a 'key: value' line of a hook: {line!r}"
        if item[1] == "- ":
            hooks.append({})
        assert hooks, f"{line!r} comes before the first '- id:'"
        hooks[-1][item[2]] = item[3]
    return hooks


def test_the_pre_commit_hook_runs_backprop_check_once_with_the_users_args():
    (hook,) = _hooks()
    assert hook["id"] == "backprop-check" and hook["entry"] == "backprop-check"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] == "false"  # --impl names the file, not pre-commit
    assert re.search(hook["files"], "path/to/mynet.py") and not re.search(hook["files"],
                                                                         "README.md")
    assert "args" not in hook  # the user's --impl is theirs to set


def _commands(markdown: str) -> list[str]:
    """Every backprop-check command line of a page's code blocks (YAML's `- ` and `run: `
    in front of it left out), and each `args: [...]` list of a pre-commit config (in a
    code block or inline code), as the command it gives."""
    code = re.findall(r"```.*?```", markdown, flags=re.DOTALL) + re.findall(
        r"`(args: [^`\n]+)`", markdown)
    commands = []
    for line in "\n".join(code).splitlines():
        line = re.sub(r"^\s*(- )?(run: )?", "", line)
        if line.startswith("backprop-check "):
            commands.append(line)
        elif args := re.match(r"args: \[(.*)\]", line):
            commands.append(" ".join(["backprop-check", *re.split(r",\s*", args[1])]))
    return commands


def test_docs_ci_runs_backprop_check_with_only_the_options_its_help_lists():
    listed = set(re.findall(r"--[a-z][a-z-]*", build_parser().format_help()))
    commands = _commands(CI_PAGE.read_text(encoding="utf-8"))
    assert len(commands) >= 3, commands  # GitHub, GitLab, pre-commit
    used = {option for command in commands for option in re.findall(r"(?<!\S)--[a-z-]+",
                                                                     command)}
    assert {"--impl", "--junit-xml"} <= used
    assert used <= listed, f"docs/ci.md uses {sorted(used - listed)}, not in --help"
    for command in commands:
        assert re.search(r"--impl \S+\.py:\w+", command), command  # the path form
        build_parser().parse_args(shlex.split(command)[1:])  # valid values (exits 2 if not)

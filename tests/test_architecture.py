"""The layout rules of docs/layout.md, checked: a newcomer can rely on them.

- No function or method in backprop/ or checks/ is longer than MAX_LINES.
- No private name (`_name`) is imported from another module, in the packages,
  tests or tools: modules talk through public names (a test that pins a private
  helper says so on the import line with `# private:` and why).
- checks/ keeps at most MAX_TOP_LEVEL modules at its top level (the front doors);
  the engine, the network checker's internals and the CLI app are subpackages.
- What users import is what is installed: backprop and checks import nothing
  from tests or tools.
- The tests of the packages stand without the development tools: nothing in
  tests/ imports from tools, except the tests of the tools themselves
  (tests/tools/), of the timings (tests/benchmarks/) and of the README's samples
  (tests/test_readme.py, which regenerates them with tools/readme_samples.py).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("backprop", "checks")
MAX_LINES = 60
MAX_TOP_LEVEL = 10
# The tests that test the tools, and so may import them.
TESTS_OF_TOOLS = ("tests/tools", "tests/benchmarks", "tests/test_readme.py")


def python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def length(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from the def (decorators included) to the last line of the body."""
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return (node.end_lineno or node.lineno) - first + 1


@pytest.mark.parametrize("path", python_files(*PACKAGES), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_function_is_longer_than_a_screen(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    long = [f"{f.name} ({length(f)} lines, line {f.lineno})" for f in functions(tree)
            if length(f) > MAX_LINES]
    assert not long, f"{path.relative_to(ROOT)}: over {MAX_LINES} lines: {', '.join(long)}"


def private_imports(path: Path) -> Iterator[str]:
    """'from m import _x' and 'm._x' for another module m, unless the line says
    why with '# private:'."""
    lines = path.read_text().splitlines()
    tree = ast.parse("\n".join(lines), str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.module is None:
            continue
        end = node.end_lineno or node.lineno
        if any("# private:" in lines[k - 1] for k in range(node.lineno, end + 1)):
            continue
        for alias in node.names:
            if private(alias.name):
                yield f"line {node.lineno}: from {node.module} import {alias.name}"
    modules = {alias.asname or alias.name.split(".")[0] for node in ast.walk(tree)
               if isinstance(node, ast.Import) for alias in node.names}
    modules |= {alias.asname or alias.name for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module is not None
                and node.module.split(".")[0] in (*PACKAGES, "tests", "tools")
                for alias in node.names}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and private(node.attr)
                and isinstance(node.value, ast.Name) and node.value.id in modules
                and f"{node.value.id}.{node.attr}" not in PUBLIC_UNDERSCORED
                and "# private:" not in lines[node.lineno - 1]):
            yield f"line {node.lineno}: {node.value.id}.{node.attr}"


# The standard library's documented functions whose name starts with an underscore.
PUBLIC_UNDERSCORED = {"os._exit"}


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


@pytest.mark.parametrize("path", python_files(*PACKAGES, "tests", "tools"),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_name_is_imported_from_another_module(path: Path) -> None:
    found = list(private_imports(path))
    assert not found, f"{path.relative_to(ROOT)} imports private names: {'; '.join(found)}"


def test_checks_keeps_its_front_doors_at_the_top_and_the_rest_in_subpackages() -> None:
    top = sorted(p.name for p in (ROOT / "checks").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL, f"checks/ has {len(top)} top-level modules: {top}"
    for sub in ("engine", "netcheck", "cli"):
        assert (ROOT / "checks" / sub / "__init__.py").is_file()


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in a file, at any depth (a function's too)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, node.module or ""


@pytest.mark.parametrize("path", python_files(*PACKAGES), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_installed_packages_import_nothing_from_tests_or_tools(path: Path) -> None:
    for line, name in imports(path):
        assert name.split(".")[0] not in ("tests", "tools"), \
            f"{path.relative_to(ROOT)} line {line} imports {name}"


def package_tests() -> list[Path]:
    """Every file in tests/ but the tests of the tools."""
    return [p for p in python_files("tests")
            if not any(p.is_relative_to(ROOT / t) for t in TESTS_OF_TOOLS)]


@pytest.mark.parametrize("path", package_tests(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_tests_of_the_packages_import_nothing_from_tools(path: Path) -> None:
    for line, name in imports(path):
        assert name.split(".")[0] != "tools", \
            f"{path.relative_to(ROOT)} line {line} imports {name}"

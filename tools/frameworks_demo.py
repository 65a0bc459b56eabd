"""Run docs/frameworks.md's python blocks: the torch ones when torch imports, the JAX
ones when jax does, and say which were skipped otherwise.

A block whose first line is `# torch: ...` or `# jax: ...` belongs to that framework;
a framework's blocks run in order in one namespace, as a reader pastes them into one
session. torch and JAX are never dependencies of this project: run this from a
throwaway environment that has them and the project (`pip install -e .`), e.g.

    /work/throwaway/torch/bin/python tools/frameworks_demo.py
    python tools/frameworks_demo.py            # the project's venv: both skipped

and compare what it prints with the outputs shown on the page.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "frameworks.md"
FRAMEWORKS = ("torch", "jax")


def blocks(markdown: str) -> dict[str, list[str]]:
    """The page's python blocks, grouped by the framework their first line names."""
    grouped: dict[str, list[str]] = {name: [] for name in FRAMEWORKS}
    for source in re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL):
        first = re.match(r"# (\w+):", source)
        if first and first[1] in grouped:
            grouped[first[1]].append(source)
    return grouped


def run(name: str, sources: list[str]) -> None:
    """Each block in turn, in one namespace, named in tracebacks by its page line."""
    text = PAGE.read_text(encoding="utf-8")
    namespace: dict[str, object] = {"__name__": f"frameworks_{name}"}
    for source in sources:
        line = text[:text.index(source)].count("\n") + 1
        print(f"--- {name}, docs/frameworks.md line {line}", flush=True)
        exec(compile("\n" * (line - 1) + source, str(PAGE), "exec"), namespace)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("frameworks", nargs="*", metavar="{torch,jax}",
                        help="run only these (default: every one that imports)")
    chosen = parser.parse_args(argv).frameworks or list(FRAMEWORKS)
    unknown = [name for name in chosen if name not in FRAMEWORKS]
    if unknown:
        parser.error(f"unknown framework {unknown[0]!r}: choose from {', '.join(FRAMEWORKS)}")
    for name, sources in blocks(PAGE.read_text(encoding="utf-8")).items():
        if name not in chosen:
            continue
        if importlib.util.find_spec(name) is None:
            noun = "block" if len(sources) == 1 else "blocks"
            print(f"{name} is not installed here: skipped its {len(sources)} {noun} of "
                  f"docs/frameworks.md")
            continue
        version = getattr(importlib.import_module(name), "__version__", "?")
        print(f"=== {name} {version}", flush=True)
        run(name, sources)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

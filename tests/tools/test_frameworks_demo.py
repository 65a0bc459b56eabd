"""tools/frameworks_demo.py finds docs/frameworks.md's torch and JAX snippets, which are
valid Python, and says it skipped them where the framework is absent, as it is in the
project's own environment (torch and JAX are never dependencies)."""

import importlib.util

import pytest

from tools import frameworks_demo


def test_the_page_has_torch_and_jax_snippets_that_compile():
    grouped = frameworks_demo.blocks(frameworks_demo.PAGE.read_text(encoding="utf-8"))
    assert len(grouped["torch"]) >= 2 and len(grouped["jax"]) >= 1, {
        name: len(sources) for name, sources in grouped.items()}
    for name, sources in grouped.items():
        for source in sources:
            compile(source, f"docs/frameworks.md ({name})", "exec")


@pytest.mark.parametrize("name", frameworks_demo.FRAMEWORKS)
def test_the_demo_says_it_skipped_a_framework_that_is_not_installed(name, capsys):
    if importlib.util.find_spec(name) is not None:
        pytest.skip(f"{name} is installed here: the demo would run its snippets")
    assert frameworks_demo.main([name]) == 0
    assert capsys.readouterr().out.startswith(
        f"{name} is not installed here: skipped its"), name

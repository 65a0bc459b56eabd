"""checks.strategies without hypothesis (a plain `pip install .`): the ImportError says
which extra to install. The strategies themselves are exercised by every test that
draws from them."""

import importlib
import sys

import pytest


def test_importing_the_strategies_without_hypothesis_names_the_test_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "hypothesis", None)  # import hypothesis then fails
    monkeypatch.delitem(sys.modules, "checks.strategies", raising=False)
    with pytest.raises(ImportError) as info:
        importlib.import_module("checks.strategies")
    message = str(info.value)
    assert "pip install 'backprop-check[test]'" in message, message
    assert "pip install -e '.[test]'" in message, message
    assert info.value.name == "hypothesis"

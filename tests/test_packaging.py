"""What `pip install` ships beside the code: the PEP 561 marker that lets mypy read the
packages' annotations in a user's project."""

import tomllib
from importlib.resources import files
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("package", ["backprop", "checks"])
def test_each_package_ships_its_py_typed_marker(package):
    assert files(package).joinpath("py.typed").is_file()
    # An editable install reads the checkout; a wheel has only what package-data lists.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"][package]

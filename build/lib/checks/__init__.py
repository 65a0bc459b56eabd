"""Numerical gradient checks: `check_network` for backprop, `gradcheck` for any f.

Both return a `Report`: `report.ok`, `report.checked`, and str(report), a table
per equation and layer in which every mismatch names its equation, array,
element, analytic and numerical values, error and tolerance.

In pytest, `assert_network` and `assert_gradients` raise AssertionError carrying
that table. Pictures (needs matplotlib: pip install -e '.[plot]') are in
`checks.plot`.
"""

from checks.gradcheck import gradcheck
from checks.network import check_network, per_example
from checks.report import Block, Element, Report
from checks.testing import assert_gradients, assert_network

__all__ = [
    "Block",
    "Element",
    "Report",
    "assert_gradients",
    "assert_network",
    "check_network",
    "gradcheck",
    "per_example",
]

"""Numerical gradient checks: `check_network` for backprop, `gradcheck` for any f,
`check_vjp` for a vector-valued f's backward pass (a layer's).

Both return a `Report`: `report.ok`, `report.checked`, and str(report), a table
per equation and layer in which every mismatch names its equation, array,
element, analytic and numerical values, error and tolerance.

In pytest, `assert_network`, `assert_gradients` and `assert_vjp` raise AssertionError carrying
that table. Pictures (needs matplotlib: pip install -e '.[plot]') are in
`checks.plot`.
"""

from checks.gradcheck import gradcheck
from checks.network import check_network, per_example
from checks.report import Block, Element, Report
from checks.testing import assert_gradients, assert_network, assert_vjp
from checks.vjp import check_vjp

__all__ = [
    "Block",
    "Element",
    "Report",
    "assert_gradients",
    "assert_network",
    "assert_vjp",
    "check_network",
    "check_vjp",
    "gradcheck",
    "per_example",
]

"""Numerical gradient checks: `check_network` for backprop, `gradcheck` for any f.

Both return a `Report`: `report.ok`, `report.checked`, and str(report), a table
per equation and layer in which every mismatch names its equation, array,
element, analytic and numerical values, error and tolerance.
"""

from checks.gradcheck import gradcheck
from checks.network import check_network
from checks.report import Block, Element, Report

__all__ = ["Block", "Element", "Report", "check_network", "gradcheck"]

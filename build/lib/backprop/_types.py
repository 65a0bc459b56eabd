"""Shared type alias: every array in the package is a numpy array of floats
(complex while the checker takes a complex step)."""

from typing import Any

import numpy.typing as npt

Array = npt.NDArray[Any]

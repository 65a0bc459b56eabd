"""How noisy is f? Its noise level measured from f itself (ECnoise, Moré & Wild 2011).

f's computed value is its true value plus noise: the rounding of every operation
(about u times the terms f summed, whatever f's value), or any other noise (a
random term, an iterative solver's tolerance). Nothing outside f knows its size:
a float64 f whose terms of size 1 cancel to 1e-4 rounds like 1e-16, not like
u |f| = 1e-20, and a float32 f like 6e-8. So it is measured, along a seeded
random direction d of the params:

  f_i = f(x + i h d),  i = -4 .. 4     (NOISE_POINTS values)
  Delta^k f_i: the k-th differences of the table. A smooth f's are h^k f^(k)(x),
  which vanish fast as k grows; noise of standard deviation s gives
  E[(Delta^k f_i)^2] = s^2 (2k)! / (k!)^2 for every k. So
  s_k = sqrt(gamma_k mean_i (Delta^k f_i)^2),  gamma_k = (k!)^2 / (2k)!
  estimates s at every order where noise dominates (Moré & Wild's ECnoise).

A table settles when three consecutive orders k = 2 .. 6 agree within a factor
of 4 and their differences change sign (noise; a smooth remainder keeps its
sign): s is then the least of the three. But a kink of f (relu, max) inside the
table also looks like noise to one table; what tells them apart is the step:
noise does not change with h, a kink's share of the differences shrinks with h
(and so does the chance that the table reaches one). So the table is read at
h = 2^-12, 2^-16, ... (NOISE_STEPS rungs) and s is accepted where two
consecutive rungs settle and agree within a factor of 4: the larger of the two.
A table whose values are all equal (f constant along d, or h below f's
resolution) ends the ladder with s = 0. Where no two rungs agree, the smallest
estimate seen is kept (s_6 where a table did not settle: an upper bound of the
noise, curvature only adding to it), and marked as not accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import factorial

import numpy as np

NOISE_POINTS = 9  # f at x + i h d for i = -4 .. 4
NOISE_ORDERS = range(2, 7)  # the orders k whose estimates are compared
# The first h (times max(1, |x|) per element, as the stencils' steps) and the
# ladder below it: 2^-12, 2^-16, ... 2^-28.
NOISE_STEP, NOISE_SHRINK, NOISE_STEPS = 2.0**-12, 16.0, 5
AGREE = 4.0  # three orders' estimates within this factor of each other


def gamma(k: int) -> float:
    """(k!)^2 / (2k)!: E[(Delta^k e)^2] = s^2 / gamma_k for independent noise e."""
    return factorial(k) ** 2 / factorial(2 * k)


def estimates(values: np.ndarray) -> np.ndarray:
    """s_k for k = 1 .. len(values) - 1 from one table of f (module docstring)."""
    table = np.asarray(values, dtype=np.float64)
    scale = float(np.max(np.abs(table)))
    if scale == 0:
        return np.zeros(len(table) - 1)
    table = table / scale  # squares of f at 1e-290 would underflow
    s = []
    for k in range(1, len(table)):
        table = np.diff(table)
        s.append(np.sqrt(gamma(k) * np.mean(table**2)))
    return scale * np.array(s)


@dataclass(frozen=True)
class Noise:
    """f's noise level s (one standard deviation) and how it was measured: the step
    h along the direction, and whether the table settled (`accepted`) or s is the
    upper bound kept when none did."""

    s: float
    h: float
    accepted: bool


def settled(values: np.ndarray) -> float | None:
    """ECnoise's acceptance: s where three consecutive orders agree within AGREE and
    change sign, else None."""
    s = estimates(values)
    for k in NOISE_ORDERS[:-2]:
        three = s[k - 1: k + 2]
        if np.max(three) > AGREE * np.min(three) or np.min(three) == 0:
            continue
        differences = np.diff(values, n=k)
        if np.any(differences > 0) and np.any(differences < 0):
            return float(np.min(three))
    return None


def measure(along: Callable[[float], np.ndarray | None]) -> Noise:
    """f's noise level: along(h) gives f at x + i h d for i = -4 .. 4 (None when f
    cannot be evaluated there); the ladder of steps as the module docstring says."""
    found: list[tuple[float, float, bool]] = []  # (s, h, settled) per rung read
    for n in range(NOISE_STEPS):
        h = NOISE_STEP / NOISE_SHRINK**n
        values = along(h)
        if values is None or not np.all(np.isfinite(values)):
            continue
        if np.all(values == values[0]):
            # Nothing moved at this h: the noise is below what f's values resolve here.
            found.append((0.0, h, True))
            break
        s = settled(values)
        found.append((s, h, True) if s is not None
                     else (float(estimates(values)[max(NOISE_ORDERS) - 1]), h, False))
        if len(found) >= 2 and all(f[2] for f in found[-2:]) and agree(found[-2][0],
                                                                       found[-1][0]):
            return Noise(max(found[-2][0], found[-1][0]), h, True)
    if not found:
        return Noise(0.0, NOISE_STEP, False)
    s, h, _ = min(found)  # the least upper bound seen
    return Noise(s, h, False)


def agree(s: float, t: float) -> bool:
    """Two rungs' estimates within AGREE of each other (both 0 agree)."""
    return max(s, t) <= AGREE * min(s, t)

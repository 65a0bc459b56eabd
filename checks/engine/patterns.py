"""What a failing array's numbers show: the slip, in the user's words.

A black-box check knows nothing of f's structure, so a slip is named only from a
relation that the compared numbers themselves satisfy, element by element, within
the check's own tolerances (grad: the analytic array, num: the numerical one,
tol: the tolerance of each element, x: the params array itself):

    constant ratio    grad = c num              c = k, 1/k, 2, 1/2, -1, 0, or any c
    plus the params   grad = c num + r x        a data term scaled by c beside a
                                                term in x (an L2 regularization)
    transposed        grad = num^T              square arrays
    another array's   grad = num of array q     an array of the same shape
    one place         the mismatches lie in one row, one column or one element

Each relation must hold in every element, and is named only when at least
MIN_ELEMENTS elements tell it apart from the right gradient (|num| well above
tol for a ratio; num^T, or q's num, well apart from num): two near-zero elements
agree with any ratio. The first relation that holds is the one named; an array
that satisfies none gets no name (a wrong array without a single pattern).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from backprop import Array
from checks.report import Block, Note

# An element tells a relation apart when the difference it shows is this many
# tolerances: its ratio is then known to 10 % at worst (far better in practice,
# where tolerances are 1e-13 of the values).
WELL_ABOVE = 10.0
MIN_ELEMENTS = 2
# The fit of grad = c num + r x has two unknowns: two more elements confirm it.
MIN_FIT_ELEMENTS = 4


def notes(blocks: Sequence[Block], params: Sequence[Array]) -> list[Note]:
    """One Note per failing block whose numbers show a slip, in the blocks' order.
    params[p]: the values of block p's array (the x of 'plus the params')."""
    found = []
    for block, x in zip(blocks, params, strict=True):
        text = slip(block, blocks, x)
        if text is not None:
            found.append(Note(block.name, text))
    return found


def slip(block: Block, blocks: Sequence[Block], x: Array | None = None) -> str | None:
    """What block's numbers show, or None (block ok, or no single pattern).

    blocks: all the check's blocks (for 'another array's'); x: block's params."""
    read = readings(block)
    if block.ok or read is None:
        return None
    grad, num, tol = read
    c = constant_ratio(grad, num, tol)
    if c is not None:
        return ratio_words(c)
    fitted = None if x is None else ratio_plus_params(grad, num, tol, np.asarray(x, float))
    if fitted is not None:
        return plus_params_words(*fitted, block.name)
    if transposed(grad, num, tol):
        return ("grad is the transpose of the numerical gradient: the factors of a "
                "product in the wrong order?")
    for other in blocks:
        theirs = readings(other)
        if other is not block and theirs is not None and another_arrays(read, theirs):
            return (f"grad looks like the numerical gradient of {other.name}: "
                    "gradients swapped, or returned under the wrong name?")
    return one_place(block)


def readings(block: Block) -> tuple[Array, Array, Array] | None:
    """(grad, num, tol) of block; None if it has no arrays. An unverified element's
    numerical value is not known to within its tolerance, so it takes part in no
    relation: there grad = num = 0 and tol = inf."""
    if block.analytic is None or block.numeric is None or block.tolerance is None:
        return None
    known = (np.ones(block.numeric.shape, bool) if block.ratios is None
             else ~np.isnan(block.ratios))
    return (np.where(known, block.analytic, 0.0), np.where(known, block.numeric, 0.0),
            np.where(known, block.tolerance, np.inf))


def consistent(grad: Array, num: Array, tol: Array, c: float) -> bool:
    """grad = c num in every element within both sides' tolerance: |grad - c num|
    <= (1 + |c|) tol (num's error is scaled by c, grad's own is tol)."""
    return bool(np.all(np.abs(grad - c * num) <= (1 + abs(c)) * tol))


def constant_ratio(grad: Array, num: Array, tol: Array) -> float | None:
    """c != 1 with grad = c num in every element (`consistent`), measured on the
    elements where |num| is well above tol (at least MIN_ELEMENTS of them); a whole
    number k, 1/k or 0 when that holds too (4, not 4.0000001)."""
    significant = np.abs(num) > WELL_ABOVE * tol
    if np.sum(significant) < MIN_ELEMENTS or consistent(grad, num, tol, 1.0):
        return None
    c = float(np.median(grad[significant] / num[significant]))
    if not np.isfinite(c):
        return None
    for candidate in (*simple_values(c), c):
        if candidate != 1 and consistent(grad, num, tol, candidate):
            return candidate
    return None


def simple_values(c: float) -> list[float]:
    """The whole number, the reciprocal of one, and 0 nearest to c."""
    values = [float(round(c)), 0.0]
    if c != 0 and abs(c) < 1:
        values.append(1 / round(1 / c))
    return values


def ratio_words(c: float, where: str = "every element") -> str:
    """'every element is 4 times too large (the numerical one times 4.00): a missing 1/m?'"""
    if c == 0:
        return (f"{where} is 0, the numerical gradient is not: never computed, or "
                "never added to?")
    if c == -1:
        return f"{where} has the wrong sign (x -1)"
    named = size_words(abs(c))
    if named is None:
        return (f"{where} is {c:.3g} times the numerical one (the ratio is constant: "
                "a scale factor)")
    size, hint = named
    sign = "has the wrong sign and " if c < 0 else ""
    return f"{where} {sign}is {size} (the numerical one times {c:.2f}){hint}"


def size_words(magnitude: float) -> tuple[str, str] | None:
    """How |grad| compares with |num| when |grad| = magnitude |num|, and the slip
    that usually makes that ratio; None unless magnitude is k or 1/k, k >= 2 whole."""
    k = round(magnitude)
    if k >= 2 and magnitude == k:
        return f"{k} times too large", (": a factor 2 in a squared term?" if k == 2
                                        else ": a missing 1/m (a sum for a mean)?")
    if 0 < magnitude < 1 and 1 / magnitude == round(1 / magnitude):
        k = round(1 / magnitude)
        return ("half as large", ": a factor 2 in a squared term?") if k == 2 else (
            f"{k} times too small", ": divided by m once too often?")
    return None


def ratio_plus_params(grad: Array, num: Array, tol: Array,
                      x: Array) -> tuple[float, float] | None:
    """(c, r) with grad = c num + r x in every element within (1 + |c|) tol, r x
    well above tol somewhere; fitted by least squares weighted by 1/tol on the
    elements where |num| is well above tol (at least MIN_FIT_ELEMENTS). c is a
    whole number when that fits too."""
    significant = np.abs(num) > WELL_ABOVE * tol
    if np.sum(significant) < MIN_FIT_ELEMENTS or x.shape != num.shape:
        return None
    w = 1 / tol[significant]
    design = np.stack([num[significant] * w, x[significant] * w], axis=1)
    if np.linalg.matrix_rank(design) < 2:  # x in proportion to num: a ratio or nothing
        return None
    c = float(np.linalg.lstsq(design, grad[significant] * w, rcond=None)[0][0])
    if not np.isfinite(c):  # a NaN in grad
        return None
    for c_try in (*simple_values(c), c):
        # r again with c fixed: one unknown, fitted the same way
        r_try = float(np.sum((grad - c_try * num)[significant] * x[significant] * w * w)
                      / np.sum((x[significant] * w) ** 2))
        residual = np.abs(grad - c_try * num - r_try * x)
        if (np.all(residual <= (1 + abs(c_try)) * tol)
                and np.max(np.abs(r_try * x) / tol) > WELL_ABOVE):
            return c_try, r_try
    return None


def plus_params_words(c: float, r: float, name: str) -> str:
    """grad = c num + r x, in words."""
    data = "numerical" if c == 1 else f"{c:.3g} x numerical"
    formula = f"grad = {data} {'+' if r > 0 else '-'} {abs(r):.3g} x {name}"
    if c == 1:
        return f"{formula}: a regularization term with the wrong factor, or missing?"
    if c == 0:
        return f"{formula}: only a term in {name} itself, the data term left out?"
    named = size_words(abs(c))
    apart = f"{formula}: apart from a term in {name} itself (a regularization term)"
    if named is None:
        return f"{apart}, the ratio is constant: a scale factor"
    size, hint = named
    sign = "has the wrong sign and " if c < 0 else ""
    return f"{apart}, every element {sign}is {size}{hint}"


def transposed(grad: Array, num: Array, tol: Array) -> bool:
    """grad = num^T within both tolerances, for a square array where num^T is well
    apart from num in at least MIN_ELEMENTS elements."""
    if grad.ndim != 2 or grad.shape[0] != grad.shape[1]:
        return False
    both = tol + tol.T
    apart = np.abs(num - num.T) > WELL_ABOVE * both
    return bool(np.sum(apart) >= MIN_ELEMENTS and np.all(np.abs(grad - num.T) <= both))


def another_arrays(mine: tuple[Array, Array, Array],
                   theirs: tuple[Array, Array, Array]) -> bool:
    """My grad = their numerical gradient within both tolerances, where that is well
    apart from mine in at least MIN_ELEMENTS elements (readings: grad, num, tol)."""
    (grad, num, tol), (_, other, other_tol) = mine, theirs
    if other.shape != grad.shape:
        return False
    both = tol + other_tol
    apart = np.abs(other - num) > WELL_ABOVE * both
    return bool(np.sum(apart) >= MIN_ELEMENTS and np.all(np.abs(grad - other) <= both))


def one_place(block: Block) -> str | None:
    """'only row 3 is wrong' (2-D), 'only column 1', 'only one element, [2, 5]';
    for a row or column, its ratio when the numbers there show one."""
    index = [e.index for e in block.mismatches]
    shape = block.analytic.shape if block.analytic is not None else ()
    if len(index) == 1 and block.checked > 1:
        return f"only one element is wrong, {list(index[0])}"
    if len(shape) != 2 or len(index) < MIN_ELEMENTS:
        return None
    for axis, what in ((0, "row"), (1, "column")):
        lines = {i[axis] for i in index}
        if len(lines) == 1 and shape[axis] > 1:
            line = lines.pop()
            return f"only {what} {line} is wrong" + line_ratio(block, axis, line)
    return None


def line_ratio(block: Block, axis: int, line: int) -> str:
    """'; there, every element is 2 times too large ...' for one row or column."""
    assert block.analytic is not None and block.numeric is not None
    assert block.tolerance is not None
    grad, num, tol = (np.take(a, line, axis=axis)
                      for a in (block.analytic, block.numeric, block.tolerance))
    c = constant_ratio(grad, num, tol)
    return "" if c is None else "; " + ratio_words(c, where="there, every element")

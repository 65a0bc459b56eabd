"""What a failed check says about the derivation: the first broken equation and the slip.

Comparing each array with numerical derivatives tells *where* the gradients are
wrong; a wrong delta makes every array computed from it wrong too. So each
equation is also checked *locally*, on the implementation's own numbers:

    BP1  delta[L-1] against BP1 from the forward pass (the numerical check itself)
    BP2  delta[l]   against (W[l+1]^T delta[l+1]) ⊙ sigma'(z[l]) with ITS delta[l+1]
    BP3  db[l]      against the mean of ITS delta[l]
    BP4  dW[l]      against ITS delta[l] @ a[l].T / m

Walking the backward pass, the first mismatched array whose local equation also
fails is a broken equation; a mismatched array whose local equation holds is
wrong only because the delta it was built from is ("follows from delta[l]").
Then the slip is named when the numbers show it: a constant ratio to the
numerical values (m: a missing 1/m; -1: a sign), a single row, column or
element, or equality with one of the common slips of backprop.slips, recomputed
by the derivation's own steps (backprop.derivation) with the slip's step in
place, on the implementation's own numbers (sigma'(a) for sigma'(z), W for
W^T, ...): the catalogue the tests plant them from.
Local checks allow the rounding of that one step (checks.netcheck.error_model's table)
on top of the array's own tolerance; they only explain, never decide a verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from backprop import Array, ArrayId, Gradients, backward_order, derivation
from backprop.derivation import Pass, built_from
from backprop.slips import recomputed
from checks.netcheck.error_model import Model, Table, Term, local_terms
from checks.report import NOT_GIVEN, Block, Finding


@dataclass(frozen=True)
class Diagnosis:
    """What the numbers say about a failed check, in backward order.

    findings: the broken equations, each with its slip where the numbers show one.
    follows_from: array -> the delta it is built from, for each mismatched array
    whose own equation holds (wrong only because that delta is wrong).
    """

    findings: tuple[Finding, ...] = ()
    follows_from: Mapping[ArrayId, ArrayId] = field(default_factory=dict)


def diagnose(model: Model, g: Gradients, blocks: Sequence[Block],
             delta_of_mean: bool = False) -> Diagnosis:
    """The broken equations and the arrays that only follow from a wrong delta, in
    backward order; empty when every block passed. Modifies nothing.

    g.delta is per example (dC_x/dz); delta_of_mean: the blocks of delta are in units
    of the batch mean cost (check_network's delta="mean")."""
    bad = {b.id: b for b in blocks if b.id is not None and not b.ok and b.method != NOT_GIVEN}
    if not bad:
        return Diagnosis()
    local = _Local(model, g, set(bad))
    mean = _other_delta(blocks, model.ref.X.shape[1], delta_of_mean)
    findings: list[Finding] = []
    follows: dict[ArrayId, ArrayId] = {}
    for array in backward_order(model.ref.L):
        block = bad.get(array)
        if block is None:
            continue
        source = local.source(array)
        if source is not None and local.holds(array):
            follows[array] = source
            continue
        slips = [mean] if mean and array.kind == "delta" else _slip_lines(local, block, array)
        findings.append(Finding(array, _root_line(local, block, array),
                                "; ".join(slips) or None))
    return Diagnosis(tuple(findings), follows)


def _other_delta(blocks: Sequence[Block], m: int, delta_of_mean: bool) -> str:
    """The suggestion of the other check_network(delta=...) when every given delta is
    off by exactly its factor, within tolerance (1/m: a delta of the mean cost checked
    per example; m: the reverse), while every dW and db passed; else ""."""
    deltas = [b for b in blocks if b.id is not None and b.id.kind == "delta"
              and b.method != NOT_GIVEN]
    rest = [b for b in blocks if b.id is not None and b.id.kind != "delta"]
    if m < 2 or not deltas or not all(b.ok for b in rest):
        return ""
    factor = m if delta_of_mean else 1 / m
    ratios = [_constant_ratio(b) for b in deltas]
    if not all(c is not None and abs(c / factor - 1) <= 1e-6 for c in ratios):
        return ""
    if delta_of_mean:
        return (f"your delta is the per-example δ, ∂C_x/∂z (m = {m} times ∂C/∂z of the "
                "mean cost): check it with delta='per_example' (backprop-check without "
                "--delta mean)")
    return (f"your delta is ∂C/∂z of the mean cost (the per-example δ divided by m = {m}, "
            "as CS231n's dscores): check it with delta='mean' (backprop-check --delta mean)")


def _root_line(local: _Local, block: Block, array: ArrayId) -> str:
    l, L = array.layer, array.L
    if array.equation == "BP1":
        return f"BP1 at the output layer: {block.name} != dC/da ⊙ sigma'(z[{l}])"
    if array.kind == "delta":
        upstream = "is right" if local.right(ArrayId("delta", l + 1, L)) else "is wrong too"
        return (f"BP2 at layer {l}: delta[{l}] != (W[{l + 1}]^T delta[{l + 1}]) ⊙ "
                f"sigma'(z[{l}]), computed from your own delta[{l + 1}] (which {upstream})")
    if not local.given_delta:
        return f"{block.equation} at layer {l}: {array.kind}[{l}] is wrong"
    if array.kind == "db":
        return f"BP3 at layer {l}: db[{l}] != mean over the batch of your delta[{l}]"
    return f"BP4 at layer {l}: dW[{l}] != your delta[{l}] @ a[{l}].T / m"


def _slip_lines(local: _Local, block: Block, array: ArrayId) -> list[str]:
    """The slip, if the numbers show one: a catalogue match, a ratio, a pattern."""
    for words, value in local.slips(array):
        if local.close(array, value):
            return [f"matches: {words}"]
    lines = []
    ratio = _constant_ratio(block)
    if ratio is not None:
        lines.append(_name_ratio(ratio, local.model.ref.X.shape[1]))
    pattern = _pattern(block)
    if pattern:
        lines.append(pattern)
    return lines


def _constant_ratio(block: Block) -> float | None:
    """c if analytic = c * numeric in every element, within tolerance (c != 1)."""
    a, n, tol = block.analytic, block.numeric, block.tolerance
    if a is None or n is None or tol is None or not np.all(np.isfinite(a)):
        return None  # NaN or inf in the analytic side: no scale factor explains it
    significant = np.abs(n) > 4 * tol
    if not np.any(significant):
        return None
    c = float(np.median(a[significant] / n[significant]))
    if not np.isfinite(c) or abs(c - 1) < 1e-6:
        return None
    if np.all(np.abs(a - c * n) <= tol * (1 + abs(c)) + 1e-6 * np.abs(c * n)):
        return c
    return None


def _name_ratio(c: float, m: int) -> str:
    names: list[tuple[float, str]] = [
        (-1.0, "-1: the sign is flipped"),
        (2.0, "2: a factor 2 too many (the derivative of 1/2 (a - y)^2 is a - y)?"),
        (0.5, "1/2: a factor 1/2 too many?"),
    ]
    if m > 1:
        names[:0] = [(float(m), f"m = {m} times too large: a missing 1/m (sum for mean)?"),
                     (1.0 / m, f"1/m = 1/{m}: divided by m once too often?"),
                     (float(m * m), f"m^2 = {m * m}: a sum where two means belong?")]
    if c == 0:
        return "every element is 0: this array was never computed (a loop one layer short?)"
    for value, text in names:
        if abs(c - value) <= 1e-6 * abs(value):
            return f"every element is {text}"
    return f"every element is {c:.6g} times the numerical value"


def _pattern(block: Block) -> str:
    """'only row j=3 is wrong' and the like, from where the mismatches are."""
    if not block.mismatches:
        return ""
    index = np.array([e.index for e in block.mismatches])
    names = block.mismatches[0].index_names
    if len(index) == 1 and block.checked > 1:
        return f"only one element is wrong: {block.mismatches[0].where()}"
    if index.shape[1] == 2 and block.checked > 1:
        rows, cols = set(index[:, 0]), set(index[:, 1])
        if len(rows) == 1 and block.analytic is not None and block.analytic.shape[0] > 1:
            return f"only row {names[0]}={rows.pop()} is wrong"
        if len(cols) == 1 and block.analytic is not None and block.analytic.shape[1] > 1 \
                and names[1]:
            return f"only column {names[1]}={cols.pop()} is wrong"
    return ""


class _Local:
    """The local form of each equation, on the implementation's own numbers: the
    derivation's own steps (backprop.derivation) run on the float64 reference's
    forward pass and the implementation's upstream delta."""

    def __init__(self, model: Model, g: Gradients, bad: set[ArrayId]) -> None:
        self.model, self.g, self.bad = model, g, bad
        self.given_delta = bool(g.delta)
        self.table: Table = local_terms(model.ref, cached=True)
        ref = model.ref
        self.p = Pass(ref.W, ref.net.sigma, ref.net.cost_fn, ref.Y, ref.z, ref.a)

    def source(self, array: ArrayId) -> ArrayId | None:
        """The delta this array is computed from in its local equation (None: BP1,
        or no delta given)."""
        return built_from(array) if self.given_delta else None

    def right(self, array: ArrayId) -> bool:
        """Whether the implementation's array passed its numerical check."""
        return array not in self.bad

    def upstream(self, array: ArrayId) -> Array | None:
        """The implementation's own delta that array is computed from (None: BP1)."""
        source = built_from(array)
        return None if source is None else source.of(self.g)

    def rounding(self, array: ArrayId, upstream: Array) -> Array:
        """The rounding that array's one step may add to its upstream, in absolute terms."""
        ref, table, l = self.model.ref, self.table, array.layer
        if array.kind == "delta":
            t = ref.W[l + 1].T @ upstream
            d = table.magnitudes.sigma_prime[l]
            assert d is not None
            bound = (table.W_T_delta(l, np.abs(upstream)).worst * d
                     + table.times_sigma_prime(l, np.abs(t)).worst
                     + np.abs(t) * _worst(table.sigma_prime[l]))
            return ref.tolerance_per_E * bound
        if array.kind == "db":
            return ref.tolerance_per_E * table.db(l, np.abs(upstream)).worst
        return ref.tolerance_per_E * table.dW(l, np.abs(upstream)).worst

    def holds(self, array: ArrayId) -> bool:
        """Whether array's local equation holds (array is not BP1's delta and delta
        is given): within its tolerance plus that one step's rounding."""
        upstream = self.upstream(array)
        assert upstream is not None
        value = derivation.local(self.p, array, upstream)
        tol = self.model.tol[array] + self.rounding(array, upstream)
        return bool(np.all(np.abs(array.of(self.g) - value) <= tol))

    def close(self, array: ArrayId, candidate: Array) -> bool:
        """Whether the implementation's array equals candidate within tolerance."""
        actual = array.of(self.g)
        if np.shape(candidate) != actual.shape:
            return False
        tol = self.model.tol[array]
        scale = np.max(np.abs(candidate), initial=0.0)
        return bool(np.all(np.abs(actual - candidate) <= 4 * tol + 1e-9 * scale))

    def slips(self, array: ArrayId) -> list[tuple[str, Array]]:
        """The words and values of the catalogue's slips of this equation
        (backprop.slips), each recomputed by the derivation with its step replaced,
        on the implementation's own upstream delta."""
        if built_from(array) is not None and not self.given_delta:
            return []
        p, l, upstream = self.p, array.layer, self.upstream(array)
        try:
            with np.errstate(all="ignore"):
                values = [(slip.says(l),
                           derivation.local(replace(p, steps=slip.steps), array, upstream))
                          for slip in recomputed(array.equation, p, l)]
        except (ValueError, IndexError):  # a slip that does not fit this network's shapes
            return []
        return [(words, value) for words, value in values if np.all(np.isfinite(value))]


def _worst(term: Term | None) -> Array | float:
    return 0.0 if term is None else term.worst

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
element, or equality with one of the common slips recomputed from the
implementation's own numbers (sigma'(a) for sigma'(z), W for W^T, ...).
Local checks allow the rounding of that one step (checks.error_model's table)
on top of the array's own tolerance; they only explain, never decide a verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from backprop import Array, Gradients
from checks.netcheck.error_model import Model, Table, Term, local_terms
from checks.report import NOT_GIVEN, Block, Finding


@dataclass(frozen=True)
class Slip:
    """A common mistake, recomputed from the implementation's own numbers."""

    description: str
    value: Array


def diagnose(model: Model, g: Gradients, blocks: list[Block]) -> list[Finding]:
    """The broken equations, in backward order, each with its slip where the numbers
    show one; marks each block that only follows from a wrong delta (follows_from).
    Empty when every block passed."""
    bad = {(b.array, b.layer): b for b in blocks if not b.ok and b.method != NOT_GIVEN}
    if not bad:
        return []
    local = _Local(model, g, set(bad))
    findings: list[Finding] = []
    for l in range(model.ref.L - 1, -1, -1):
        for array in ("delta", "db", "dW"):
            block = bad.get((array, l))
            if block is None:
                continue
            source = local.source(array, l)
            if source is not None and local.holds(array, l):
                block.follows_from = source
                continue
            slips = _slip_lines(local, block, array, l)
            findings.append(Finding(block.equation, array, l, _root_line(local, block, array, l),
                                    "; ".join(slips) or None))
    return findings


def explain(findings: list[Finding], blocks: list[Block], given_delta: bool) -> list[str]:
    """The diagnosis as report lines."""
    if not findings:
        return []
    lines = ["Diagnosis (the backward pass, from the output layer down):"]
    for finding in findings:
        lines.append("  " + finding.text)
        if finding.slip:
            lines.append("    " + finding.slip)
    consequences = [b for b in blocks if b.follows_from]
    if consequences:
        lines.append("  Wrong only because the delta they are built from is wrong: "
                     + ", ".join(f"{b.name} ({b.equation}, from {b.follows_from})"
                                 for b in consequences))
    if not given_delta:
        lines.append("  delta not given: a wrong dW or db may come from BP1/BP2 or from "
                     "BP3/BP4 itself; return delta to tell them apart")
    return lines


def _root_line(local: _Local, block: Block, array: str, l: int) -> str:
    L = local.model.ref.L
    if array == "delta" and l == L - 1:
        return f"BP1 at the output layer: {block.name} != dC/da ⊙ sigma'(z[{l}])"
    if array == "delta":
        upstream = "is right" if local.right("delta", l + 1) else "is wrong too"
        return (f"BP2 at layer {l}: delta[{l}] != (W[{l + 1}]^T delta[{l + 1}]) ⊙ "
                f"sigma'(z[{l}]), computed from your own delta[{l + 1}] (which {upstream})")
    if not local.given_delta:
        what = "db" if array == "db" else "dW"
        return f"{block.equation} at layer {l}: {what}[{l}] is wrong"
    if array == "db":
        return f"BP3 at layer {l}: db[{l}] != mean over the batch of your delta[{l}]"
    return f"BP4 at layer {l}: dW[{l}] != your delta[{l}] @ a[{l}].T / m"


def _slip_lines(local: _Local, block: Block, array: str, l: int) -> list[str]:
    """The slip, if the numbers show one: a catalogue match, a ratio, a pattern."""
    for slip in local.slips(array, l):
        if local.close(array, l, slip.value):
            return [f"matches: {slip.description}"]
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
    if a is None or n is None or tol is None:
        return None
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
    """The local form of each equation, on the implementation's own numbers."""

    def __init__(self, model: Model, g: Gradients, bad: set[tuple[str | None, int | None]]
                 ) -> None:
        self.model, self.g, self.bad = model, g, bad
        self.given_delta = bool(g.delta)
        self.table: Table = local_terms(model.ref, cached=True)

    def source(self, array: str, l: int) -> str | None:
        """The array this one is computed from, in its local equation (None: BP1)."""
        if not self.given_delta:
            return None
        if array == "delta":
            return None if l == self.model.ref.L - 1 else f"delta[{l + 1}]"
        return f"delta[{l}]"

    def right(self, array: str, l: int) -> bool:
        """Whether the implementation's array passed its numerical check."""
        return (array, l) not in self.bad

    def expected(self, array: str, l: int) -> tuple[Array, Array]:
        """The local equation's value from the implementation's own upstream array, and
        the rounding that one step may add (in absolute terms)."""
        ref, g, table = self.model.ref, self.g, self.table
        gamma, m = ref.gamma, ref.X.shape[1]
        if array == "delta":
            delta_next = g.delta[l + 1]
            t = ref.W[l + 1].T @ delta_next
            d = table.abs_sigma_prime[l]
            assert d is not None
            bound = (table.W_T_delta(l, np.abs(delta_next)).worst * d
                     + table.times_sigma_prime(l, np.abs(t)).worst
                     + np.abs(t) * _worst(table.sigma_prime[l]))
            return t * ref.net.sigma[l].sigma_prime(ref.z[l]), gamma * bound
        delta = g.delta[l]
        if array == "db":
            return delta.mean(axis=1, keepdims=True), gamma * table.db(l, np.abs(delta)).worst
        return delta @ ref.a[l].T / m, gamma * table.dW(l, np.abs(delta)).worst

    def holds(self, array: str, l: int) -> bool:
        value, rounding = self.expected(array, l)
        tol = getattr(self.model.tol, array)[l] + rounding
        return bool(np.all(np.abs(getattr(self.g, array)[l] - value) <= tol))

    def close(self, array: str, l: int, candidate: Array) -> bool:
        """Whether the implementation's array equals candidate within tolerance."""
        actual = getattr(self.g, array)[l]
        if np.shape(candidate) != actual.shape:
            return False
        tol = getattr(self.model.tol, array)[l]
        scale = np.max(np.abs(candidate), initial=0.0)
        return bool(np.all(np.abs(actual - candidate) <= 4 * tol + 1e-9 * scale))

    def slips(self, array: str, l: int) -> list[Slip]:
        """The common slips of this equation, recomputed from the implementation's numbers."""
        make: Callable[[int], list[Slip]] = {
            "delta": self._bp1_slips if l == self.model.ref.L - 1 else self._bp2_slips,
            "db": self._bp3_slips, "dW": self._bp4_slips}[array]
        try:
            with np.errstate(all="ignore"):
                return [s for s in make(l) if np.all(np.isfinite(s.value))]
        except (ValueError, IndexError):  # a slip that does not fit this network's shapes
            return []

    def _bp1_slips(self, l: int) -> list[Slip]:
        ref = self.model.ref
        sigma, cost = ref.net.sigma[l], ref.net.cost_fn
        a, z, Y = ref.a[l + 1], ref.z[l], ref.Y
        g = cost.dC_da(a, Y)
        right = (cost.delta(a, Y) if cost.delta is not None else sigma.backward(z, g))
        slips = [Slip("sigma' left out: delta^L = dC/da", g),
                 Slip("the sign is flipped (y - a where a - y belongs)", -right)]
        if sigma.elementwise:
            slips += [Slip("sigma' evaluated at a instead of z", g * sigma.sigma_prime(a))]
            if cost.delta is not None:
                slips += [Slip("a - y multiplied by sigma' again (the simplification already "
                               "includes it)", (a - Y) * sigma.sigma_prime(z)),
                          Slip("dC/da = -(y/a + (1 - y)/(1 - a)): a sign slip in the "
                               "derivative of the cross-entropy",
                               -(Y / a + (1 - Y) / (1 - a)) * sigma.sigma_prime(z))]
        else:
            slips += [Slip("softmax treated as elementwise (only the diagonal of its Jacobian)",
                           g * a * (1 - a))]
        if self.given_delta:
            slips += [Slip("delta returned as the batch mean",
                           np.broadcast_to(right.mean(axis=1, keepdims=True), right.shape))]
        return slips

    def _bp2_slips(self, l: int) -> list[Slip]:
        ref, g = self.model.ref, self.g
        W, sigma, z, a = ref.W, ref.net.sigma, ref.z, ref.a
        delta_next = g.delta[l + 1]
        t = W[l + 1].T @ delta_next
        prime = sigma[l].sigma_prime(z[l])
        slips = [Slip("sigma' left out: delta^l = W^T delta^{l+1}", t),
                 Slip("sigma' evaluated at a instead of z", t * sigma[l].sigma_prime(a[l + 1])),
                 Slip("the sign is flipped", -(t * prime))]
        if W[l + 1].shape[0] == W[l + 1].shape[1]:
            slips.append(Slip(f"W[{l + 1}] used where its transpose belongs",
                              (W[l + 1] @ delta_next) * prime))
        if W[l].shape == (delta_next.shape[0], delta_next.shape[0]):
            slips.append(Slip(f"the wrong layer's weights: W[{l}] for W[{l + 1}]",
                              (W[l].T @ delta_next) * prime))
        if z[l + 1].shape == z[l].shape:
            slips.append(Slip(f"the next layer's sigma'(z[{l + 1}]) for sigma'(z[{l}])",
                              t * sigma[l + 1].sigma_prime(z[l + 1])))
        return slips

    def _bp3_slips(self, l: int) -> list[Slip]:
        if not self.given_delta:
            return []
        delta = self.g.delta[l]
        return [Slip("the first example's delta only, not the batch mean", delta[:, :1])]

    def _bp4_slips(self, l: int) -> list[Slip]:
        ref = self.model.ref
        m = ref.X.shape[1]
        delta = self.g.delta[l] if self.given_delta else None
        slips = []
        if delta is not None:
            if l > 0:
                slips.append(Slip(f"z[{l - 1}] used where a[{l}] belongs (the activations "
                                  "before sigma)", delta @ ref.z[l - 1].T / m))
            if ref.a[l + 1].shape[0] == ref.a[l].shape[0]:
                slips.append(Slip(f"the wrong layer's activations: a[{l + 1}] for a[{l}]",
                                  delta @ ref.a[l + 1].T / m))
            right = delta @ ref.a[l].T / m
            if right.shape[0] == right.shape[1]:
                slips.append(Slip("dW transposed", right.T))
        return slips


def _worst(term: Term | None) -> Array | float:
    return 0.0 if term is None else term.worst

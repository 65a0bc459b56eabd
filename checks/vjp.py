"""check_vjp: the vector-Jacobian product of a vector-valued f, against numerics.

A layer's backward pass, `affine_backward(dout, cache) -> dx, dw, db`, is the
vector-Jacobian product v^T J of its forward pass f(params) at the upstream
gradient v = dout: the gradient of the scalar <v, f(params)>. check_vjp checks it
as gradcheck checks a gradient, with the same engine, error model and verdicts
(`checks.engine`), for several cotangents v at once: seeded random ones (two, so
that a slip one random v happens to hide is still seen), and the caller's own.

f is evaluated once per moved point whatever the number of cotangents: the
projections <v, f> on every cotangent are kept per point (`Outputs`). So the
numerical side costs what one gradcheck costs, the Jacobian-vector products
J e_k being computed once, and every cotangent's check reuses them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backprop import Array
from backprop import validate as v
from checks.engine import patterns
from checks.engine.blackbox import BlackBox, survey
from checks.engine.elements import Ticker, judge
from checks.engine.params import (
    Layout,
    check_directions,
    check_grad,
    check_options,
    check_params,
)
from checks.gradcheck import Params
from checks.report import Block, Element, Note, Report

COTANGENTS = 2  # seeded random cotangents checked when none is given (and besides one given)
SHOWN_INPUTS = 3  # mismatched input elements whose outputs are looked for
MAX_OUTPUTS = 4096  # the outputs are looked for only in an f with at most this many


@dataclass
class Outputs:
    """f's outputs, flattened, with the structure to rebuild a cotangent shaped like
    them (one array, or a list or dict of arrays); and, per point f was evaluated
    at (keyed by a digest of the params), the projections <v, f> on every cotangent
    v, so each point costs one evaluation and a few numbers of memory."""

    f: Callable[[Any], Any]
    layout: Layout
    keys: tuple[str, ...] | None = None  # a dict of outputs: its keys
    shapes: list[tuple[int, ...]] = field(default_factory=list)
    single: bool = True  # one array, not a list or dict
    kept: dict[bytes, Array] = field(default_factory=dict)
    vectors: Array = field(default_factory=lambda: np.zeros((0, 0)))  # the cotangents, flat

    def flat(self, out: Any, where: str) -> Array:
        """f's output as one flat vector (complex if f computed in complex)."""
        parts = self.parts(out, where)
        for k, q in enumerate(parts):
            if q.dtype.kind not in "biufc":
                raise TypeError(f"f must return arrays of numbers, got dtype {q.dtype} for "
                                f"output {k} at {where}")
        return np.concatenate([q.ravel() for q in parts]) if parts else np.zeros(0)

    def parts(self, out: Any, where: str) -> list[Array]:
        if isinstance(out, Mapping):
            return [np.asarray(out[k]) for k in (self.keys or tuple(out))]
        if isinstance(out, (list, tuple)):
            return [np.asarray(q) for q in out]
        return [np.asarray(out)]

    def learn(self, out: Any) -> Array:
        """The structure of f's output, from its value at params; that value, flat."""
        self.single = not isinstance(out, (Mapping, list, tuple))
        self.keys = tuple(out) if isinstance(out, Mapping) else None
        self.shapes = [q.shape for q in self.parts(out, "params")]
        center = self.flat(out, "params")
        if not np.all(np.isfinite(center)) or np.iscomplexobj(center):
            raise ValueError("f must return finite real numbers at params")
        return center

    def at(self, arrays: list[Array]) -> Array:
        """f's flat outputs at arrays."""
        return self.flat(self.f(self.layout.pack(arrays)), "a moved point")

    def projections(self, arrays: list[Array]) -> Array:
        """<v, f(arrays)> for every cotangent v, evaluating f once per point."""
        digest = hashlib.blake2b(digest_size=16)
        for q in arrays:
            digest.update(q.dtype.char.encode())
            digest.update(q.tobytes())
        key = digest.digest()
        if key not in self.kept:
            self.kept[key] = self.vectors @ self.at(arrays)
        return self.kept[key]

    def shaped(self, vector: Array) -> Any:
        """A flat cotangent shaped like f's output."""
        cuts = np.cumsum([int(np.prod(s)) for s in self.shapes])[:-1]
        parts = [q.reshape(s) for q, s in zip(np.split(vector, cuts), self.shapes, strict=True)]
        if self.single:
            return parts[0]
        return dict(zip(self.keys, parts, strict=True)) if self.keys else parts


def check_vjp(
    f: Callable[[Any], Any],
    vjp: Callable[[Any, Any], Any],
    params: Params,
    *,
    cotangent: Any = None,
    seed: int = 0,
    method: str = "auto",
    rtol: float = 0.0,
    atol: float = 0.0,
    step: float | None = None,
    directions: int | None = None,
    accept_unverified: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Compare vjp(params, v) with the numerical gradient of <v, f(params)>.

    f: params (a list of arrays, or a dict name -> array) -> an array, or a list or
    dict of arrays. vjp: (params, v) -> the gradients of <v, f(params)>, shaped like
    params (a list, or a dict with params' keys), v shaped like f's output. The
    cotangents v: COTANGENTS seeded standard normal ones (seed), and cotangent
    too when given; rows read `vjp v0 W[i0=.., i1=..]` ("v": the given one). The
    rest, as gradcheck's (`checks.gradcheck`).

    Raises TypeError/ValueError for bad arguments, an f whose output is not real
    arrays, a cotangent not shaped like it, or a vjp result of the wrong kind.
    """
    step = _check_options(f, vjp, method, rtol, atol, step, accept_unverified, seed, progress)
    directions = check_directions(directions)  # None: element by element
    layout, originals = check_params(params)
    work = [q.astype(np.float64) for q in originals]
    outputs = Outputs(f, layout)
    first = f(layout.pack([q.copy() for q in work]))
    center = outputs.learn(first)
    blocks: list[Block] = []
    found = None
    chosen = _cotangents(outputs, center, cotangent, seed)
    ticker = Ticker(progress, 0 if directions else len(chosen) * sum(q.size for q in work))
    outputs.vectors = np.array([vector for _, vector in chosen])
    where = tuple(map(layout.where, range(len(work))))
    for c, (label, vector) in enumerate(chosen):
        def number(out: Array, at: str, real: bool, c: int = c) -> complex:
            return complex(out[c])

        box = BlackBox(outputs.projections, number, work, where)
        value = float(np.dot(vector, center))
        (analytic, u_a), (again, _) = (
            check_grad(vjp(layout.pack([q.copy() for q in originals]),
                           outputs.shaped(vector.copy())), layout, originals) for _ in range(2))
        names = [layout.name(p) for p in range(len(work))]
        found = survey(box, method, step, value)  # f's points are kept: free for v1, v2
        judged, found = judge(box, found, value, rtol, atol, analytic, u_a, names,
                              f"vjp {label}", again, directions, ticker)
        blocks += judged
    assert found is not None
    # each cotangent sees the same slip: said once
    notes = list(dict.fromkeys(patterns.notes(blocks, work * (len(blocks) // len(work)))))
    notes += _outputs_at_fault(outputs, vjp, layout, originals, blocks, center.size)
    return Report(blocks, found.method.name, found.header(), title="check_vjp",
                  accept_unverified=accept_unverified, notes=notes)


def _outputs_at_fault(outputs: Outputs, vjp: Callable[[Any, Any], Any], layout: Layout,
                      originals: list[Array], blocks: list[Block], n_out: int) -> list[Note]:
    """For the worst mismatched input element of each array (at most SHOWN_INPUTS), the
    outputs its error sits in: the column J e_k of the Jacobian, read by vjp with
    each output's unit cotangent (n_out calls of vjp, so only for f with at most
    MAX_OUTPUTS outputs) against the numerical one (central differences of f), and
    the outputs holding the largest differences named."""
    if n_out > MAX_OUTPUTS:
        return []
    worst: dict[int, Element] = {}
    for k, block in enumerate(blocks):
        p = k % len(originals)
        if block.mismatches and p not in worst:
            worst[p] = max(block.mismatches, key=lambda e: e.error / max(e.tolerance, 1e-300))
    notes = []
    for p, element in list(worst.items())[:SHOWN_INPUTS]:
        column = np.array([check_grad(vjp(layout.pack([q.copy() for q in originals]),
                                          outputs.shaped(unit)), layout, originals)[0][p]
                           [element.index] for unit in np.eye(n_out)])
        numeric = _column(outputs, originals, p, element.index)
        apart = np.abs(column - numeric)
        if not np.any(apart > 0):
            continue
        at = np.flatnonzero(apart >= apart.max() / 10)
        notes.append(Note(layout.name(p), f"the error at {layout.name(p)}{list(element.index)} "
                          f"sits in output{'s' if len(at) > 1 else ''} "
                          f"{', '.join(_output_name(outputs, j) for j in at[:6])}"
                          + (f" and {len(at) - 6} more" if len(at) > 6 else "")
                          + f" (of {n_out})"))
    return notes


def _column(outputs: Outputs, originals: list[Array], p: int, index: tuple[int, ...]) -> Array:
    """J e_k by central differences of f's outputs (h = 2^-17 times max(1, |x|))."""
    h = 2.0**-17 * max(1.0, abs(float(originals[p][index])))
    ends = []
    for sign in (1.0, -1.0):
        moved = [q.astype(np.float64) for q in originals]
        moved[p][index] += sign * h
        ends.append(outputs.at(moved).real)
    return (ends[0] - ends[1]) / (2 * h)


def _output_name(outputs: Outputs, j: int) -> str:
    """Flat output j as the user's output reads it: y[i0, i1] (out[k][...] for a list)."""
    sizes = np.cumsum([int(np.prod(s)) for s in outputs.shapes])
    part = int(np.searchsorted(sizes, j, side="right"))
    offset = j - (int(sizes[part - 1]) if part else 0)
    index = list(np.unravel_index(offset, outputs.shapes[part])) if outputs.shapes[part] else []
    label = "f" if outputs.single else (f"f[{outputs.keys[part]!r}]" if outputs.keys
                                        else f"f[{part}]")
    return f"{label}{[int(i) for i in index]}"


def _cotangents(outputs: Outputs, center: Array, cotangent: Any, seed: int) -> list[
        tuple[str, Array]]:
    """(label, flat v) for each cotangent checked."""
    rng = np.random.default_rng(seed)
    chosen = [(f"v{c}", rng.standard_normal(center.size)) for c in range(COTANGENTS)]
    if cotangent is not None:
        given = outputs.flat(cotangent, "cotangent")
        if given.shape != center.shape or outputs.shapes != [
                q.shape for q in outputs.parts(cotangent, "cotangent")]:
            raise ValueError(f"cotangent must be shaped like f's output "
                             f"({', '.join(str(s) for s in outputs.shapes)})")
        if np.iscomplexobj(given) or not np.all(np.isfinite(given)):
            raise ValueError("cotangent must hold finite real numbers")
        chosen.append(("v", given.astype(np.float64)))
    return chosen


def _check_options(f: Any, vjp: Any, method: Any, rtol: float, atol: float, step: Any,
                   accept_unverified: Any, seed: Any, progress: Any) -> float | None:
    """f and vjp callables, an int seed; the rest as params.check_options (step
    returned as a float)."""
    for what, fn in (("f", f), ("vjp", vjp)):
        if not callable(fn):
            raise TypeError(f"{what} must be a callable, got {type(fn).__name__}")
    v.check_seed(seed, optional=False)
    return check_options(method, rtol, atol, step, accept_unverified, progress)


__all__ = ["check_vjp"]

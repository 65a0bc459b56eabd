"""check_network: every delta[l], dW[l] and db[l] of a backprop against numerical derivatives.

The stages, one module each, each a function of the previous stage's values:
  checks.netcheck.error_model  the float64 reference (built once per check) and the
                               error model: one table of local rounding terms, and the
                               worst-case bound E and the flush bound F propagated from it
  checks.netcheck.sampled      the sampled deviations D (Monte Carlo arithmetic) from
                               the same table
  checks.netcheck.perturb      the numerical derivatives (perturbations run onward through
                               the network), kinks, directional mode, and the comparison
  checks.netcheck.diagnose     the broken equations and their slips
  checks.report                the frozen Report and all of its rendering
  checks.network               this module: the public entry points, which validate their
                               arguments and put the stages together
The tolerance of each element is stated once, in checks.netcheck.error_model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from backprop import COSTS, Array, ArrayId, Gradients, Network, loop, vectorized
from backprop.arrays import as_gradients
from backprop.costs import one_hot
from backprop.inputs import check_net, check_XY
from backprop.validate import check_number, check_seed, counted
from checks.engine.params import check_directions, check_progress
from checks.engine.stencils import check_method, choose_method
from checks.netcheck import perturb
from checks.netcheck.diagnose import diagnose
from checks.netcheck.error_model import (
    ULPS,
    Model,
    Reference,
    flush_terms,
    local_terms,
    propagate,
    reference,
    tolerance,
)
from checks.netcheck.sampled import sampled_deviations
from checks.report import Block, Finding, Report

Impl = Callable[[Network, Array, Array], Gradients]
DELTAS = ("per_example", "mean")  # what the delta of the backprop under test is: see check_network


def analyse(net: Network, X: Array, Y: Array, cached_derivatives: bool = True,
            ulps: float = ULPS) -> Model:
    """The error model of net on a checked batch X, Y: the float64 reference, E and
    the tolerance of every element of delta, dW and db (see checks.netcheck.error_model)."""
    return error_model(reference(net, X, Y), cached_derivatives, ulps)


def error_model(ref: Reference, cached_derivatives: bool, ulps: float) -> Model:
    """The error model of a float64 reference: one table of local terms; E and F
    propagated from it (F from its flush form); D sampled from it; the tolerance."""
    table = local_terms(ref, cached_derivatives, ulps)
    F = propagate(ref, table.magnitudes, flush_terms(ref, table))
    E = propagate(ref, table.magnitudes, table)
    return tolerance(ref, E, sampled_deviations(ref, table), F)


def _check_cached(cached_derivatives: Any) -> bool:
    if not isinstance(cached_derivatives, bool):
        raise TypeError(f"cached_derivatives must be True or False, got {cached_derivatives!r}")
    return cached_derivatives


def _check_ulps(ulps: Any) -> float:
    """ulps: a finite number >= 1 (a function cannot be more accurate than rounding)."""
    number = check_number(ulps, "ulps")
    if number < 1:
        raise ValueError(f"ulps must be >= 1 (the rounding of one operation), got {ulps!r}")
    return number


def _check_delta(delta: Any) -> str:
    if not isinstance(delta, str) or delta not in DELTAS:
        raise (ValueError if isinstance(delta, str) else TypeError)(
            f"delta must be 'per_example' (dC_x/dz, one column per example) or 'mean' "
            f"(dC/dz of the batch mean cost, the per-example delta / m), got {delta!r}")
    return delta


def _labels(net: Network, Y: Any) -> Array | None:
    """Y as integer class labels (m,) for a cost that takes them; None when Y is not
    one-dimensional (targets (n_L, m), checked by check_XY)."""
    try:
        array = np.asarray(Y)
    except (TypeError, ValueError):
        return None  # check_XY names what is wrong with Y
    n = net.sizes[-1]
    if array.ndim != 1:
        return None
    if not net.cost_fn.takes_labels:
        if array.dtype.kind not in "iu":
            return None
        takers = ", ".join(repr(c) for c, fn in COSTS.items() if fn.takes_labels)
        raise ValueError(f"Y of shape {array.shape} holds integer class labels, which only "
                         f"cost {takers} takes; cost {net.cost!r} needs targets Y of shape "
                         f"({n}, m)")
    if array.dtype.kind not in "iu":
        raise TypeError(f"Y of shape {array.shape} is read as class labels, which must be "
                        f"integers 0..{n - 1}, got dtype {array.dtype}: pass Y.astype(int), "
                        f"or one-hot targets of shape ({n}, m)")
    outside = (array < 0) | (array >= n)
    if np.any(outside):
        x = int(np.argmax(outside))
        raise ValueError(f"Y[{x}] = {array[x]}, but class labels must be in 0..{n - 1} (the "
                         f"network's output layer has {n} neurons)")
    return array


def _batch(net: Network, X: Any, Y: Any) -> tuple[Array, Array, Array]:
    """X and Y as check_XY returns them, and the Y that a user's backprop receives: Y
    itself, or for integer class labels (m,) the labels, while the checker's Y is their
    one-hot form (n_L, m) in the network's dtype."""
    labels = _labels(check_net(net), Y)
    if labels is None:
        X, Y = check_XY(net, X, Y)
        return X, Y, Y
    X, Y = check_XY(net, X, one_hot(labels, net.sizes[-1], net.dtype))
    return X, Y, labels


def _implementation(impl: Any) -> tuple[Impl, str]:
    if isinstance(impl, str):
        if impl == "vectorized":
            return vectorized.backprop, "vectorized.backprop"
        if impl == "loop":
            return loop.backprop, "loop.backprop"
        raise ValueError(f"impl must be 'vectorized', 'loop' or a callable, got {impl!r}")
    if callable(impl):
        return impl, getattr(impl, "__qualname__", repr(impl))
    raise TypeError(f"impl must be 'vectorized', 'loop' or a callable, got {impl!r}")


def _field(g: Any, field: str) -> Any:
    """g.field, or g[field] for a mapping; None if it has no such field."""
    if isinstance(g, Mapping):
        return g.get(field)
    return getattr(g, field, None)


def _as_gradients(g: Any, net: Network, m: int,
                  name: str) -> tuple[Gradients, dict[str, str]]:
    """The analytic gradients as float64 arrays, after checking counts, shapes and
    dtypes; and the notes on arrays returned in a floating dtype less precise than
    the network's (still checked: the report's diagnosis says why they fail).

    g: Gradients (or anything with dW, db and optionally delta attributes) or a
    mapping with keys "dW", "db" and optionally "delta". A missing, None or empty
    delta is "not given": the result's delta is then empty.
    """
    if _field(g, "dW") is None or _field(g, "db") is None:
        raise TypeError(f"{name} must return Gradients(delta, dW, db), got "
                        f"{type(g).__name__} (a dict with keys 'dW' and 'db', 'delta' "
                        f"optional, works too){_nielsen_hint(g)}")
    sizes = net.sizes
    shapes = {
        "delta": [(n, m) for n in sizes[1:]],
        "dW": [W.shape for W in net.weights],
        "db": [(n, 1) for n in sizes[1:]],
    }
    out: dict[str, list[Array]] = {"delta": []}
    coarse: dict[str, str] = {}  # array name -> why it cannot match
    for field, expected in shapes.items():
        arrays = _field(g, field)
        if field == "delta" and (arrays is None or (isinstance(arrays, Sequence)
                                                    and len(arrays) == 0)):
            continue  # not given: BP1 and BP2 are then not checked directly
        if isinstance(arrays, (str, bytes, np.ndarray)) or not isinstance(arrays, Sequence):
            raise TypeError(f"{name} returned {field} of type {type(arrays).__name__}, "
                            f"expected a list of {counted(net.L, 'array')}")
        if len(arrays) != net.L:
            raise ValueError(f"{name} returned {counted(len(arrays), 'array')} in {field}, "
                             f"but the network has {counted(net.L, 'layer')}")
        out[field] = []
        for l, (array, shape) in enumerate(zip(arrays, expected, strict=True)):
            value = _array(array, f"{field}[{l}]", shape, net.dtype, name)
            if np.finfo(value.dtype).eps > np.finfo(net.dtype).eps:
                coarse[f"{field}[{l}]"] = (
                    f"{field}[{l}] is {value.dtype} but the network is {net.dtype}: its "
                    f"rounding, ~{np.finfo(value.dtype).eps / 2:.0e} relative, is above a "
                    f"{net.dtype} tolerance")
            out[field].append(value.astype(np.float64))
    return Gradients(delta=out["delta"], dW=out["dW"], db=out["db"]), coarse


def _array(array: Any, where: str, shape: tuple[int, ...], dtype: np.dtype[Any],
           name: str) -> Array:
    """One returned array, checked to be floating point of the expected shape."""
    try:
        value = np.asarray(array)
    except ValueError:
        raise ValueError(f"{name} returned {where} that is not an array of "
                         f"shape {shape}") from None
    if value.dtype.kind != "f":
        raise TypeError(f"{name} returned {where} with dtype {value.dtype}: expected "
                        f"floating point, the network is {dtype}")
    if value.shape != shape:
        raise ValueError(f"{name} returned {where} with shape {value.shape}, "
                         f"expected {shape}")
    return value


def _nielsen_hint(g: Any) -> str:
    """For a (nabla_b, nabla_w) pair of lists, how to check it (per_example)."""
    if isinstance(g, tuple) and len(g) == 2 and all(isinstance(p, list) for p in g):
        return (": a (nabla_b, nabla_w) of one example, as in Nielsen's book? wrap it: "
                "batch = per_example(backprop) (docs/code-shapes.md)")
    return ""


PerExample = Callable[[Network, Array, Array], Any]


def per_example(backprop: PerExample) -> Impl:
    """A batch implementation made of a per-example backprop, as Nielsen's book writes it.

    backprop(net, x, y) takes one example, x (n_0, 1) and y (n_L, 1) (or its label,
    of shape (1,), when the batch's Y is class labels), and returns
    (nabla_b, nabla_w), lists per layer of dC_x/db (n_{l+1}, 1) and dC_x/dW
    (n_{l+1}, n_l), in that order (or a dict with keys "db" and "dW"). The result
    averages them over the batch (db, dW of the mean cost), and since
    dC_x/db = delta_x (BP3), takes nabla_b of example x as column x of delta: a
    wrong nabla_b shows up under BP1/BP2 as well as BP3.

        check_network(net, X, Y, impl=per_example(my_backprop))
    """
    if not callable(backprop):
        raise TypeError(f"per_example needs a callable (net, x, y) -> (nabla_b, nabla_w), "
                        f"got {type(backprop).__name__}")
    name = getattr(backprop, "__qualname__", repr(backprop))

    def batch(net: Network, X: Array, Y: Array) -> Gradients:
        m = X.shape[1]
        deltas: list[list[Array]] = [[] for _ in range(net.L)]
        dW = [np.zeros(W.shape) for W in net.weights]
        for x in range(m):
            y = Y[x:x + 1] if Y.ndim == 1 else Y[:, x:x + 1]  # a label, or a column
            nabla_b, nabla_w = _per_example_result(
                backprop(net, X[:, x:x + 1].copy(), y.copy()), net, name, x)
            for l in range(net.L):
                deltas[l].append(nabla_b[l])
                dW[l] += nabla_w[l] / m
        delta = [np.concatenate(columns, axis=1) for columns in deltas]
        return Gradients(delta=delta, dW=dW, db=[d.mean(axis=1, keepdims=True) for d in delta])

    batch.__qualname__ = f"per_example({name})"
    return batch


def _per_example_result(result: Any, net: Network, name: str,
                        x: int) -> tuple[list[Array], list[Array]]:
    """(nabla_b, nabla_w) of one example as float64 arrays of the right shapes."""
    if isinstance(result, Mapping):
        result = (result.get("db"), result.get("dW"))
    if not isinstance(result, Sequence) or isinstance(result, (str, bytes)) or len(result) != 2:
        raise TypeError(f"{name} must return (nabla_b, nabla_w) or a dict with keys 'db' and "
                        f"'dW' for one example, got {type(result).__name__} for example {x}")
    shaped, _ = _as_gradients({"db": result[0], "dW": result[1]}, net, 1,
                              f"{name} (example {x})")
    return shaped.db, shaped.dW


def check_network(net: Network, X: Any, Y: Any, impl: str | Impl = "vectorized", *,
                  method: str = "auto", directions: int | None = None,
                  seed: int = 0, cached_derivatives: bool = True, ulps: float = ULPS,
                  progress: Callable[[int, int], None] | None = None,
                  delta: str = "per_example") -> Report:
    """Check delta, dW and db of every layer of `impl` against numerical derivatives.

    impl: "vectorized", "loop", or a callable (net, X, Y) -> Gradients (your own
    backprop). method: "auto" (complex step when the network is complex-safe,
    else Richardson), "complex_step", "richardson" or "central".
    Each mismatch is reported under its equation: BP1 (delta of the output
    layer), BP2 (delta of the others), BP3 (db), BP4 (dW). The tolerance of each
    element comes from the error model (checks.netcheck.error_model). An element
    at a kink (relu, leaky_relu at 0) is checked as a subgradient: between the
    one-sided derivatives (checks.netcheck.kinks.at_kinks); one that cannot be is
    skipped, with the reason.

    Y: targets (n_L, m), or for categorical_cross_entropy integer class labels (m,)
    in 0..n_L-1: checked in their one-hot form, given to a callable impl as they are.

    delta: what impl's delta[l] is. "per_example" (default): dC_x/dz[l], column x
    for example x (Nielsen's). "mean": dC/dz[l] of the batch mean cost, the
    per-example delta / m (CS231n's dscores); numerical values and tolerances / m.

    directions: fast mode for large networks: each array is checked along
    `directions` seeded random directions u (<g, u> against the numerical
    directional derivative), element-wise only if that fails (so failures are
    localised as usual); the projection's tolerance grows with the N elements it
    sums: this mode finds gross errors cheaply, not the element-wise sensitivity.

    cached_derivatives: True (default) allows sigma' from the cached activation
    (1 - a^2, a (1 - a)), accurate only to a few u absolute, so saturated units
    (sigma' < u) are checked only to that level. False, for an impl computing
    sigma'(z) to full relative precision (sech^2 z via e^{-2|z|}, sigmoid(z)
    sigmoid(-z), as sigma_prime does), checks every element to a few ulps.

    ulps: the accuracy assumed of each elementwise function of impl (sigma,
    sigma', dC/da, the exp and log inside them), in units of the roundoff; the
    default covers numpy and the common libraries (docs/calibration.md). Raise it
    for fast-math or approximate functions; the report's title then shows it.

    progress, if given, is called as progress(done, total) in elements of delta,
    dW and db checked so far, often enough for a time estimate. Nothing passed
    in is modified: the implementation receives copies.
    impl's arrays must be floating point (one less precise than the network's is
    checked as it is, its dtype named). Raises TypeError/ValueError for bad arguments
    (all checked before impl runs), a malformed result or a changed network.
    """
    X, Y, received = _batch(net, X, Y)  # checks net first
    rng = np.random.default_rng(check_seed(seed, optional=False))
    fn, name = _implementation(impl)
    method, directions = check_method(method), check_directions(directions)
    cached, ulps = _check_cached(cached_derivatives), _check_ulps(ulps)
    progress, delta = check_progress(progress), _check_delta(delta)
    received = Y if isinstance(impl, str) else received  # ours take one-hot targets
    g, coarse = _run(fn, name, net, X, received)
    unit = 1.0 if delta == "per_example" else 1 / X.shape[1]
    assumed = "" if ulps == ULPS else f" (elementwise functions allowed {ulps:g} ulps)"
    return _checked(analyse(net, X, Y, cached, ulps), g, method, directions, rng, progress,
                    unit, f"check_network({name}) {net!r}{assumed}", coarse)


def _run(fn: Impl, name: str, net: Network, X: Array,
         Y: Array) -> tuple[Gradients, dict[str, str]]:
    """fn's gradients on copies of net, X and Y, checked (_as_gradients), after checking
    that fn left its copy of the network as it received it."""
    clone = Network(net.weights, net.biases, list(net.activations), net.cost)
    parameters = _parameters(clone)
    result = fn(clone, X.copy(), Y.copy())
    _check_unchanged(net, clone, parameters, name)
    return _as_gradients(result, net, X.shape[1], name)


Parameters = dict[str, tuple[list[Array], list[Array]]]


def _parameters(net: Network) -> Parameters:
    """net.weights and net.biases: each list, and a copy of it (its arrays)."""
    return {"weights": (net.weights, list(net.weights)),
            "biases": (net.biases, list(net.biases))}


def _check_unchanged(net: Network, clone: Network, before: Parameters, name: str) -> None:
    """ValueError naming the first parameter of clone (the network the implementation
    received) that it replaced or changed: its gradients would be those of another
    network. Its arrays are read-only, but a list entry can be rebound."""
    for field, (listed, arrays) in before.items():
        now = getattr(clone, field)
        if now is not listed or len(now) != len(arrays):
            raise ValueError(f"{name} replaced net.{field}: a backprop must not change "
                             "the network")
        for l, (array, original) in enumerate(zip(now, getattr(net, field), strict=True)):
            if array is not arrays[l]:
                raise ValueError(f"{name} replaced net.{field}[{l}]: a backprop must not "
                                 "change the network (compute a changed copy in a "
                                 "variable of its own)")
            if not np.array_equal(array, original, equal_nan=True):
                raise ValueError(f"{name} changed net.{field}[{l}] in place: a backprop "
                                 "must not change the network")


def _checked(model: Model, g: Gradients, method: str, directions: int | None,
             rng: np.random.Generator, progress: Callable[[int, int], None] | None,
             unit: float, title: str, coarse: Mapping[str, str] | None = None) -> Report:
    """The report of check_network on validated arguments: the method chosen, every
    array checked (delta in `unit`s: 1/m for delta of the mean cost), the diagnosis;
    coarse: array name -> note, for those returned in a dtype less precise than the
    network's."""
    chosen, reason = choose_method(method, lambda: perturb.complex_safe(model))
    blocks = perturb.check_arrays(model, g, chosen, directions=directions, rng=rng,
                                  progress=progress, delta_unit=unit)
    diagnosis = diagnose(model, _per_example_delta(g, unit), blocks, delta_of_mean=unit != 1)
    of_mean = "" if unit == 1 else " (delta of the mean cost)"
    findings = [_with_dtype_note(f, coarse or {}) for f in diagnosis.findings]
    return _report(blocks, diagnosis.follows_from, findings, chosen.name, reason,
                   title + of_mean)


def _with_dtype_note(finding: Finding, coarse: Mapping[str, str]) -> Finding:
    """finding, its slip led by the dtype's rounding when its array was returned in a
    dtype less precise than the network's (then a likely cause of the mismatch)."""
    note = coarse.get(finding.id.name)
    if note is None:
        return finding
    return dataclasses.replace(finding, slip=note + (f"; {finding.slip}" if finding.slip else ""))


def _per_example_delta(g: Gradients, unit: float) -> Gradients:
    """g with delta as dC_x/dz, for the diagnosis's local equations (BP3: db is the mean
    of delta): a delta of the mean cost (unit 1/m) times m."""
    if unit == 1 or not g.delta:
        return g
    return dataclasses.replace(g, delta=[d / unit for d in g.delta])


def _report(blocks: Sequence[Block], follows_from: Mapping[ArrayId, ArrayId],
            findings: Sequence[Finding], method: str, reason: str, title: str) -> Report:
    """The frozen Report of check_network: each block with the delta it follows from
    (an array wrong only because that delta is), the diagnosis's findings."""
    return Report([dataclasses.replace(b, follows_from=follows_from.get(b.id) if b.id else None)
                   for b in blocks], method, reason, title=title, findings=list(findings))


def error_scales(net: Network, X: Any, Y: Any, ulps: float = ULPS) -> tuple[Gradients, float]:
    """The error model's bounds E for delta, dW and db, in units of the returned u
    (Y as check_network takes it: targets, or class labels).

    A correct computation of the gradients in the network's dtype (unit
    roundoff u) is off by at most about u * E, element by element.
    """
    X, Y, _ = _batch(net, X, Y)
    model = analyse(net, X, Y, ulps=_check_ulps(ulps))
    return as_gradients(model.E, net.L), model.ref.u


def tolerances(net: Network, X: Any, Y: Any, cached_derivatives: bool = True,
               ulps: float = ULPS) -> Gradients:
    """The analytic side's tolerance for every element of delta, dW and db (Y as
    check_network takes it; delta per example).

    min(2 (u + u64) E, SAFETY * the largest deviation over SAMPLES perturbed
    re-runs), plus the underflow terms (checks.netcheck.error_model.tolerance):
    what check_network allows an element to differ from the numerical reference,
    before the numerical method's own error.
    """
    check_net(net)  # net, then the options, then X and Y
    cached, ulps = _check_cached(cached_derivatives), _check_ulps(ulps)
    X, Y, _ = _batch(net, X, Y)
    model = analyse(net, X, Y, cached, ulps)
    return as_gradients(model.tol, net.L)

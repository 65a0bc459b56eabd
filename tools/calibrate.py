"""Measure the checker: the smallest planted error it catches, and its false alarms.

    python -m tools.calibrate [--cases 200] [--seed 0] [--no-cached-derivatives]

For each method and dtype, draws seeded random networks (every activation and
cost, depth 1-4, widths 1-8, batch 1-8, weight scale up to 3), checks the correct
vectorized gradients (any failure is a false alarm), then plants a relative error
r in one element of delta, dW or db whose magnitude is at least 1 % of its array's
largest, for r = 1e-2, 1e-3, ..., and reports the smallest r caught in every case.
A miss is marked unresolvable when a correct implementation (loop or vectorized,
measured against the exact gradients in extended precision) is itself off by at
least r / 2 in that element: catching r there would fail a correct gradient.

The cases, the planting and cached_everywhere are tests/checks/planting.py, which
the precision tests share (tests import nothing from tools); run from a checkout.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from backprop import Array, Gradients, Network, derivation, loop, vectorized
from checks.network import analyse, check_network, tolerances
from tests.checks.planting import (
    Element,
    cached_everywhere,
    kink_elements,
    pick_element,
    plant,
    random_case,
)


def precise_gradients(net: Network, X: Array, Y: Array) -> Gradients:
    """delta, dW, db in extended precision (np.longdouble; 80-bit on x86-64 Linux).

    Only to measure how far a correct float64 or float32 computation is from
    the exact gradients; the checker never uses it. sigma' comes from z.
    """
    W, b = ([p.astype(np.longdouble) for p in ps] for ps in (net.weights, net.biases))
    return derivation.backprop(W, b, net.sigma, net.cost_fn, X.astype(np.longdouble),
                               Y.astype(np.longdouble))


def rounding_of_correct(net: Network, X: Array, Y: Array, element: Element,
                        cached: bool = True) -> float:
    """The relative error, in one element, of correct implementations in the
    network's dtype, the largest of: loop, vectorized and (cached: the ones
    that cached_derivatives=True accepts) cached_everywhere."""
    field, l, index = element
    exact = float(getattr(precise_gradients(net, X, Y), field)[l][index])
    impls = [loop.backprop, vectorized.backprop] + ([cached_everywhere] if cached else [])
    errors = [abs(float(getattr(impl(net, X, Y), field)[l][index]) - exact) for impl in impls]
    return max(errors) / abs(exact) if exact else float("inf")


def margin(cases: int, seed: int, dtype: type) -> tuple[float, float, float]:
    """How close correct gradients come to their tolerance: over `cases` random
    networks and every element of loop, vectorized and cached_everywhere
    gradients, |g - exact| /
    tolerance (exact in extended precision): the largest, its 99th percentile
    over arrays, and the largest among elements whose tolerance the sampled
    deviations set (SAFETY D below 2 (u + u64) E). Below 1 means no false alarm;
    the gap is the safety margin."""
    rng = np.random.default_rng(seed)
    worst, sampled = [], [0.0]
    for _ in range(cases):
        net, X, Y = random_case(rng, dtype)
        exact, model = precise_gradients(net, X, Y), analyse(net, X, Y)
        for g in (loop.backprop(net, X, Y), vectorized.backprop(net, X, Y),
                  cached_everywhere(net, X, Y)):
            for array, t in model.tol.items():
                error = np.abs(array.of(g) - array.of(exact).astype(np.float64))
                ratio = np.where(error > 0, error / t, 0.0)
                worst.append(float(np.max(ratio)))
                by_samples = t < model.ref.tolerance_per_E * model.E[array]
                if np.any(by_samples):
                    sampled.append(float(np.max(ratio[by_samples])))
    return max(worst), float(np.quantile(worst, 0.99)), max(sampled)


def measure(cases: int, seed: int, dtype: type, method: str,
            ladder: Sequence[float], cached: bool = True) -> dict[str, object]:
    """False alarms over `cases` correct gradients; caught counts for each planted r.

    For each r, also counts the misses at elements where a correct
    implementation (loop or vectorized) is itself off by at least r / 2: no
    check can catch r there without failing that correct implementation.
    cached: plant into vectorized gradients (sigma' from cached activations in
    hidden layers) and check with the default cached_derivatives=True; False:
    plant into loop gradients (sigma' from z) and check with cached_derivatives=False.
    """
    backprop = vectorized.backprop if cached else loop.backprop
    rng = np.random.default_rng(seed)
    false_alarms, caught = 0, dict.fromkeys(ladder, 0)
    unresolvable = dict.fromkeys(ladder, 0)
    tried = 0
    for _ in range(cases):
        net, X, Y = random_case(rng, dtype)
        g = backprop(net, X, Y)
        report = check_network(net, X, Y, impl=lambda *_, g=g: g, method=method,
                               cached_derivatives=cached)
        false_alarms += not report.ok
        bound = tolerances(net, X, Y, cached)
        choice = pick_element(rng, g, kink_elements(net, X, Y, method, cached), bound)
        if choice is None:
            continue
        tried += 1
        own_error = None
        for rel in ladder:
            bad = plant(g, *choice, rel)
            if not check_network(net, X, Y, impl=lambda *_, b=bad: b, method=method,
                                 cached_derivatives=cached).ok:
                caught[rel] += 1
                continue
            if own_error is None:
                own_error = rounding_of_correct(net, X, Y, choice, cached)
            unresolvable[rel] += own_error >= rel / 2
    smallest = min((r for r in ladder if caught[r] == tried), default=None)
    return {"false_alarms": false_alarms, "cases": cases, "planted": tried,
            "caught": caught, "unresolvable": unresolvable,
            "smallest_caught_everywhere": smallest}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.calibrate", description=__doc__)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cached-derivatives", action="store_true",
                        help="plant into loop gradients (sigma' from z) and check them with "
                             "cached_derivatives=False")
    args = parser.parse_args(argv)
    ladder = [10.0**-e for e in range(2, 15)]
    print("caught / planted per r; +Nu: N of the misses are unresolvable (a correct "
          "implementation is itself off by >= r/2 there)")
    print(f"{'method':<13} {'dtype':<8} {'false alarms':>13} {'smallest r caught':>18}  "
          "caught / planted per r")
    for dtype in (np.float64, np.float32):
        for method in ("complex_step", "richardson", "central"):
            r = measure(args.cases, args.seed, dtype, method, ladder,
                        cached=not args.no_cached_derivatives)
            caught, unresolvable = r["caught"], r["unresolvable"]
            assert isinstance(caught, dict) and isinstance(unresolvable, dict)
            detail = " ".join(f"{k:.0e}:{v}" + (f"+{unresolvable[k]}u" if unresolvable[k] else "")
                              for k, v in caught.items())
            smallest = r["smallest_caught_everywhere"]
            print(f"{method:<13} {np.dtype(dtype).name:<8} "
                  f"{r['false_alarms']:>6} / {r['cases']:<5} "
                  f"{(f'{smallest:.0e}' if smallest else 'none'):>18}  "
                  f"[{r['planted']} planted] {detail}", flush=True)
    for dtype in (np.float64, np.float32):
        top, p99, by_samples = margin(args.cases, args.seed, dtype)
        print(f"{np.dtype(dtype).name}: correct gradients (loop, vectorized, "
              f"cached_everywhere; every element, {args.cases} networks) use at most "
              f"{top:.3g} of their tolerance "
              f"(99th percentile over arrays {p99:.3g}; {by_samples:.3g} where the sampled "
              "deviations set it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Measure check_network(delta="mean"): false alarms on correct code, and a slip caught.

    python tools/mean_delta_campaign.py [--cases 600]

Seeded random networks (every cost with the outputs it allows, hidden activations from
HIDDEN, depth 1-3, widths 1-5, batch 2-8, float64 and every fourth float32): a
CS231n-style backprop whose delta is the per-example delta divided by m in the network's
dtype (dscores /= N) is checked with delta="mean" and must pass (a failure is a false
alarm); the correct per-example backprop on the same network and batch is checked as
before, for comparison of how much of its tolerance each uses (worst err/tol). Then the
mean delta with one element of delta^L moved by 2 of its per-example tolerances (8 and
more of its own) must fail.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import numpy as np

from backprop import COSTS, HIDDEN, Array, Gradients, Network, vectorized
from checks import check_network
from checks.report import Report


def mean_delta(net: Network, X: Array, Y: Array) -> Gradients:
    """The vectorized backprop with every delta divided by m in the network's dtype."""
    g = vectorized.backprop(net, X, Y)
    m = np.asarray(X.shape[1], dtype=net.dtype)
    return Gradients(delta=[(d / m).astype(net.dtype) for d in g.delta], dW=g.dW, db=g.db)


def case(seed: int) -> tuple[Network, Array, Array]:
    """Network and batch number seed."""
    rng = np.random.default_rng(seed)
    costs = list(COSTS)
    cost = costs[seed % len(costs)]
    L = 1 + seed % 3
    sizes = [int(n) for n in rng.integers(1, 6, size=L + 1)]
    requires = COSTS[cost].requires
    names = sorted(HIDDEN)
    activations = [str(rng.choice(names)) for _ in range(L - 1)]
    activations.append(requires or str(rng.choice(names)))
    if requires == "softmax":
        sizes[-1] = max(2, sizes[-1])
    dtype: Any = np.float32 if seed % 4 == 3 else np.float64
    net = Network.random(sizes, activations, cost, seed=seed, dtype=dtype)
    m = int(rng.integers(2, 9))
    X = rng.uniform(-2, 2, (sizes[0], m)).astype(dtype)
    Y = COSTS[cost].sample_targets(rng.uniform(size=(sizes[-1], m))).astype(dtype)
    if COSTS[cost].targets == "distributions":  # normalised again in the network's dtype
        Y = (Y / Y.sum(axis=0, keepdims=True)).astype(dtype)
    return net, X, Y


def worst(report: Report) -> float:
    """The largest err/tol over the report's blocks."""
    return max(b.worst_ratio for b in report.blocks)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=600)
    cases = parser.parse_args(argv).cases
    alarms = {"mean": 0, "per_example": 0}
    ratios: dict[str, list[float]] = {"mean": [], "per_example": []}
    caught = planted = 0
    for seed in range(cases):
        net, X, Y = case(seed)
        try:
            reports = {"mean": check_network(net, X, Y, impl=mean_delta, delta="mean"),
                       "per_example": check_network(net, X, Y)}
        except ValueError:  # a batch the overflow guard or the targets' checks refuse
            continue
        for mode, report in reports.items():
            alarms[mode] += not report.ok
            ratios[mode].append(worst(report))
        tol = reports["per_example"].blocks[0].tolerance
        assert tol is not None

        def slipped(net: Network, X: Array, Y: Array, tol: Array = tol) -> Gradients:
            g = mean_delta(net, X, Y)
            g.delta[-1][0, 0] += 2 * tol[0, 0]
            return g

        planted += 1
        caught += not check_network(net, X, Y, impl=slipped, delta="mean").ok
    print(f"{len(ratios['mean'])} networks")
    print("| delta= | false alarms | worst err/tol | median worst err/tol |")
    print("|---|---|---|---|")
    for mode, values in ratios.items():
        print(f"| {mode} | {alarms[mode]} | {max(values):.3g} | {np.median(values):.3g} |")
    print(f"a mean delta^L[0, 0] moved by 2 of its per-example tolerances: caught {caught} "
          f"of {planted}")
    return 0 if sum(alarms.values()) == 0 and caught == planted else 1


if __name__ == "__main__":
    raise SystemExit(main())

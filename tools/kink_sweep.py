"""Measure check_network at kinks: false alarms on correct code, and a wrong sigma'(0) caught.

    python tools/kink_sweep.py [--cases 100] [--seed 0]

Seeded random networks (1-3 hidden layers of relu, leaky_relu and now and then tanh,
widths 1-6, batch 2-6, every output and cost, float64 and float32) with units put on
their kinks in one of four ways: zero biases and a zero input column (every unit of
that example at z = 0, layer after layer), a zero row of W[0] and b[0] (one unit at
z = 0 in every example), that row's bias at +-1e-12 (within 1e-12 of the kink), and
b[0] = -(W[0] x) for one example (z = 0 to within rounding). For each method, the
correct vectorized and loop gradients must pass (a failure is a false alarm); the
report's subgradients and skipped elements (with their reasons) are counted. Then a
backprop that takes sigma'(0) = 2 at the kink is checked wherever its gradients
differ from the correct ones: caught if the report fails.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from backprop import ACTIVATIONS, COSTS, Array, Gradients, Network, derivation
from checks import check_network

PLACEMENTS = ("zero column", "zero row", "1e-12 off", "rounding")
METHODS = ("auto", "richardson", "central")


def case(rng: np.random.Generator, placement: str, dtype: Any) -> tuple[Network, Array, Array]:
    """A random network and batch with units on (or next to) their kinks."""
    hidden = [str(rng.choice(["relu", "leaky_relu", "relu", "leaky_relu", "tanh"]))
              for _ in range(int(rng.integers(1, 4)))]
    hidden[0] = str(rng.choice(["relu", "leaky_relu"]))
    sizes = [int(n) for n in rng.integers(1, 7, size=len(hidden) + 2)]
    cost = str(rng.choice(list(COSTS)))
    output = COSTS[cost].requires or str(rng.choice(["sigmoid", "tanh", "identity", "relu"]))
    if output == "softmax" and sizes[-1] == 1 and cost == "quadratic":
        output = "sigmoid"
    net = Network.random(sizes, [*hidden, output], cost, seed=int(rng.integers(2**32)),
                         dtype=np.float64, scale=float(rng.uniform(0.5, 2.0)))
    m = int(rng.integers(2, 7))
    X = rng.uniform(-2, 2, (sizes[0], m))
    Y = net.cost_fn.sample_targets(rng.uniform(size=(sizes[-1], m)))
    W, b = [w.copy() for w in net.weights], [c.copy() for c in net.biases]
    if placement == "zero column":
        b = [np.zeros_like(c) for c in b]
        X[:, int(rng.integers(m))] = 0.0
    elif placement in ("zero row", "1e-12 off"):
        W[0][0] = 0.0
        b[0][0] = 0.0 if placement == "zero row" else float(rng.choice([1, -1])) * 1e-12
    else:
        x = int(rng.integers(m))
        b[0] = -(W[0] @ X[:, x:x + 1])
    net = Network([w.astype(dtype) for w in W], [c.astype(dtype) for c in b],
                  [*hidden, output], cost)
    return net, X.astype(dtype), Y.astype(dtype)


def derivation_with(net: Network, X: Array, Y: Array, slope: float | None) -> Gradients:
    """backprop (the derivation's steps) with sigma'(0) = slope for relu and leaky_relu
    (None: as they are)."""
    def wrong(name: str) -> Any:
        act = ACTIVATIONS[name]
        if not act.kinks or slope is None:
            return act
        def sigma_prime(z: Array, act: Any = act) -> Array:
            return np.where(z == 0, slope, act.sigma_prime(z))
        return dataclasses.replace(act, sigma_prime=sigma_prime, backward_from_a=None)
    sigma = [wrong(s.name) for s in net.sigma]
    return derivation.backprop(net.weights, net.biases, sigma, net.cost_fn, X, Y)


def differs(a: Gradients, b: Gradients) -> bool:
    return any(not np.array_equal(np.asarray(x, np.float64), np.asarray(y, np.float64))
               for f in ("delta", "dW", "db") for x, y in zip(getattr(a, f), getattr(b, f),
                                                               strict=True))


def measure(cases: int, seed: int) -> dict[tuple[str, str, str], collections.Counter[str]]:
    rng = np.random.default_rng(seed)
    out: dict[tuple[str, str, str], collections.Counter[str]] = collections.defaultdict(
        collections.Counter)
    reasons: collections.Counter[str] = collections.Counter()
    for k in range(cases):
        placement = PLACEMENTS[k % len(PLACEMENTS)]
        dtype = np.float64 if (k // len(PLACEMENTS)) % 2 == 0 else np.float32
        net, X, Y = case(rng, placement, dtype)
        wrong = derivation_with(net, X, Y, 2.0)
        planted = differs(wrong, derivation_with(net, X, Y, None))
        for method in METHODS:
            tally = out[(placement, np.dtype(dtype).name, method)]
            for impl in ("vectorized", "loop"):
                r = check_network(net, X, Y, impl, method=method)
                tally["checks"] += 1
                tally["false alarms"] += not r.ok
                if not r.ok:
                    print(f"false alarm, case {k} ({placement}, {np.dtype(dtype).name}, "
                          f"{method}, {impl}): {r.mismatches[0]}")
                tally["subgradients"] += sum(b.subgradients for b in r.blocks)
                tally["skipped"] += r.skipped
                reasons.update(e.reason or "(none)" for b in r.blocks for e in b.skipped)
            if planted:
                tally["sigma'(0)=2 planted"] += 1
                tally["caught"] += not check_network(net, X, Y, lambda *_, g=wrong: g,
                                                     method=method).ok
    for why, n in reasons.most_common():
        print(f"skipped because: {why}: {n}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    results = measure(args.cases, args.seed)
    columns = ("checks", "false alarms", "subgradients", "skipped", "sigma'(0)=2 planted",
               "caught")
    print(f"| placement | dtype | method | {' | '.join(columns)} |")
    print("|" + "---|" * (3 + len(columns)))
    total: collections.Counter[str] = collections.Counter()
    for (placement, dtype, method), tally in sorted(results.items()):
        total.update(tally)
        print(f"| {placement} | {dtype} | {method} | "
              + " | ".join(str(tally[c]) for c in columns) + " |")
    print("| all | | | " + " | ".join(str(total[c]) for c in columns) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

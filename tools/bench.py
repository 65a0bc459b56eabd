"""How fast is backprop? Ratios measured side by side: `python -m tools.bench`.

Absolute times on a shared machine drift (up to 1.8x within seconds), so every
number here is a ratio of things timed alternately in one process: round r
times A then B, round r + 1 times B then A, and so on for `repeats` rounds; each
sample is a run of calls lasting about `min_time`. A row gives the median over
the rounds and the spread (smallest and largest round). Rows:

  vectorized / matmul-only   vectorized.backprop against its matrix products
                             alone (forward W[l] @ a[l], BP2 W[l+1].T @ delta[l+1],
                             BP4 delta[l] @ a[l].T, into preallocated arrays), the
                             lower bound for any implementation; target <= 1.2
  loop / vectorized          the scalar loops against the matrix form
  check_XY / vectorized      the share of vectorized.backprop spent validating X, Y
  page faults per call       0 when repeated calls reuse memory (not a ratio)
  peak memory / bytes(z, a)  tracemalloc peak of one vectorized call over the
                             bytes of its forward pass's z and a, a[0] = X
                             included; target <= 2
  time ~ parameters^k        the log-log slope k of time against the number of
                             parameters (or the batch size m), fitted per round
  naive FD / exhaustive      a naive loop of two full forward passes per parameter
                             (central differences, sampled and scaled) against
                             check_network of every delta, dW, db element: the
                             speed-up, float64 and float32, sigmoid and softmax
                             outputs; targets >= 50 ([784, 256, 256, 10], m = 64)
                             and >= 100 ([784, 100, 10], m = 32), float64 sigmoid
  fixed costs / exhaustive   the share of the backprop under test, the error model
                             and the complex-safety probe in the exhaustive check
  directions=4 / exhaustive  directional mode against the exhaustive check
  peak memory, MiB           tracemalloc peak of the big exhaustive check; <= 1024

    python -m tools.bench [--quick] [--repeats 9] [--min-time 0.05]
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib
import itertools
import math
import os
import platform
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

try:
    import resource  # Unix only: page-fault counts
except ImportError:  # pragma: no cover (Windows)
    resource = None  # type: ignore[assignment]

from backprop import Array, Network, forward, loop, vectorized
from backprop.feedforward import forward_arrays, per_example_cost
from backprop.inputs import check_XY
from checks.cli.sweep import random_batch
from checks.netcheck import perturb
from checks.network import analyse, check_network

Case = tuple[list[int], int]  # layer sizes [n_0, ..., n_L] and batch size m
BIG: Case = ([784, 256, 256, 10], 256)
MEDIUM: Case = ([64, 32, 10], 16)
TINY: Case = ([4, 3, 2], 1)
Products = tuple[list[Array], list[Array], list[Array]]
NOISY = 1.5  # rounds of one ratio differing more than this: the machine was busy
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class Settings:
    """How long to measure: `repeats` rounds, samples of about `min_time` seconds."""

    repeats: int = 9
    min_time: float = 0.05
    quick: bool = False


@dataclass(frozen=True)
class Row:
    """One line of the table: a ratio (or slope) per round, and an optional upper target."""

    measure: str
    case: str
    values: Sequence[float]
    target: float | None = None
    timed_ratio: bool = False  # a ratio of two timings, whose spread says how busy the machine was
    at_least: bool = False  # the target is a lower bound (a speed-up), not an upper one

    @property
    def median(self) -> float:
        return float(np.median(self.values))

    @property
    def noisy(self) -> bool:
        """A timed ratio whose rounds differ by more than NOISY times."""
        return self.timed_ratio and max(self.values) > NOISY * min(self.values)

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.median >= self.target if self.at_least else self.median <= self.target

    def markdown(self) -> str:
        lo, hi = min(self.values), max(self.values)
        bound = ">=" if self.at_least else "<="
        target = f"{bound} {self.target:g}" if self.target is not None else ""
        verdict = {None: "", True: "met", False: "MISSED"}[self.met]
        return (f"| {self.measure} | {self.case} | {self.median:.3g} | {lo:.3g} - {hi:.3g} "
                f"| {len(self.values)} | {target} | {verdict} |")


def problem(case: Case, dtype: Any = np.float64,
            output: str = "sigmoid") -> tuple[Network, Array, Array]:
    """The benchmark network for `case`: tanh hidden layers, a sigmoid output with
    cross-entropy (or softmax with categorical cross-entropy)."""
    sizes, m = case
    activations = ["tanh"] * (len(sizes) - 2) + [output]
    cost = "categorical_cross_entropy" if output == "softmax" else "cross_entropy"
    net = Network.random(sizes, activations, cost, seed=0, dtype=dtype)
    return (net, *random_batch(net, m, seed=0))


def parameters(sizes: Sequence[int]) -> int:
    """Number of weights and biases: sum over layers of n_l (n_{l-1} + 1)."""
    return sum(n_out * (n_in + 1) for n_in, n_out in itertools.pairwise(sizes))


def describe(case: Case, dtype: Any = np.float64) -> str:
    sizes, m = case
    return f"{sizes} m={m} {np.dtype(dtype).name}"


def matmul_only(net: Network, X: Array, Y: Array) -> Callable[[], Products]:
    """The matrix products of one backprop call, alone, into preallocated arrays.

    Forward W[l] @ a[l]; BP2 W[l+1].T @ delta[l+1]; BP4 delta[l] @ a[l].T: the
    same shapes, transposes and values as vectorized.backprop. The returned
    function gives back its three lists of products.
    """
    W, a, delta = net.weights, forward(net, X).a, vectorized.backprop(net, X, Y).delta
    L = net.L
    z_out = [np.empty_like(d) for d in delta]
    delta_out = [np.empty_like(d) for d in delta]
    dW_out = [np.empty_like(W_l) for W_l in W]

    def products() -> Products:
        for l in range(L):
            np.matmul(W[l], a[l], out=z_out[l])
        for l in range(L - 2, -1, -1):
            np.matmul(W[l + 1].T, delta[l + 1], out=delta_out[l])
        for l in range(L):
            np.matmul(delta[l], a[l].T, out=dW_out[l])
        return z_out, delta_out, dW_out

    return products


def backprop_unchecked(net: Network, X: Array, Y: Array) -> Callable[[], object]:
    """vectorized.backprop minus its input checks (check_XY), on already checked X, Y."""
    X, Y = check_XY(net, X, Y)

    def run() -> object:
        g, a = vectorized.allocate(net.sizes, X.shape[1], net.dtype)
        trace = vectorized.forward_in_place(net.weights, net.biases, net.sigma, X, z=g.delta,
                                            a_out=a)
        return vectorized.backprop_in_place(net.weights, net.sigma, net.cost_fn, trace, Y, g)

    return run


def _sample(fn: Callable[[], object], number: int) -> float:
    """Seconds per call over `number` calls, with the garbage collector off (as timeit)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - start) / number
    finally:
        if enabled:
            gc.enable()


def side_by_side(fns: Sequence[Callable[[], object]], settings: Settings) -> Array:
    """Seconds per call, shape (repeats, len(fns)): every round times each fn once,
    in the given order on even rounds and reversed on odd ones, so a steady drift
    of machine speed favours none of them."""
    numbers = []
    for fn in fns:
        once = max(_sample(fn, 1), _sample(fn, 1))  # the first call warms up
        numbers.append(max(1, math.ceil(settings.min_time / max(once, 1e-9))))
    times = np.empty((settings.repeats, len(fns)))
    for r in range(settings.repeats):
        order = range(len(fns)) if r % 2 == 0 else range(len(fns) - 1, -1, -1)
        for i in order:
            times[r, i] = _sample(fns[i], numbers[i])
    return times


def ratio(measure: str, case: str, a: Callable[[], object], b: Callable[[], object],
          settings: Settings, target: float | None = None) -> Row:
    """Row of time(a) / time(b), one ratio per round."""
    times = side_by_side([a, b], settings)
    return Row(measure, case, list(times[:, 0] / times[:, 1]), target, timed_ratio=True)


def slope(measure: str, case: str, x: Sequence[float], fns: Sequence[Callable[[], object]],
          settings: Settings) -> Row:
    """Row of k in time ~ x^k: the least-squares log-log slope, fitted per round."""
    times = side_by_side(fns, settings)
    k = [float(np.polyfit(np.log(x), np.log(t), 1)[0]) for t in times]
    return Row(measure, case, k)


def peak_memory(net: Network, X: Array, Y: Array, settings: Settings) -> Row:
    """tracemalloc peak of one vectorized.backprop call / bytes of its z and a arrays."""
    trace = forward(net, X)
    traced = sum(array.nbytes for array in [*trace.z, *trace.a])
    del trace
    ratios = []
    for _ in range(3):
        tracemalloc.start()
        vectorized.backprop(net, X, Y)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        ratios.append(peak / traced)
    sizes, m = net.sizes, X.shape[1]
    return Row("peak memory / bytes(z, a)", describe((sizes, m), net.dtype), ratios, 2.0)


def page_faults(measure: str, case: str, fn: Callable[[], object], settings: Settings) -> Row:
    """Minor page faults per call: 0 when repeated calls reuse the process's memory."""
    calls = 3 if settings.quick else 10
    fn()
    values = []
    for _ in range(settings.repeats):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(calls):
            fn()
        values.append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls)
    return Row(measure, case, values)


def call(fn: Callable[[Network, Array, Array], object], net: Network, X: Array,
         Y: Array) -> Callable[[], object]:
    return lambda: fn(net, X, Y)


def speed_rows(settings: Settings) -> list[Row]:
    """vectorized against its matmul-only bound; loop against vectorized."""
    big = ([128, 64, 64, 10], 64) if settings.quick else BIG
    rows = []
    for dtype in (np.float64, np.float32):
        net, X, Y = problem(big, dtype)
        rows.append(ratio("vectorized / matmul-only", describe(big, dtype),
                          call(vectorized.backprop, net, X, Y), matmul_only(net, X, Y),
                          settings, target=1.2))
        rows.append(ratio("vectorized without check_XY / matmul-only", describe(big, dtype),
                          backprop_unchecked(net, X, Y), matmul_only(net, X, Y), settings))
        if resource is not None:  # pragma: no branch (Windows)
            rows.append(page_faults("page faults per call of vectorized", describe(big, dtype),
                                    call(vectorized.backprop, net, X, Y), settings))
    for case in (MEDIUM, TINY):
        net, X, Y = problem(case)
        rows.append(ratio("loop / vectorized", describe(case), call(loop.backprop, net, X, Y),
                          call(vectorized.backprop, net, X, Y), settings))
    for case in (big, TINY):
        net, X, Y = problem(case)
        rows.append(ratio("input checks (check_XY) / vectorized", describe(case),
                          call(check_XY, net, X, Y), call(vectorized.backprop, net, X, Y),
                          settings))
    rows.append(peak_memory(*problem(big), settings))
    return rows


def scaling_rows(settings: Settings) -> list[Row]:
    """Slopes of time against the number of parameters and against the batch size."""
    q = settings.quick
    widths = {"vectorized": [32, 64, 128] if q else [64, 128, 256, 512, 1024],
              "loop": [8, 16, 32] if q else [8, 16, 32, 64, 128]}
    batch = {"vectorized": (([128, 64, 64, 10], [16, 64, 256]) if q
                            else (BIG[0], [8, 32, 128, 512, 2048])),
             "loop": ([16, 16, 16, 10], [1, 4, 16] if q else [1, 4, 16, 64])}
    impls = {"vectorized": (vectorized.backprop, 64), "loop": (loop.backprop, 4)}
    rows = []
    for name, (fn, m) in impls.items():
        cases = [([n, n, n, 10], m) for n in widths[name]]
        label = f"[n, n, n, 10] n={widths[name][0]}..{widths[name][-1]} m={m}"
        rows.append(slope(f"{name}: time ~ parameters^k", label,
                          [parameters(sizes) for sizes, _ in cases],
                          [call(fn, *problem(c)) for c in cases], settings))
    for name, (fn, _) in impls.items():
        sizes, ms = batch[name]
        label = f"{sizes} m={ms[0]}..{ms[-1]}"
        rows.append(slope(f"{name}: time ~ m^k", label, ms,
                          [call(fn, *problem((sizes, m))) for m in ms], settings))
    return rows


def naive_central_differences(net: Network, X: Array, Y: Array, count: int) -> Array:
    """The naive exhaustive check: two full forward passes per parameter.

    Differentiates the first `count` elements of W[0]; every parameter costs the
    same two passes, so the time of all of them is count-proportional.
    """
    W = [w.copy() for w in net.weights]
    b = [v.copy() for v in net.biases]
    h = 2.0**-17

    def C() -> float:  # plain numpy: no input checks, as a hand-written loop would be
        trace = forward_arrays(W, b, net.sigma, X)
        return float(np.mean(per_example_cost(net.cost_fn, trace.z[-1], trace.a[-1], Y)))

    derivatives = np.empty(count)
    for k in range(count):
        j, i = divmod(k, W[0].shape[1])
        w = W[0][j, i]
        W[0][j, i] = w + h
        plus = C()
        W[0][j, i] = w - h
        derivatives[k] = (plus - C()) / (2 * h)
        W[0][j, i] = w
    return derivatives


def _checker(case: tuple[Network, Array, Array], **options: Any) -> Callable[[], object]:
    return lambda: check_network(*case, **options)


def fixed_costs(net: Network, X: Array, Y: Array) -> object:
    """What check_network does besides the numerical derivatives: the backprop under
    test, the error model (the float64 reference, E, the 16 sampled re-runs D) and
    the complex-safety probe."""
    vectorized.backprop(net, X, Y)
    return perturb.complex_safe(analyse(net, X, Y))


def alternate(fns: Sequence[Callable[[], object]], rounds: int) -> Array:
    """Seconds of one call of each fn per round, (rounds, len(fns)), the order reversed
    on odd rounds: for calls of seconds, where side_by_side's warm-up calls cost too much."""
    times = np.empty((rounds, len(fns)))
    for r in range(rounds):
        for i in (range(len(fns)) if r % 2 == 0 else range(len(fns) - 1, -1, -1)):
            start = time.perf_counter()
            fns[i]()
            times[r, i] = time.perf_counter() - start
    return times


@dataclass(frozen=True)
class Exhaustive:
    """An exhaustive-check case: sizes and m, the naive loop's sample, the speed-up
    targeted (float64, sigmoid output; other variants are reported)."""

    case: Case
    sample: int
    target: float | None


def exhaustive_cases(settings: Settings) -> list[Exhaustive]:
    if settings.quick:
        return [Exhaustive(([64, 32, 32, 10], 8), 100, None),
                Exhaustive(([64, 16, 4], 8), 100, None)]
    return [Exhaustive(([784, 256, 256, 10], 64), 400, 50.0),
            Exhaustive(([784, 100, 10], 32), 3000, 100.0)]


def speed_up_rows(ex: Exhaustive, dtype: Any, output: str, settings: Settings) -> list[Row]:
    """Naive loop / exhaustive check (timed on a sample of parameters, scaled to all of
    them: every parameter costs the same two passes), alternating in each round; for
    the targeted variant also the share of fixed costs and directional mode's time."""
    net, X, Y = problem(ex.case, dtype, output)
    n_params = parameters(net.sizes)
    sample = min(n_params, ex.sample)
    targeted = dtype == np.float64 and output == "sigmoid"
    fns: list[Callable[[], object]] = [
        _checker((net, X, Y)), lambda: naive_central_differences(net, X, Y, sample)]
    if targeted:
        fns += [lambda: fixed_costs(net, X, Y), _checker((net, X, Y), directions=4)]
    times = alternate(fns, 1 if settings.quick else 3)
    naive = times[:, 1] * n_params / sample
    case = describe(ex.case, dtype) + ("" if output == "sigmoid" else f" {output}")
    rows = [Row("naive FD loop / exhaustive check_network", case, list(naive / times[:, 0]),
                ex.target if targeted else None, timed_ratio=True, at_least=True)]
    if targeted:
        rows += [Row("fixed costs (backprop, error model, probe) / exhaustive check", case,
                     list(times[:, 2] / times[:, 0]), timed_ratio=True),
                 Row("check_network(directions=4) / exhaustive check", case,
                     list(times[:, 3] / times[:, 0]), timed_ratio=True),
                 Row("exhaustive check_network, seconds", case, list(times[:, 0]))]
    return rows


def exhaustive_rows(settings: Settings) -> list[Row]:
    """The exhaustive check (every delta, dW, db element) against a naive
    central-difference loop, float64 and float32, sigmoid and softmax outputs; its
    peak memory, and how its time scales."""
    rows = []
    for ex in exhaustive_cases(settings):
        for dtype, output in ((np.float64, "sigmoid"), (np.float32, "sigmoid"),
                              (np.float64, "softmax")):
            rows += speed_up_rows(ex, dtype, output, settings)
    big = exhaustive_cases(settings)[0].case
    net, X, Y = problem(big)
    tracemalloc.start()
    check_network(net, X, Y)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    rows.append(Row("exhaustive check peak memory, MiB", describe(big), [peak], 1024.0))
    widths = [16, 32, 64] if settings.quick else [100, 200, 400, 800]
    cases = [problem(([n, 64, 10], 16)) for n in widths]
    rows.append(slope("exhaustive check: time ~ parameters^k",
                      f"[n, 64, 10] n={widths[0]}..{widths[-1]} m=16",
                      [parameters(c[0].sizes) for c in cases],
                      [_checker(c) for c in cases], settings))
    batches = [4, 8, 16] if settings.quick else [8, 16, 32, 64, 128]
    cases = [problem(([256, 64, 10], b)) for b in batches]
    rows.append(slope("exhaustive check: time ~ m^k",
                      f"[256, 64, 10] m={batches[0]}..{batches[-1]}", batches,
                      [_checker(c) for c in cases], settings))
    return rows


def blas() -> str:
    """The BLAS numpy was built with, and its threads if threadpoolctl is installed."""
    text = "unknown"
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        config = " ".join(str(info.get("openblas configuration", "")).split())
        text = f"{info.get('name')} {info.get('version')}" + (f" ({config})" if config else "")
    except Exception:  # show_config's layout is not a stable API
        pass
    try:
        threadpoolctl = importlib.import_module("threadpoolctl")
        pools = threadpoolctl.threadpool_info()
        threads = ", ".join(f"{p['internal_api']} {p['num_threads']} threads" for p in pools)
        text += f"; {threads}"
    except ImportError:
        set_by = [f"{var}={os.environ[var]}" for var in THREAD_VARIABLES if var in os.environ]
        text += f"; threads: {', '.join(set_by) or 'default'} (threadpoolctl not installed)"
    return text


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model name (Linux), else what platform knows."""
    try:
        with open(cpuinfo) as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    except OSError:
        names = []
    return names[0] if names else (platform.processor() or platform.machine())


def load_average() -> str:
    """The 1-minute load average: other processes competing for the CPUs."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except (AttributeError, OSError):
        return "unknown"


def header(settings: Settings, start: datetime.datetime, loads: tuple[str, str]) -> list[str]:
    return [
        f"# backprop benchmark{' (--quick)' if settings.quick else ''}, "
        f"{start.strftime('%Y-%m-%d %H:%M UTC')}",
        "",
        f"- machine: {platform.platform()}, {cpu_model()}, {os.cpu_count()} CPUs; "
        f"load average {loads[0]} at start, {loads[1]} at end",
        f"- python {platform.python_version()}, numpy {np.__version__}",
        f"- BLAS: {blas()}",
        f"- {settings.repeats} rounds, A and B alternated (ABBA), samples of "
        f"~{settings.min_time * 1e3:g} ms; median and spread (min - max) over rounds",
        "",
        "| measure | case | median | spread | rounds | target | |",
        "|---|---|---|---|---|---|---|",
    ]


def table(settings: Settings) -> str:
    start, load = datetime.datetime.now(datetime.UTC), load_average()
    rows = speed_rows(settings) + scaling_rows(settings) + exhaustive_rows(settings)
    lines = header(settings, start, (load, load_average())) + [row.markdown() for row in rows]
    return "\n".join(lines + notes(rows))


def notes(rows: Sequence[Row]) -> list[str]:
    """A warning under the table when timed ratios spread widely between rounds."""
    noisy = sum(row.noisy for row in rows)
    warning = (f"Noisy: {noisy} ratios spread more than {NOISY:g}x between rounds (another "
               "process competing for the CPUs?); rerun on an idle machine.")
    return ["", warning] if noisy else []


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: small networks, 3 rounds, 2 ms samples")
    parser.add_argument("--repeats", type=int, default=None,
                        help="rounds per comparison (default 9, --quick 3)")
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds per sample (default 0.05, --quick 0.002)")
    args = parser.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 9)
    min_time = args.min_time if args.min_time is not None else (0.002 if args.quick else 0.05)
    if repeats < 1 or not min_time > 0:
        parser.error("--repeats must be >= 1 and --min-time > 0")
    print(table(Settings(repeats=repeats, min_time=min_time, quick=args.quick)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A backprop-check run: every chosen network x implementation checked, tallied per equation.

Network k of the list and its batch are drawn from seed + k; after its
implementations, a network whose cost has the simplified delta^L = a^L - y gets
the identity check (checks.netcheck.identity). `Tally` sums the blocks of every
report into one `Row` per equation: the rows of the table and of --json's
"equations", keyed as in `ROW_ORDER`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np

from backprop import Array, Network
from backprop.costs import one_hot
from checks.cli.load import Implementations, MalformedResult
from checks.cli.parse import Settings, UsageError
from checks.cli.progress import Progress, elements
from checks.cli.sweep import Config, random_batch, random_labels
from checks.netcheck.identity import identity_check
from checks.network import Impl, check_network
from checks.report import NOT_GIVEN, Block, Report

# The keys of the two a - y rows (the JSON's, unchanged since they were introduced).
SIMPLIFIED, IDENTITY = "BP1 δ^L = a^L − y", "a−y = general BP1"
ROW_ORDER = ("BP1", SIMPLIFIED, IDENTITY, "BP2", "BP3", "BP4")  # the table's


@dataclass
class Row:
    """One line of the summary: an equation over many networks.

    worst_ratio, worst_error and worst_relative are of one element, the worst by
    error / tolerance; not_given counts the arrays the implementation did not return;
    follow counts, per broken equation, the mismatches that only follow from it.
    """

    equation: str
    arrays: int = 0
    not_given: int = 0
    checked: int = 0
    skipped: int = 0
    worst_ratio: float = 0.0
    worst_error: float = 0.0
    worst_relative: float = 0.0
    methods: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    follow: dict[str, int] = field(default_factory=dict)

    def add(self, block: Block, failures: Sequence[str], follows: str | None = None) -> None:
        """block's counts and worst element into the row; failures: its mismatches as
        the summary names them; follows: the broken equation they only follow from."""
        self.arrays += block.method != NOT_GIVEN
        self.not_given += block.method == NOT_GIVEN
        self.checked += block.checked
        self.skipped += len(block.skipped)
        if block.worst_ratio >= self.worst_ratio:
            self.worst_ratio, self.worst_error = block.worst_ratio, block.worst_error
            self.worst_relative = block.worst_relative
        self.methods.add(block.method)
        self.failures.extend(failures)
        if follows is not None and failures:
            self.follow[follows] = self.follow.get(follows, 0) + len(failures)


@dataclass(frozen=True)
class Check:
    """One network x implementation checked: label names the implementation; seconds,
    how long its check took (--junit-xml's time)."""

    label: str
    net: Network
    report: Report
    seconds: float = 0.0

    @property
    def name(self) -> str:
        """'[loop] Network(...)': which check, in the summary of a failing sweep."""
        return f"[{self.label}] {self.net!r}"


@dataclass(frozen=True)
class Checked:
    """One network of a run: a Check per implementation, then its identity check (None
    when its cost has no simplified delta^L)."""

    net: Network
    checks: tuple[Check, ...]
    identity: Report | None


@dataclass(frozen=True)
class Tally:
    """A run: each network checked, in order."""

    networks: tuple[Checked, ...]

    @property
    def checks(self) -> list[Check]:
        """Every network x implementation, in the order checked."""
        return [check for checked in self.networks for check in checked.checks]

    @property
    def ok(self) -> bool:
        """Every check verified, identity checks included."""
        return all(check.report.ok for check in self.checks) and all(
            checked.identity.ok for checked in self.networks if checked.identity is not None)

    def rows(self) -> dict[str, Row]:
        """One Row per equation, in the order first met: every block of every check
        into its equation's row (BP1 under a cost with a - y into SIMPLIFIED), each
        identity check into IDENTITY."""
        rows: dict[str, Row] = {}
        for checked in self.networks:
            net = checked.net
            for check in checked.checks:
                for block in check.report.blocks:
                    equation = block.equation
                    if equation == "BP1" and net.cost_fn.delta is not None:
                        equation = SIMPLIFIED
                    rows.setdefault(equation, Row(equation)).add(
                        block, [f"{check.name}: {e}" for e in block.mismatches],
                        broken_source(check.report, block))
            if checked.identity is not None:
                b = checked.identity.blocks[0]
                rows.setdefault(IDENTITY, Row(IDENTITY)).add(
                    b, [f"{net!r}: {e}" for e in b.mismatches])
        return rows


def broken_source(report: Report, block: Block) -> str | None:
    """The equation (BP1 or BP2) of the broken delta that block is wrong only because
    of: its follows_from followed to a delta that does not itself follow from another;
    None when block's own equation is broken (or it is right)."""
    by_id = {b.id: b for b in report.blocks if b.id is not None}
    source = block.follows_from
    while source is not None and by_id[source].follows_from is not None:
        source = by_id[source].follows_from
    return None if source is None else source.equation


def progress_of(networks: Sequence[Config], impls: Implementations, settings: Settings,
                stream: TextIO) -> Progress:
    """The run's Progress: each check expected to compare every element of its network."""
    return Progress([elements(sizes, settings.batch) for sizes, _, _ in networks
                     for _ in impls], stream, suggest=settings.directions is None)


def run(networks: Sequence[Config], impls: Implementations, settings: Settings,
        progress: Progress, show: Callable[[Report], None]) -> Tally:
    """Every network x implementation checked, then the identity check of each network
    that has one; show(report) after each check.

    Raises UsageError when a network cannot be built from the settings (--seed, a
    --batch or --sizes too large), load.ImplCrashed and load.MalformedResult for the
    user's --impl.
    """
    done: list[Checked] = []
    k = 0  # the check's number, counting network x implementation
    for c, config in enumerate(networks):
        net, X, Y = _network(config, settings, seed=settings.seed + c)
        checks = []
        for label, impl in impls:
            k, what = k + 1, f"{label} on {net.sizes} {net.cost}"
            progress.update(k, what)
            start = time.perf_counter()
            report = _check(net, X, Y, impl, settings, settings.seed + c,
                            progress.within(k, what))
            progress.finished(k)
            checks.append(Check(label, net, report, time.perf_counter() - start))
            show(report)
        if Y.ndim == 1:  # --labels: the identity check takes the targets they stand for
            Y = one_hot(Y, net.sizes[-1], net.dtype)
        done.append(Checked(net, tuple(checks), identity_check(net, X, Y)))
    return Tally(tuple(done))


def _network(config: Config, settings: Settings, seed: int) -> tuple[Network, Array, Array]:
    """The network of config, drawn from seed, and its batch (the same seed): Y is
    integer class labels (m,) under --labels."""
    sizes, activations, cost = config
    try:
        net = Network.random(sizes, activations=activations, cost=cost, seed=seed,
                             dtype=np.dtype(settings.dtype))
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    draw = random_labels if settings.labels else random_batch
    try:
        X, Y = draw(net, settings.batch, seed)
    except ValueError as exc:  # numpy's "Maximum allowed dimension exceeded"
        raise UsageError(f"--batch {settings.batch}: {exc}") from None
    return net, X, Y


def _check(net: Network, X: Array, Y: Array, impl: Impl | str, settings: Settings,
           seed: int, progress: Callable[[int, int], None]) -> Report:
    """check_network with the settings; a TypeError/ValueError on the user's function is
    its malformed result, on a built-in implementation a bug (raised as it is)."""
    try:
        return check_network(net, X, Y, impl=impl, method=settings.method,
                             directions=settings.directions, seed=seed, progress=progress,
                             delta=settings.delta)
    except (TypeError, ValueError) as exc:
        if isinstance(impl, str):
            raise
        raise MalformedResult(str(exc), impl) from exc

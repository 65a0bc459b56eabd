"""Why a sweep failed where it did: failures that coincide with a part of the configuration.

Code written for one case (a student's sigmoid + cross-entropy backprop, with its
own sigmoid and delta^L = a^L - y) fails on every other network of the sweep, and
each failing network's own diagnosis then names a slip that is not one (under the
quadratic cost, "sigma' left out"). `narrowing` looks for the narrowing of the
sweep that matches the verdicts exactly: among the --activations NAME, --cost COST
and both that backprop-check accepts on top of the options given, one whose
networks (checks.cli.sweep.configs, within those checked) all passed, at least
one, while every network checked outside it failed. Then the summary says so and
prints that command (`command`: the options as typed, plus the narrowing). When
no narrowing matches exactly, one whose networks all passed may leave a few
passing networks outside it (no more than it holds: a network that passes by
chance, as an identity layer whose z all happen to be positive passes relu-only
code); the summary then names them.

--sizes is not a narrowing: passing only on the shallow networks says little (a
network of depth 1 has no BP2, so a BP2 slip passes there), while the
activations and the cost are what code written for one case hard-codes.
"""

from __future__ import annotations

import dataclasses
import shlex
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from backprop import ACTIVATIONS, COSTS, Network
from checks.cli.parse import Settings, UsageError, build_parser, chosen, parse
from checks.cli.run import Tally

# The options a narrowing may add, in the order they are tried and printed.
NARROWING = ("activations", "cost")
WIDTH = 100  # the explanation's lines are wrapped at this width (commands are not)
Key = tuple[tuple[int, ...], tuple[str, ...], str]  # a network: sizes, activations, cost


def key(net: Network) -> Key:
    """The network as the sweep names it (checks.cli.sweep.Config, as tuples)."""
    return tuple(net.sizes), tuple(net.activations), net.cost


@dataclass(frozen=True)
class Narrowing:
    """The options (option -> value) that choose exactly the networks that passed."""

    options: dict[str, str]
    passed: tuple[Key, ...]  # the networks it chooses, every one of which passed
    failed: tuple[Key, ...]  # the networks checked outside it that failed
    also: tuple[Key, ...] = ()  # the networks checked outside it that passed too

    def outside(self) -> tuple[list[str], list[str]]:
        """The activations and costs found only in failing networks, in registry order."""
        activations = {name for _, names, _ in self.passed + self.also for name in names}
        costs = {cost for _, _, cost in self.passed + self.also}
        return ([n for n in ACTIVATIONS if n not in activations
                 and any(n in names for _, names, _ in self.failed)],
                [c for c in COSTS if c not in costs
                 and any(c == cost for _, _, cost in self.failed)])


def narrowing(tally: Tally, settings: Settings) -> Narrowing | None:
    """The narrowing whose networks are exactly those of the run that passed (every
    check of the network and its identity check verified), with the fewest options;
    else one whose networks all passed with the fewest (and no more than it holds)
    passing outside it; None when no network passed or none failed."""
    verdicts = {key(c.net): all(check.report.ok for check in c.checks)
                and (c.identity is None or c.identity.ok) for c in tally.networks}
    passed = {k for k, ok in verdicts.items() if ok}
    if not passed or len(passed) == len(verdicts):
        return None
    best: tuple[int, dict[str, str], set[Key]] | None = None
    for options in _candidates(settings):
        try:
            configs = chosen(dataclasses.replace(
                settings, activations=options.get("activations", settings.activations),
                cost=options.get("cost", settings.cost)))
        except UsageError:
            continue  # not a choice backprop-check accepts (e.g. softmax in a hidden layer)
        inside = {(tuple(s), tuple(a), c) for s, a, c in configs} & set(verdicts)
        extra = len(passed - inside)
        if inside and inside <= passed and extra <= len(inside) and (
                best is None or extra < best[0]):
            best = (extra, options, inside)
    if best is None:
        return None
    _, options, inside = best
    return Narrowing(options, tuple(k for k in verdicts if k in inside),
                     tuple(k for k in verdicts if k not in passed),
                     tuple(k for k in verdicts if k in passed - inside))


def _candidates(settings: Settings) -> list[dict[str, str]]:
    """Each narrowing of the options not given: one option first, then two."""
    values = {"activations": list(ACTIVATIONS), "cost": list(COSTS)}
    free = [option for option in NARROWING if getattr(settings, option) is None]
    single = [{option: value} for option in free for value in values[option]]
    pairs = [{free[0]: a, free[1]: b} for a in values[free[0]] for b in values[free[1]]
             ] if len(free) == 2 else []
    return single + pairs


def command(settings: Settings, **changes: str | int) -> str:
    """The backprop-check command line of settings, with changes: the options given
    (those that differ from their default) in the parser's order, a changed one in
    its place, a new one at the end; quoted for a POSIX shell."""
    defaults = parse(build_parser(), [])
    options = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)
               if getattr(settings, f.name) != getattr(defaults, f.name)}
    options.update(changes)
    words = ["backprop-check"]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            words.append(flag)
        elif value is not False and value is not None and value != getattr(defaults, name):
            words += [flag, str(value)]
    return shlex.join(words)


def explanation(tally: Tally, settings: Settings) -> list[str]:
    """The summary's lines for a failing sweep whose failures a narrowing explains
    (what fails, what passes, the command that checks only those, and how to see one
    failing network's report); [] when none does."""
    found = narrowing(tally, settings)
    if found is None:
        return []
    activations, costs = found.outside()
    features = [f"a {_either(activations)} layer"] if activations else []
    features += [f"a {_either(costs)} cost"] if costs else []
    described = all(any(a in activations for a in names) or cost in costs
                    for _, names, cost in found.failed)
    with_ = ", or with ".join(features) + ("," if len(features) > 1 else "")
    fails = (f"Every network with {with_} fails" if described
             else "The other network fails" if len(found.failed) == 1
             else f"The other {len(found.failed)} networks fail")
    passes = " + ".join(found.options[option] for option in NARROWING if option in found.options)
    first = next(k for k, c in enumerate(tally.networks) if key(c.net) in found.failed)
    net = tally.networks[first].net
    one = command(settings, sizes=",".join(map(str, net.sizes)),
                  activations=",".join(net.activations), cost=net.cost,
                  seed=settings.seed + first)
    others = "; ".join(f"--sizes {','.join(map(str, sizes))} --activations {','.join(names)} "
                       f"--cost {cost}" for sizes, names, cost in found.also)
    also = f", and {len(found.also)} other ({others})" if found.also else ""
    said = (f"{fails}; every {passes} network passes ({len(found.passed)} of "
            f"{len(tally.networks)}){also}: your code may handle only those. Check just them:")
    return [*textwrap.wrap(said, WIDTH, initial_indent="  ", subsequent_indent="  "),
            "    " + command(settings, **found.options),
            "  If it should handle the others too, the report of the first that fails:",
            "    " + one]


def _either(names: Sequence[str]) -> str:
    """'tanh', 'tanh or relu', 'tanh, relu or softmax'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


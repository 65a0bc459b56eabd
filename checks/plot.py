"""Pictures of a check: where a gradient is wrong, and why the steps are what they are.

    heatmap(report, "heatmap.png")     |analytic - numeric| / tolerance per element
                                       of delta[l], dW[l], db[l]: a bug lights up
    step_size_curve("step_size.png")   error of each numerical derivative vs step h

matplotlib is imported inside the functions and drawn on an Agg canvas (no
pyplot, no display), so `import checks.plot` costs nothing and works headless.
Install it with: pip install matplotlib (works from any folder).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from backprop import Array, ArrayId, Network, vectorized
from backprop.arrays import PICTURE_COLUMNS
from backprop.feedforward import forward_arrays, per_example_cost
from checks.engine.stencils import METHODS, U64, combine
from checks.netcheck.error_model import reference
from checks.report import NOT_GIVEN, Report

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["StepSizeErrors", "heatmap", "require_matplotlib", "step_size_curve",
           "step_size_errors"]

# Works from any folder; `pip install -e '.[plot]'` works only from a checkout.
INSTALL_HINT = "pip install matplotlib"
# Ratios are drawn on a log scale from RATIO_RANGE[0] to [1]; 1 (= the tolerance)
# is the middle of the colour map, so a mismatch is red and a pass blue.
RATIO_RANGE = (1e-4, 1e4)


def require_matplotlib() -> None:
    """Raise ImportError saying how to install matplotlib when it is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"the pictures need matplotlib: {INSTALL_HINT} (in a checkout of "
                          "backprop-check, pip install -e '.[plot]' installs it too)") from exc


def _figure(width: float, height: float,
            layout: Literal["constrained"] | None = "constrained") -> Figure:
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(fig)
    return fig


# --- heatmap ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Panel:
    title: str
    ratios: Array  # 2-D, NaN where skipped
    labels: tuple[str, str]  # row index name, column index name
    id: ArrayId | None = None  # orders a layer's panels (backprop.arrays.PICTURE_COLUMNS)


def _as_2d(ratios: Any) -> Array:
    r = np.asarray(ratios, dtype=np.float64)
    if r.ndim == 0:
        return r.reshape(1, 1)
    if r.ndim == 1:
        return r.reshape(-1, 1)
    return r.reshape(r.shape[0], -1)


def _panels(report_or_data: Report | Mapping[str, Any]) -> list[list[_Panel]]:
    """One row per layer (delta, dW, db), or per block without a layer, or per entry."""
    if not isinstance(report_or_data, Report):
        return [[_Panel(str(name), _as_2d(r), ("", ""))] for name, r in report_or_data.items()]
    rows: dict[Any, list[_Panel]] = {}
    for k, block in enumerate(report_or_data.blocks):
        if block.method == NOT_GIVEN:
            continue
        if block.ratios is None:
            raise ValueError(f"block {block.name} has no per-element ratios: "
                             "heatmap needs a Report made by checks.report.compare")
        elements = block.mismatches or block.skipped
        names = (*(elements[0].index_names if elements
                   else block.id.index_names if block.id else ()), "", "")
        marker = f"  ({len(block.mismatches)} mismatched)" if block.mismatches else ""
        panel = _Panel(f"{block.equation} {block.name}{marker}", _as_2d(block.ratios),
                       (names[0], names[1]), block.id)
        rows.setdefault(("layer", block.layer) if block.layer is not None else ("block", k),
                        []).append(panel)

    def column(p: _Panel) -> int:
        return PICTURE_COLUMNS.index(p.id.kind) if p.id else len(PICTURE_COLUMNS)

    return [sorted(rows[key], key=column) for key in sorted(rows, key=lambda k: (k[0], k[1]))]


def heatmap(report_or_data: Report | Mapping[str, Any], path: str | Path, *,
            title: str | None = None) -> Path:
    """Draw |analytic - numeric| / tolerance for every element; write a PNG to path.

    report_or_data: a Report (check_network: one row per layer l with delta[l],
    dW[l], db[l]; gradcheck: one row per params[p]), or a mapping name -> array
    of ratios (one row each). A ratio above 1 is a mismatch: red, ringed in
    black. Blue is far below the tolerance; grey is skipped (not differentiable
    there). A wrong row j of dW lights up a row, a wrong input i a column, a
    missing 1/m the whole array.
    """
    require_matplotlib()
    from matplotlib.colors import LogNorm

    rows = _panels(report_or_data)
    if isinstance(report_or_data, Report):
        verdict = "OK" if report_or_data.ok else "FAILED"
        title = title or f"{report_or_data.title}: {verdict}"
    grid = _grid(rows, title)
    W, H = grid.size
    fig = _figure(W, H, layout=None)
    norm, cmap = LogNorm(*RATIO_RANGE), _ratio_cmap()
    image = None
    y = H - grid.top
    for row, h in zip(rows, grid.row_h, strict=True):
        y -= h
        x = grid.left
        for panel, w in zip(row, grid.col_w, strict=False):
            width = max(0.3, panel.ratios.shape[1] * grid.cell)
            ax = fig.add_axes((x / W, y / H, width / W, h / H))
            x += w + grid.gap_x
            image = _draw_panel(ax, panel, grid.cell, (width, h), norm, cmap)
        y -= grid.gap_y
    if title:
        fig.suptitle(_wrap(title, 90), fontsize=9, y=1 - 0.15 / H, va="top")
    if image is not None:
        bar_h = min(4.0, H - grid.top - grid.bottom)
        cax = fig.add_axes(((W - grid.right + 0.3) / W, (H - grid.top - bar_h) / H, 0.18 / W,
                            bar_h / H))
        bar = fig.colorbar(image, cax=cax, extend="both")
        bar.set_label("|analytic − numeric| / tolerance   (> 1: mismatch)", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    fig.savefig(path, dpi=150)
    return Path(path)


@dataclass(frozen=True)
class _Grid:
    """The heatmap's layout, in inches: one cell per element, the same size everywhere,
    so panels line up by shape."""

    cell: float
    col_w: list[float]
    row_h: list[float]
    top: float
    gap_x: float = 0.75
    gap_y: float = 0.85
    left: float = 0.55
    right: float = 1.5
    bottom: float = 0.45

    @property
    def size(self) -> tuple[float, float]:
        """(width, height) of the figure."""
        W = max(5.0, self.left + sum(self.col_w) + self.gap_x * (len(self.col_w) - 1)
                + self.right)
        H = (self.bottom + sum(self.row_h) + self.gap_y * (len(self.row_h) - 1) + self.top
             + 0.25)
        return W, H


def _grid(rows: list[list[_Panel]], title: str | None) -> _Grid:
    """Laid out by hand (constrained layout takes most of a second)."""
    n_cols = max(len(r) for r in rows)
    col_cells = [max((r[c].ratios.shape[1] for r in rows if c < len(r)), default=1)
                 for c in range(n_cols)]
    row_cells = [max(p.ratios.shape[0] for p in r) for r in rows]
    cell = min(0.4, 9.0 / sum(col_cells), 9.0 / sum(row_cells))
    return _Grid(cell, [max(0.3, n * cell) for n in col_cells],
                 [max(0.3, n * cell) for n in row_cells],
                 top=0.5 + 0.18 * len(_wrap(title or "", 90).splitlines()))


def _draw_panel(ax: Any, panel: _Panel, cell: float, inches: tuple[float, float],
                norm: Any, cmap: Any) -> Any:
    """One array's ratios on ax, mismatches ringed; returns the image (for the colour bar)."""
    data = np.clip(panel.ratios, *RATIO_RANGE)  # NaN (skipped) stays NaN
    image = ax.imshow(data, cmap=cmap, norm=norm, interpolation="nearest", aspect="auto")
    bad_j, bad_i = np.nonzero(panel.ratios > 1)
    if 0 < bad_j.size <= 4000 and cell > 0.05:
        ax.scatter(bad_i, bad_j, s=(40 * cell) ** 2, marker="s",
                   facecolors="none", edgecolors="black", linewidths=0.6)
    ax.set_title(panel.title, fontsize=8)
    ax.set_ylabel(panel.labels[0], fontsize=7, labelpad=1)
    ax.set_xlabel(panel.labels[1], fontsize=7, labelpad=1)
    ax.tick_params(labelsize=6, length=2, pad=1)
    _integer_ticks(ax, panel.ratios.shape, inches)
    return image


def _ratio_cmap() -> Any:
    from matplotlib import colormaps

    return colormaps["RdBu_r"].with_extremes(bad="0.75")


def _integer_ticks(ax: Any, shape: tuple[int, ...], inches: tuple[float, float]) -> None:
    """Integer ticks, at most one per 0.3 inch (so 784 columns do not overprint)."""
    from matplotlib.ticker import MaxNLocator

    for axis, n, size in ((ax.yaxis, shape[0], inches[1]), (ax.xaxis, shape[1], inches[0])):
        if n == 1:
            axis.set_ticks([])
        else:
            axis.set_major_locator(MaxNLocator(nbins=min(n, 6, max(1, int(size / 0.3))),
                                               integer=True))


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


# --- step-size curve --------------------------------------------------------------


@dataclass(frozen=True)
class StepSizeErrors:
    """Relative error |D(h) - reference| / |reference| of each method at each step h."""

    steps: Array
    errors: dict[str, Array]
    default_steps: dict[str, float]  # the step each method uses in a check
    reference: float
    where: str


def _demo_problem() -> tuple[Network, Array, Array]:
    """The README's network: [4, 8, 3], tanh then sigmoid, cross-entropy, batch 5."""
    net = Network.random([4, 8, 3], activations=["tanh", "sigmoid"], cost="cross_entropy",
                         seed=0)
    X = np.random.default_rng(0).normal(size=(4, 5))
    Y = np.random.default_rng(1).uniform(size=(3, 5))
    return net, X, Y


def step_size_errors(net: Network | None = None, X: Array | None = None,
                     Y: Array | None = None, *, layer: int = 0,
                     index: tuple[int, int] | None = None,
                     steps: Sequence[float] | Array | None = None) -> StepSizeErrors:
    """dC/dW[layer][index] by central difference, Richardson and complex step at each h.

    Defaults: the README's [4, 8, 3] tanh/sigmoid cross-entropy network, the
    largest element of dW[0], 111 steps from 1e-22 to 1. The reference is the
    analytic value from vectorized.backprop (float64). The finite-difference
    steps are h * max(1, |W|), as in a check.
    """
    if net is None or X is None or Y is None:
        net, X, Y = _demo_problem()
    dW = vectorized.backprop(net, X, Y).dW[layer]
    j, i = index if index is not None else np.unravel_index(int(np.argmax(np.abs(dW))),
                                                            dW.shape)
    value = float(dW[j, i])
    ref = reference(net, np.asarray(X), np.asarray(Y))
    W = [w.astype(np.complex128) for w in ref.W]
    b = [v.astype(np.complex128) for v in ref.b]
    w0 = W[layer][j, i]

    def cost_at(shift: complex) -> complex:
        W[layer][j, i] = w0 + shift
        z_L = forward_arrays(W, b, net.sigma, ref.X).z[-1]
        return complex(np.mean(per_example_cost(net.cost_fn, z_L, net.sigma[-1].sigma, ref.Y)))

    h_all = np.logspace(-22, 0, 111) if steps is None else np.asarray(steps, dtype=np.float64)
    scale = max(1.0, abs(float(w0.real)))
    errors: dict[str, Array] = {}
    defaults = {name: method.step(U64) * (1.0 if method.complex_step else scale)
                for name, method in METHODS.items()}
    for name, method in METHODS.items():
        values = []
        for h in h_all:
            if method.complex_step:
                d, _ = combine(method, np.array([cost_at(1j * h)]), h)
            else:
                f = np.array([cost_at(c * h) for c in method.offsets])
                d, _ = combine(method, f, h)
            values.append(float(d))
        errors[name] = np.abs(np.array(values) - value) / abs(value)
    W[layer][j, i] = w0
    return StepSizeErrors(h_all, errors, defaults, value, f"dC/dW[{layer}][j={j}, i={i}]")


def step_size_curve(path: str | Path, data: StepSizeErrors | None = None,
                    **problem: Any) -> Path:
    """Plot error vs step h (log-log) for each method; write a PNG to path.

    Right of each minimum the truncation error falls with h (slope 2 for central
    difference and complex step, 4 for Richardson); left of it the round-off of
    f, about u |f| / h, grows as h shrinks — except for complex step, which has
    no subtraction and stays at the rounding level down to h = 1e-20 and below.
    A ringed marker shows the step each method uses in a check
    (checks.engine.stencils METHODS[...].step). problem: keywords of step_size_errors.
    """
    data = data or step_size_errors(**problem)
    fig = _figure(7.0, 4.6)
    ax = fig.add_subplot()
    floor = U64 / 4  # an exact result is drawn at the floor of the log axis
    colors = {"central": "tab:orange", "richardson": "tab:green", "complex_step": "tab:blue"}
    labels = {"central": "central difference  O(h²)", "richardson": "Richardson  O(h⁴)",
              "complex_step": "complex step  O(h²), no cancellation"}
    offsets = {"central": (-118, 14), "richardson": (10, 14), "complex_step": (8, 12)}
    for name, err in data.errors.items():
        color = colors.get(name)
        ax.loglog(data.steps, np.maximum(err, floor), color=color, lw=1.4,
                  label=labels.get(name, name))
        h = data.default_steps[name]
        e = float(np.interp(np.log(h), np.log(data.steps), np.log(np.maximum(err, floor))))
        ax.axvline(h, color=color, ls=":", lw=0.9)
        ax.plot([h], [np.exp(e)], "o", mfc="none", mec=color, ms=9, mew=1.6)
        ax.annotate(f"default step, {name}\nh = {h:.1e}", (h, np.exp(e)),
                    textcoords="offset points", xytext=offsets.get(name, (8, 12)),
                    fontsize=7, color=color)
    ax.axhline(U64, color="0.5", lw=0.8, ls="--")
    ax.text(1e-3, U64 / 3, "unit roundoff u = 2⁻⁵³", fontsize=7, color="0.4")
    ax.text(1e-12, 1e-2, "round-off ≈ u |f| / h\n(slope −1)", fontsize=8, color="0.3")
    ax.text(2e-3, 1e-9, "truncation:\nslope 2 (central, complex),\nslope 4 (Richardson)",
            fontsize=8, color="0.3")
    ax.set_ylim(floor / 2, 10.0)
    ax.set_xlabel("step h")
    ax.set_ylabel("relative error of the derivative")
    ax.set_title(f"Numerical {data.where} of the README network's cost vs step\n"
                 f"(reference: analytic {data.reference:.6g})", fontsize=9)
    ax.grid(True, which="major", lw=0.3, alpha=0.6)
    ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 0.2))
    fig.savefig(path, dpi=150)
    return Path(path)

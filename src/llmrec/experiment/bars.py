"""Grouped bar panels laid out to be read: the one drawing routine of the report's figures.

Every figure of a run (``figure.png``, ``summary.png``, ``ranking.png``) is a set of panels, each
a group of bars per metric (or truth) and one bar per backend with its 95 % interval. The layout
rules, in one place:

* **panels wrap into a grid** of at most :data:`MAX_WIDTH_IN` inches (1,430 px at
  :data:`DPI`), so five truths make three rows of two panels, not one 3,575-px row;
* **one legend for the figure, outside the panels** (below them), so it never covers a bar;
* **the y-axis fits the data**: from 0 to the highest bar or interval end plus
  :data:`HEADROOM` (at least :data:`MIN_TOP`), so values below 0.35 are not squashed into the
  bottom third of a 0-1 axis, and a bar at 1.0 keeps its interval's cap inside the frame; tick
  labels stop at 1 for these metrics, which never pass it;
* **intervals are drawn in black above the bars**, visible on any bar colour.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmrec._io import atomic_open

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "HEADROOM",
    "MAX_WIDTH_IN",
    "MIN_TOP",
    "BarPanel",
    "BarSeries",
    "bar_figure",
    "save_png",
    "y_top",
]

DPI = 110
MAX_WIDTH_IN = 13.0
"""Widest figure, in inches: panels wrap into rows that fit (1,430 px at :data:`DPI`)."""
HEADROOM = 0.12
"""Room above the highest bar or interval end, as a share of it."""
MIN_TOP = 0.05
"""Lowest top of the y-axis (all bars at or near 0 still get a readable axis)."""
PANEL_HEIGHT_IN = 3.6


@dataclass(frozen=True)
class BarSeries:
    """One backend across a panel's groups: means, interval ends (``nan``: none) and optional
    markers (e.g. the valid-only number beside a strict bar)."""

    label: str
    values: Sequence[float]
    low: Sequence[float]
    high: Sequence[float]
    markers: Sequence[float] | None = None
    marker_label: str | None = None

    @classmethod
    def from_cells(
        cls,
        label: str,
        cells: Sequence[Any],
        *,
        markers: Sequence[Any] | None = None,
        marker_label: str | None = None,
    ) -> BarSeries:
        """A series from result cells (``mean``, ``ci_low``, ``ci_high``; ``None``: no result,
        drawn as ``nan``); ``markers`` are cells too, read for their ``mean``."""

        def num(cell: Any, name: str) -> float:
            value = None if cell is None else getattr(cell, name)
            return float("nan") if value is None else float(value)

        return cls(
            label=label,
            values=[num(c, "mean") for c in cells],
            low=[num(c, "ci_low") for c in cells],
            high=[num(c, "ci_high") for c in cells],
            markers=None if markers is None else [num(c, "mean") for c in markers],
            marker_label=marker_label,
        )


@dataclass(frozen=True)
class BarPanel:
    """One panel: a title, the group labels along x and one series per backend."""

    title: str
    groups: Sequence[str]
    series: Sequence[BarSeries]
    ylabel: str = "mean over test users"


def y_top(highest: float) -> float:
    """Top of the y-axis for bars and intervals reaching ``highest``:
    ``max(highest * (1 + HEADROOM), MIN_TOP)`` (``nan`` or below 0: :data:`MIN_TOP`)."""
    if not math.isfinite(highest) or highest <= 0:
        return MIN_TOP
    return max(highest * (1.0 + HEADROOM), MIN_TOP)


def _highest(panel: BarPanel) -> float:
    values = [
        v
        for s in panel.series
        for v in (*s.values, *s.high, *(s.markers or ()))
        if v is not None and math.isfinite(v)
    ]
    return max(values, default=float("nan"))


def _columns(n_panels: int, panel_width: float) -> int:
    return max(1, min(n_panels, int(MAX_WIDTH_IN // panel_width)))


def _draw(ax: Axes, panel: BarPanel) -> None:
    import numpy as np

    x = np.arange(len(panel.groups))
    width = 0.8 / max(len(panel.series), 1)
    for i, s in enumerate(panel.series):
        pos = x + (i - (len(panel.series) - 1) / 2) * width
        values = np.asarray(s.values, dtype=float)
        err = np.vstack([values - np.asarray(s.low, float), np.asarray(s.high, float) - values])
        err = np.clip(np.nan_to_num(err, nan=0.0), 0.0, None)
        ax.bar(
            pos,
            values,
            width,
            label=s.label,
            yerr=err,
            error_kw={"ecolor": "black", "elinewidth": 1.0, "capsize": 3, "zorder": 3},
        )
        if s.markers is not None:
            ax.plot(
                pos,
                np.asarray(s.markers, dtype=float),
                linestyle="none",
                marker="D",
                markersize=5,
                markerfacecolor="white",
                markeredgecolor="black",
                zorder=4,
                label=s.marker_label if i == 0 else None,
            )
    ax.set_xticks(x, list(panel.groups))
    top = y_top(_highest(panel))
    ticks = ax.yaxis.get_major_locator().tick_values(0.0, top)
    ax.set_yticks([t for t in ticks if -1e-9 <= t <= min(top, 1.0) + 1e-9])
    ax.set_ylim(0.0, top)
    ax.set_title(panel.title)
    ax.set_ylabel(panel.ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def bar_figure(panels: Sequence[BarPanel], *, panel_width: float = 6.0) -> Figure:
    """The panels in a grid no wider than :data:`MAX_WIDTH_IN`, with one legend below them
    (a figure saying "no backend evaluated" when there is no panel)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    panel_width = min(panel_width, MAX_WIDTH_IN)
    n = max(len(panels), 1)
    cols = _columns(n, panel_width)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(panel_width * cols, PANEL_HEIGHT_IN * rows + 0.6),
        squeeze=False,
        layout="constrained",
    )
    flat = [ax for row in axes for ax in row]
    for ax, panel in zip(flat, panels, strict=False):
        _draw(ax, panel)
    for ax in flat[len(panels) :]:
        ax.set_visible(False)
    if not panels:
        flat[0].set_visible(True)
        flat[0].text(0.5, 0.5, "no backend evaluated", ha="center", va="center")
        return fig
    handles, labels = [], []
    for ax in flat[: len(panels)]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if handles:
        fig.legend(
            handles,
            labels,
            loc="outside lower center",
            ncols=min(len(labels), max(2, int(panel_width * cols // 2.2))),
            fontsize="small",
            frameon=False,
        )
    return fig


def save_png(fig: Figure, path: Path) -> None:
    """Write ``fig`` as PNG (no software stamp, so equal figures are equal bytes), atomically,
    and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    with atomic_open(path, "wb") as fh:
        fh.write(buf.getvalue())

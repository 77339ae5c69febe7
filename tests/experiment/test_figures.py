"""The report's figures can be read (issue 26, item 12): no legend covers a bar, a bar at 1.0
shows its interval, five truths wrap into a grid instead of one 3,575-px row, and the y-axis
fits values far below 1.

Each test writes the figure as the run does (``write_figure``, ``write_summary_figure``,
``write_ranking_figure``), keeps the figure object handed to ``savefig`` and measures it with
matplotlib's own renderer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=True)

import matplotlib.image
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from llmrec.experiment.figure import FIGURE_METRICS, write_figure, write_summary_figure
from llmrec.experiment.ranking_report import write_ranking_figure
from llmrec.experiment.ranking_results import RankingBackend, RankingCell, RankingResult
from llmrec.experiment.results import DatasetResult, Results
from llmrec.experiment.summary import build_summary

BACKENDS = ["popularity", "item-knn", "ease", "zero-shot"]
TRUTHS = ["profileData50", "profileData60", "probe", "last", "future"]


@pytest.fixture
def saved(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Figure]]:
    """Every figure the code under test saves, kept for measuring."""
    figures: list[Figure] = []
    original = Figure.savefig

    def keep(self: Figure, *args: Any, **kwargs: Any) -> None:
        figures.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    yield figures


def _cell(mean: float, half: float) -> dict[str, float]:
    return {"mean": mean, "ci_low": max(mean - half, 0.0), "ci_high": min(mean + half, 1.0)}


def _dataset(value: Callable[[int, int], float], half: float = 0.04) -> dict[str, Any]:
    metrics = {
        label: {
            "metrics": {
                m: _cell(value(b, j), half)
                for j, m in enumerate([*FIGURE_METRICS, "ndcg@10", "precision@5"])
            },
            "n_evaluated": 50,
        }
        for b, label in enumerate(BACKENDS)
    }
    return {
        "truth_stats": {},
        "n_train": 10,
        "n_val": 5,
        "n_test": 50,
        "finetune": {},
        "fine_tuned_model": None,
        "backends": [],
        "metrics": metrics,
    }


def _results(truths: list[str], value: Callable[[int, int], float], half: float = 0.04) -> Results:
    return Results.model_validate(
        {"config": {}, "datasets": {t: _dataset(value, half) for t in truths}}
    )


def _ranking_results(value: float, half: float) -> Results:
    metrics = ["hit@1", "hit@5", "ndcg@5", "ndcg@10"]
    cell = RankingCell(mean=value, ci_low=value - half, ci_high=min(value + half, 1.0))
    backend = RankingBackend(
        files=[],
        n_users=50,
        validity_rate=1.0,
        strict=dict.fromkeys(metrics, cell),
        valid_only=dict.fromkeys(metrics, cell),
        interval="bootstrap over users",
        per_repeat=[],
        top1_flip_rate=None,
        top1_first_listed=None,
    )
    ranking = RankingResult(
        n_candidates=20,
        negatives="uniform",
        max_positives=None,
        repeats=1,
        seed=0,
        k=10,
        metrics=metrics,
        candidates_file="candidates/x.jsonl",
        fingerprint="0" * 64,
        order_fingerprints=["0" * 64],
        n_users=50,
        mean_positives=1.0,
        backends={label: backend for label in BACKENDS},
    )
    ds = DatasetResult.model_validate(
        {**_dataset(lambda b, j: value), "metrics": None, "ranking": ranking}
    )
    return Results(config={}, datasets={"profileData60": ds})


def _write_all(tmp_path: Path, results: Results) -> None:
    write_figure(tmp_path / "figure.png", results.to_json_dict())
    summary = build_summary(results.datasets)
    if summary.truths:
        write_summary_figure(tmp_path / "summary.png", summary)
    write_ranking_figure(tmp_path / "ranking.png", results)


def _renderer(fig: Figure) -> Any:
    """A renderer for a figure pyplot has closed (its layout drawn again)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _bars(fig: Figure) -> list[Rectangle]:
    return [
        patch
        for ax in fig.axes
        for container in ax.containers
        for patch in getattr(container, "patches", [])
        if isinstance(patch, Rectangle) and patch.get_height() > 0
    ]


def _legends(fig: Figure) -> list[Any]:
    return [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]


HIGH = _results(TRUTHS[:2], lambda b, j: 0.96 - 0.02 * b)  # tall bars everywhere
HIGH_RANKING = _ranking_results(0.9, 0.05)


@pytest.mark.parametrize("results", [HIGH, HIGH_RANKING], ids=["metrics+summary", "ranking"])
def test_no_legend_covers_a_bar(tmp_path: Path, saved: list[Figure], results: Results) -> None:
    _write_all(tmp_path, results)
    drawn = [fig for fig in saved if _bars(fig)]  # not the "no backend evaluated" figure
    assert drawn
    for fig in drawn:
        renderer = _renderer(fig)
        bars = _bars(fig)
        legends = _legends(fig)
        assert legends
        for legend in legends:
            box = legend.get_window_extent(renderer)
            covered = [b for b in bars if box.overlaps(b.get_window_extent(renderer))]
            assert covered == [], f"the legend covers {len(covered)} bar(s)"


@pytest.mark.parametrize(
    "results",
    [
        _results(["a"], lambda b, j: 1.0, half=0.1),
        _ranking_results(1.0, 0.1),
    ],
    ids=["metrics+summary", "ranking"],
)
def test_a_bar_at_one_shows_its_interval(
    tmp_path: Path, saved: list[Figure], results: Results
) -> None:
    _write_all(tmp_path, results)
    assert saved
    for fig in saved:
        renderer = _renderer(fig)
        for ax in fig.axes:
            if not ax.get_visible() or not ax.containers:
                continue
            assert ax.get_ylim()[1] > 1.05
            frame = ax.get_window_extent(renderer)
            caps = [
                line
                for container in ax.containers
                if not hasattr(container, "patches")  # the error bars
                for line in container.lines[1]
            ]
            assert caps
            top = max(cap.get_window_extent(renderer).y1 for cap in caps)
            assert top < frame.y1 - 2, "the interval's cap sits on the frame"


def test_five_truths_wrap_into_a_grid(tmp_path: Path, saved: list[Figure]) -> None:
    results = _results(TRUTHS, lambda b, j: 0.3)
    write_figure(tmp_path / "figure.png", results.to_json_dict())
    height, width = matplotlib.image.imread(tmp_path / "figure.png").shape[:2]
    assert width <= 1500, f"{width} px wide"
    assert height > width / 2  # several rows
    (fig,) = saved
    titles = sorted(ax.get_title() for ax in fig.axes if ax.get_visible())
    assert titles == sorted(TRUTHS)
    write_summary_figure(tmp_path / "summary.png", build_summary(results.datasets))
    assert matplotlib.image.imread(tmp_path / "summary.png").shape[1] <= 1500


def test_the_y_axis_fits_values_far_below_one(tmp_path: Path, saved: list[Figure]) -> None:
    results = _results(["a", "b"], lambda b, j: 0.05 + 0.06 * b, half=0.02)  # all below 0.35
    _write_all(tmp_path, results)
    highest = 0.05 + 0.06 * 3 + 0.02
    for fig in saved:
        for ax in fig.axes:
            if ax.get_visible() and ax.containers:
                low, top = ax.get_ylim()
                assert low == 0.0
                assert highest < top <= 0.35
                assert max(ax.get_yticks()) <= top


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-1.0, max_value=1.0) | st.just(float("nan")))
def test_y_top_leaves_headroom(highest: float) -> None:
    from llmrec.experiment.bars import MIN_TOP, y_top

    top = y_top(highest)
    assert top >= MIN_TOP
    if highest > 0:
        assert top > highest

"""The candidate-ranking part of the report: a table per truth and the figure ``ranking.png``.

Per truth with ``ranking = "candidates"``: what the sets are (size, positives, negatives, file
and fingerprint), then one row per backend and metric with the strict and the valid-only number
side by side (95 % interval in brackets: bootstrap over users with one presentation order,
Student's t over the orders with several), then the validity rate and, with several orders,
the top-1 flip rate and first-listed rate. The figure has one panel per such truth: a bar per
backend and metric (strict, with its interval) and a marker for the valid-only number.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from llmrec.experiment.bars import BarPanel, BarSeries, bar_figure, save_png
from llmrec.experiment.paired_table import paired_test_lines
from llmrec.experiment.ranking_results import RankingCell, RankingResult
from llmrec.experiment.results import DatasetResult, Results

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "RANKING_FIGURE",
    "has_ranking_figure",
    "ranking_figure",
    "ranking_lines",
    "ranking_text",
    "write_ranking_figure",
]

RANKING_FIGURE = "ranking.png"
_SHORT = {"hit": "HR", "ndcg": "NDCG"}


def _short(metric: str) -> str:
    name, _, k = metric.partition("@")
    return f"{_SHORT.get(name, name)}@{k}"


def _cell(cell: RankingCell | None) -> str:
    if cell is None or cell.mean is None:
        return "–"
    if cell.ci_low is None or cell.ci_high is None:
        return f"{cell.mean:.4f}"
    return f"{cell.mean:.4f} [{cell.ci_low:.4f}, {cell.ci_high:.4f}]"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _intro(r: RankingResult) -> list[str]:
    cap = "" if r.max_positives is None else f", at most {r.max_positives}"
    orders = (
        f"Each set was shown in {r.repeats} seeded orders (repeat 0 is the sampled order); a "
        "number is the mean over the orders, with the 95 % Student-t interval over the orders "
        "in brackets, clipped to [0, 1] (the metrics' range; with few orders the t interval is "
        "wide)."
        if r.repeats > 1
        else "95 % bootstrap interval over users in brackets."
    )
    return [
        f"Candidate ranking: {r.n_users:,} test users, {r.n_candidates} candidates each (the "
        f"user's positives{cap}, {r.mean_positives:.2f} on average, plus {r.negatives} "
        f"negatives never rated by the user; seed {r.seed}), from `{r.candidates_file}` "
        f"(SHA-256 `{r.fingerprint[:16]}…`). Every backend ranked the same sets and was asked "
        f"for its top {r.k}. Strict scores every test user (an invalid or missing answer is a "
        f"miss); valid-only scores the users whose answer named a candidate. {orders}",
        *[f"{r.skipped_users:,} test user(s) skipped: too few unrated movies."][: r.skipped_users],
        "",
    ]


def ranking_lines(ds: DatasetResult) -> list[str]:
    """The report's candidate-ranking section of one truth (empty for a ``"full"`` truth)."""
    r = ds.ranking
    if r is None:
        return []
    lines = _intro(r)
    if not r.backends:
        return lines
    rows = [
        [label, _short(m), _cell(b.strict.get(m)), _cell(b.valid_only.get(m))]
        for label, b in r.backends.items()
        for m in r.metrics
    ]
    lines += [*_table(["backend", "metric", "strict", "valid-only"], rows), ""]
    header = ["backend", "validity rate"]
    if r.repeats > 1:
        header += ["top-1 flip rate", "top-1 first-listed"]
    header += ["requests", "prompt tokens", "completion tokens", "cost USD"]
    rows = []
    for label, b in r.backends.items():
        row = [label, _rate(b.validity_rate)]
        if r.repeats > 1:
            row += [_rate(b.top1_flip_rate), _rate(b.top1_first_listed)]
        llm = b.llm or {}
        row += [
            f"{llm['responses']:,}" if llm else "–",
            f"{llm['prompt_tokens']:,}" if llm else "–",
            f"{llm['completion_tokens']:,}" if llm else "–",
            f"{llm['cost_usd']:.4f}" if llm else "–",
        ]
        rows.append(row)
    note = (
        " The top-1 flip rate is the share of pairs of orders whose top-ranked movie differs "
        "(0 for an order-invariant ranker); first-listed is the share of answers whose top "
        "movie was shown first (about 1/n without position bias)."
        if r.repeats > 1
        else ""
    )
    tests = paired_test_lines(
        "Paired tests between the language-model backends on the same sets (strict per-user "
        "values, averaged over the orders; Δ = first − second):",
        r.comparisons,
        r.metrics,
        r.p_adjust,
        name=_short,
    )
    return [
        *lines,
        f"Validity and cost of the rankings.{note}",
        "",
        *_table(header, rows),
        "",
        *tests,
    ]


def ranking_text(ds: DatasetResult) -> list[str]:
    """Strict means per backend for a terminal (empty for a ``"full"`` truth)."""
    from llmrec.metrics.table import text_table

    r = ds.ranking
    if r is None or not r.backends:
        return []
    rows = [
        [
            label,
            *(_cell(b.strict.get(m)).split(" [")[0] for m in r.metrics),
            _rate(b.validity_rate),
        ]
        for label, b in r.backends.items()
    ]
    header = ["candidates (strict)", *map(_short, r.metrics), "valid"]
    return [text_table(header, rows)]


def _panels(results: Results) -> list[tuple[str, RankingResult]]:
    return [
        (name, ds.ranking)
        for name, ds in results.datasets.items()
        if ds.ranking is not None and ds.ranking.backends
    ]


def has_ranking_figure(results: Results) -> bool:
    """Whether the run ranked candidates on some truth (so ``ranking.png`` is written)."""
    return bool(_panels(results))


def ranking_figure(results: Results) -> Figure | None:
    """One panel per candidate-ranking truth: a bar per backend and metric (strict, with its
    interval) and a marker for the valid-only number; ``None`` if no truth ranked candidates."""
    panels = _panels(results)
    if not panels:
        return None
    out = []
    for name, r in panels:
        series = []
        for label, b in r.backends.items():
            cells = [b.strict.get(m) for m in r.metrics]
            valid = [b.valid_only.get(m) for m in r.metrics]
            series.append(
                BarSeries.from_cells(label, cells, markers=valid, marker_label="valid-only")
            )
        orders = f", {r.repeats} orders" if r.repeats > 1 else ""
        out.append(
            BarPanel(
                f"{name}: {r.n_candidates} candidates{orders}",
                [_short(m) for m in r.metrics],
                series,
                ylabel="strict mean over test users",
            )
        )
    return bar_figure(out)


def write_ranking_figure(path: Path, results: Results) -> bool:
    """:func:`ranking_figure` as PNG; ``False`` (nothing written) if no truth ranked
    candidates."""
    fig = ranking_figure(results)
    if fig is None:
        return False
    save_png(fig, path)
    return True

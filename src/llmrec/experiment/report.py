"""The experiment's outputs: ``results.json``, ``report.md`` and ``figure.png``.

The Markdown report opens with the data, the spend (:mod:`.report_spend`: budget, planned,
worst-case and actual USD) and the summary (every backend on every truth: P@5 and NDCG@10 with
95 % intervals, and the share of recommendations in the head), then has one table per truth laid
out like the study's Tables 2 and 3 (a row per metric, a column per backend, 95 % bootstrap
intervals), then the paired tests against the baseline, the data-set statistics and the
language-model diagnostics. Each section is one small
function of the typed :class:`~llmrec.experiment.results.Results`; :func:`render_markdown`
joins them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmrec._io import write_json_atomic, write_text_atomic
from llmrec.experiment.config import ExperimentConfig
from llmrec.experiment.pointwise_report import pointwise_lines, pointwise_text
from llmrec.experiment.pvalues import format_p
from llmrec.experiment.ranking_report import (
    RANKING_FIGURE,
    has_ranking_figure,
    ranking_lines,
    ranking_text,
    write_ranking_figure,
)
from llmrec.experiment.report_spend import spend_lines
from llmrec.experiment.report_training import training_lines
from llmrec.experiment.report_truths import (
    fitting_lines,
    gold_head_text,
    holdout_truth_lines,
    summary_section,
    summary_text,
)
from llmrec.experiment.results import DatasetResult, Results
from llmrec.metrics.table import text_table

__all__ = ["metric_table", "render_markdown", "render_text", "write_outputs"]


def _as_results(results: Results | dict[str, Any]) -> Results:
    return results if isinstance(results, Results) else Results.from_json_dict(results)


def _as_dataset(ds: DatasetResult | dict[str, Any]) -> DatasetResult:
    return ds if isinstance(ds, DatasetResult) else DatasetResult.model_validate(ds)


def metric_table(ds: DatasetResult | dict[str, Any], metric_names: list[str]) -> list[list[str]]:
    """Rows of [metric, cell per backend]; a cell is ``mean [low, high]``."""
    metrics = _as_dataset(ds).metrics or {}
    rows: list[list[str]] = []
    for m in metric_names:
        row = [m]
        for label in metrics:
            cell = metrics[label]["metrics"].get(m, {})
            mean, lo, hi = cell.get("mean"), cell.get("ci_low"), cell.get("ci_high")
            if mean is None:
                row.append("–")
            elif lo is not None and hi is not None:
                row.append(f"{mean:.4f} [{lo:.4f}, {hi:.4f}]")
            else:
                row.append(f"{mean:.4f}")
        rows.append(row)
    return rows


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# -- sections -------------------------------------------------------------------------------
def _data_section(results: Results, config: ExperimentConfig) -> list[str]:
    data = results.data or {}
    return [
        "## Data",
        "",
        f"- source: `{config.data.kind}`",
        f"- {data.get('n_ratings', 0):,} ratings, {data.get('n_users', 0):,} users, "
        f"{data.get('n_movies', 0):,} movies, {data.get('n_titles', 0):,} titles",
        f"- dates {data.get('first_date')} to {data.get('last_date')}",
        "",
    ]


def _truth_section(ds: DatasetResult, n_head: int | None = None) -> list[str]:
    if ds.kind not in (None, "neighbour"):
        return holdout_truth_lines(ds, n_head)
    ts = ds.truth_stats
    left = ", ".join(f"{n:,} {why.replace('_', ' ')}" for why, n in ts.get("left_out", {}).items())
    gold, neighbours = ts.get("gold_size", {}), ts.get("n_neighbours", {})
    return [
        f"{ds.n_train:,} train / {ds.n_val:,} validation / {ds.n_test:,} test users. "
        f"{gold_head_text(ds, n_head)}",
        "",
        f"Ground truth: {ts.get('n_examples', 0):,} users with gold of "
        f"{ts.get('n_targets') or 0:,} targets (left out: {left or 'none'}); gold size "
        f"median {gold.get('median', 0):g}, mean {gold.get('mean', 0):.2f}; neighbours "
        f"median {neighbours.get('median', 0):,.0f}; {ts.get('n_gold_movies', 0):,} "
        "distinct gold movies.",
        "",
        *fitting_lines(ds),
    ]


def _metrics_section(ds: DatasetResult, config: ExperimentConfig) -> list[str]:
    if not ds.metrics:
        return []
    return [
        "Mean over test users, 95 % bootstrap interval in brackets.",
        "",
        _markdown_table(["metric", *ds.metrics], metric_table(ds, config.metrics)),
        "",
    ]


_TESTS = (
    ("t_pvalue", "t-test p"),
    ("wilcoxon_pvalue", "Wilcoxon p"),
    ("randomization_pvalue", "randomisation p"),
)


def _adjusted(ds: DatasetResult) -> str | None:
    """The correction shown beside the raw p-values (``None``: raw only)."""
    return None if ds.p_adjust in (None, "none") else ds.p_adjust


def _comparison_rows(
    comparisons: dict[str, Any] | None, metrics: list[str], *, adjusted: bool
) -> list[list[str]]:
    """One row per (comparison, metric) of paired-test results: Δ mean, p-values (each beside
    its adjusted value when ``adjusted``), d_z."""
    rows = []
    for label, comp in (comparisons or {}).items():
        per_metric = comp.get("results", {})
        for m in metrics:
            c = per_metric.get(m)
            if c:
                cells = [label, m, f"{c['diff']:+.4f}"]
                for key, _ in _TESTS:
                    cells.append(format_p(c[key]))
                    if adjusted:
                        cells.append(format_p(c.get(f"{key}_adj")))
                rows.append([*cells, f"{c['cohens_dz']:+.3f}"])
    return rows


def _test_header(first: str, last: str, method: str | None) -> list[str]:
    header = [first, "metric", "Δ mean"]
    for _, title in _TESTS:
        header.append(title)
        if method is not None:
            header.append(f"{method} adj.")
    return [*header, last]


def _adjust_note(method: str | None) -> list[str]:
    if method is None:
        return []
    return [
        f"p-values adjusted with `{method}` over the table (every row × metric is one family; "
        "each test kind corrected separately), beside the raw ones.",
        "",
    ]


def _significance_section(ds: DatasetResult, config: ExperimentConfig) -> list[str]:
    method = _adjusted(ds)
    rows = _comparison_rows(ds.comparisons, config.metrics, adjusted=method is not None)
    if not rows:
        return []
    return [
        f"Paired tests against `{ds.baseline}` (users evaluated by both):",
        "",
        _markdown_table(_test_header("backend", "Cohen's d_z", method), rows),
        "",
        *_adjust_note(method),
    ]


def _arm_section(ds: DatasetResult, config: ExperimentConfig) -> list[str]:
    """Paired tests between the language-model arms (see :mod:`.arm_tests`)."""
    method = _adjusted(ds)
    rows = _comparison_rows(ds.arm_comparisons, config.metrics, adjusted=method is not None)
    if not rows:
        return []
    return [
        "Paired tests between the language-model arms (the same test users; Δ = first − second):",
        "",
        _markdown_table(_test_header("arms", "d_z", method), rows),
        "",
        *_adjust_note(method),
    ]


def _diagnostics_section(ds: DatasetResult) -> list[str]:
    if not ds.llm_diagnostics:
        return []
    rows = [
        [
            label,
            f"{d.hallucination_rate:.1%}",
            f"{d.invalid_output_rate:.1%}",
            f"{d.duplicate_rate:.1%}",
            f"{d.prompt_tokens:,}",
            f"{d.completion_tokens:,}",
            f"{d.cost_usd:.4f}",
            f"{d.failed_answers:,}",
        ]
        for label, d in ds.llm_diagnostics.items()
    ]
    header = [
        "backend",
        "hallucinated",
        "invalid output",
        "duplicates",
        "prompt tokens",
        "completion tokens",
        "cost USD",
        "failed answers",
    ]
    return ["Language-model diagnostics:", "", _markdown_table(header, rows), ""]


def _beyond_section(ds: DatasetResult, config: ExperimentConfig) -> list[str]:
    if not ds.beyond_accuracy:
        return []
    heads = any(b.head_share is not None for b in ds.beyond_accuracy.values())
    rows = [
        [
            label,
            f"{b.catalog_coverage:.1%}",
            f"{b.mean_popularity:,.0f}",
            *([_share(b.head_share)] if heads else []),
        ]
        for label, b in ds.beyond_accuracy.items()
    ]
    header = ["", "catalog coverage", "mean popularity", *(["in the head"] if heads else [])]
    head_text = (
        f"; in the head: share of the movies among the {config.n_head} most-rated of the "
        "fitting ratings"
        if heads
        else ""
    )
    return [
        "Beyond accuracy (catalog coverage: share of the movies in the data recommended "
        f"to anyone; popularity: mean number of ratings of a recommended movie{head_text}):",
        "",
        _markdown_table(header, rows),
        "",
    ]


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _skipped_section(ds: DatasetResult) -> list[str]:
    parts = []
    for e in ds.backends:
        if e.skipped is not None:
            cost = e.estimated_cost_usd
            extra = f"; would cost about {cost:.4f} USD" if cost is not None else ""
            parts.append(f"- `{e.label}` skipped: {e.skipped}{extra}")
    return [*parts, ""] if parts else []


def _finetune_section(ds: DatasetResult) -> list[str]:
    """A paragraph per fine-tuning arm, written by the arm (:mod:`llmrec.experiment.arms`)."""
    from llmrec.experiment.arms.registry import arm_report_lines

    return arm_report_lines(ds.finetune)


def _dataset_section(
    number: int, name: str, ds: DatasetResult, config: ExperimentConfig
) -> list[str]:
    kind = f" ({ds.kind} truth)" if ds.kind not in (None, "neighbour") else ""
    return [
        f"## Table {number}: {name}{kind}",
        "",
        *_truth_section(ds, config.n_head),
        *_metrics_section(ds, config),
        *ranking_lines(ds),
        *pointwise_lines(ds),
        *_significance_section(ds, config),
        *_arm_section(ds, config),
        *_diagnostics_section(ds),
        *_beyond_section(ds, config),
        *_skipped_section(ds),
        *training_lines(ds),
        *_finetune_section(ds),
    ]


def _probe_section(doc: Results) -> list[str]:
    """The memorisation probe of each zero-shot language-model backend, by popularity bucket,
    with the synthetic-catalog floor when calibrated (``[probe]``)."""
    if not doc.probes:
        return []
    from llmrec.probes import TABLE_HEADERS

    rows: list[list[str]] = []
    skipped = []
    for p in doc.probes.values():
        if p.skipped is not None:
            skipped.append(f"- {p.label}: not probed, {p.skipped}")
            continue
        rows += [[p.label, *r] for r in p.rows]
        rows += [[f"{p.label} (synthetic floor)", *r] for r in p.calibration_rows or []]
    out = [
        "## Memorisation probe",
        "",
        "How much of the data set each zero-shot language-model backend recalls (rates with 95 % "
        "Wilson intervals, by popularity bucket of the movies probed). Read the zero-shot rows "
        "of the tables below with it: a high recall means a zero-shot score may be recall of "
        "the data, not recommendation; a low one is not proof the data was never seen.",
        "",
    ]
    if rows:
        out += [_markdown_table(["backend", *TABLE_HEADERS], rows), ""]
    return [*out, *skipped, *([""] if skipped else [])]


def _probe_note(doc: Results, ds: DatasetResult) -> list[str]:
    """One line beside a truth's rows: the probe recall of the backends in its table."""
    if not doc.probes:
        return []
    labels = set(ds.metrics or {}) | set(ds.ranking.backends if ds.ranking else {})
    cells = [
        f"{p.label} {p.recall:.1%}"
        + ("" if p.calibration_recall is None else f" (floor {p.calibration_recall:.1%})")
        for p in doc.probes.values()
        if p.label in labels and p.recall is not None
    ]
    if not cells:
        return []
    return [f"Memorisation probe recall beside these rows: {'; '.join(cells)}.", ""]


def render_markdown(results: Results | dict[str, Any], config: ExperimentConfig) -> str:
    """The whole report as Markdown (accepts the typed results or a ``results.json`` dict)."""
    doc = _as_results(results)
    parts = ["# llmrec: Large Language Models as Recommendation Systems, reproduced", ""]
    parts += _data_section(doc, config)
    parts += spend_lines(doc)
    parts += summary_section(doc)
    parts += _probe_section(doc)
    for i, (name, ds) in enumerate(doc.datasets.items(), start=2):
        section = _dataset_section(i, name, ds, config)
        note = _probe_note(doc, ds)
        if note:  # beside the zero-shot rows: right after the truth's heading block
            section = [*section[:2], *note, *section[2:]]
        parts += section
    parts += ["![Figure 2](figure.png)", ""]
    if has_ranking_figure(doc):
        parts += [f"![Candidate ranking]({RANKING_FIGURE})", ""]
    if doc.summary is not None and len(doc.summary.truths) > 1:
        parts += ["![Every backend on every truth](summary.png)", ""]
    return "\n".join(parts)


def render_text(results: Results | dict[str, Any], config: ExperimentConfig) -> str:
    """The tables for a terminal."""
    doc = _as_results(results)
    out = []
    for name, ds in doc.datasets.items():
        out.append(f"{name}: {ds.n_test:,} test users")
        if ds.metrics:
            rows = [
                [r[0], *(c.split(" [")[0] for c in r[1:])] for r in metric_table(ds, config.metrics)
            ]
            out.append(text_table(["metric", *ds.metrics], rows))
        out += ranking_text(ds)
        out += pointwise_text(ds)
        for e in ds.backends:
            if e.skipped is not None:
                cost = e.estimated_cost_usd
                extra = f" (would cost about {cost:.4f} USD)" if cost is not None else ""
                out.append(f"  {e.label}: skipped, {e.skipped}{extra}")
        out.append("")
    out += summary_text(doc)
    out += _probe_text(doc)
    return "\n".join(out)


def _probe_text(doc: Results) -> list[str]:
    """The memorisation probe's rows for a terminal (``[probe]``)."""
    if not doc.probes:
        return []
    from llmrec.probes import TABLE_HEADERS

    rows = []
    for p in doc.probes.values():
        rows += [[p.label, *r] for r in p.rows]
        rows += [[f"{p.label} (synthetic floor)", *r] for r in p.calibration_rows or []]
    skipped = [f"  {p.label}: not probed, {p.skipped}" for p in doc.probes.values() if p.skipped]
    table = [text_table(["backend", *TABLE_HEADERS], rows)] if rows else []
    return ["", "Memorisation probe:", *table, *skipped]


def write_outputs(out: Path, results: Results, config: ExperimentConfig) -> None:
    """Write ``results.json``, ``report.md`` and ``figure.png`` into ``out``."""
    from llmrec.experiment.figure import write_figure, write_summary_figure

    results.artifacts = {"results": "results.json", "report": "report.md", "figure": "figure.png"}
    if results.summary is not None and len(results.summary.truths) > 1:
        results.artifacts["summary_figure"] = "summary.png"
    if has_ranking_figure(results):
        results.artifacts["ranking_figure"] = RANKING_FIGURE
    document = results.to_json_dict()  # serialised once, read by the figures and written
    write_ranking_figure(out / RANKING_FIGURE, results)
    write_figure(out / "figure.png", document)
    if results.summary is not None and len(results.summary.truths) > 1:
        write_summary_figure(out / "summary.png", results.summary)
    write_text_atomic(out / "report.md", render_markdown(results, config))
    write_json_atomic(out / "results.json", document)

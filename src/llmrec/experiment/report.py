"""The experiment's outputs: ``results.json``, ``report.md`` and ``figure.png``.

The Markdown report has one table per data set laid out like the study's Tables 2 and 3 (a row
per metric, a column per backend, 95 % bootstrap intervals), then the paired tests against the
baseline, the data-set statistics and the language-model diagnostics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmrec._io import write_json_atomic, write_text_atomic
from llmrec.experiment.config import ExperimentConfig

__all__ = ["metric_table", "render_markdown", "render_text", "write_outputs"]


def _backend_columns(ds: dict[str, Any]) -> list[str]:
    return list(ds.get("metrics", {}))


def metric_table(ds: dict[str, Any], metric_names: list[str]) -> list[list[str]]:
    """Rows of [metric, cell per backend]; a cell is ``mean [low, high]``."""
    rows: list[list[str]] = []
    for m in metric_names:
        row = [m]
        for label in _backend_columns(ds):
            cell = ds["metrics"][label]["metrics"].get(m, {})
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


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    out = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*r) for r in rows]
    return "\n".join(out)


def _significance_rows(ds: dict[str, Any], metric_names: list[str]) -> list[list[str]]:
    rows = []
    for label, comp in ds.get("comparisons", {}).items():
        per_metric = comp.get("results", {})
        for m in metric_names:
            c = per_metric.get(m)
            if not c:
                continue
            rows.append(
                [
                    label,
                    m,
                    f"{c['diff']:+.4f}",
                    _p(c["t_pvalue"]),
                    _p(c["wilcoxon_pvalue"]),
                    _p(c["randomization_pvalue"]),
                    f"{c['cohens_dz']:+.3f}",
                ]
            )
    return rows


def _p(value: float | None) -> str:
    return "–" if value is None or value != value else f"{value:.3g}"


def render_markdown(results: dict[str, Any], config: ExperimentConfig) -> str:
    """The whole report as Markdown."""
    parts = ["# llmrec: Large Language Models as Recommendation Systems, reproduced", ""]
    data = results.get("data", {})
    parts += [
        "## Data",
        "",
        f"- source: `{config.data.kind}`",
        f"- {data.get('n_ratings', 0):,} ratings, {data.get('n_users', 0):,} users, "
        f"{data.get('n_movies', 0):,} movies, {data.get('n_titles', 0):,} titles",
        f"- dates {data.get('first_date')} to {data.get('last_date')}",
        "",
    ]
    for i, (name, ds) in enumerate(results.get("datasets", {}).items(), start=2):
        parts += [f"## Table {i}: {name}", ""]
        ts = ds.get("truth_stats", {})
        share = ts.get("popular_share")
        share_text = "n/a" if share is None else f"{share:.1%}"
        parts += [
            f"{ds.get('n_train', 0):,} train / {ds.get('n_val', 0):,} validation / "
            f"{ds.get('n_test', 0):,} test users. Share of gold items among the 100 most-rated "
            f"movies (how much of the truth is popularity): {share_text}.",
            "",
        ]
        left = ", ".join(
            f"{n:,} {why.replace('_', ' ')}" for why, n in ts.get("left_out", {}).items()
        )
        gold, neighbours = ts.get("gold_size", {}), ts.get("n_neighbours", {})
        parts += [
            f"Ground truth: {ts.get('n_examples', 0):,} users with gold of "
            f"{ts.get('n_targets') or 0:,} targets (left out: {left or 'none'}); gold size "
            f"median {gold.get('median', 0):g}, mean {gold.get('mean', 0):.2f}; neighbours "
            f"median {neighbours.get('median', 0):,.0f}; {ts.get('n_gold_movies', 0):,} "
            "distinct gold movies.",
            "",
        ]
        columns = _backend_columns(ds)
        if columns:
            parts += [
                "Mean over test users, 95 % bootstrap interval in brackets.",
                "",
                _markdown_table(["metric", *columns], metric_table(ds, config.metrics)),
                "",
            ]
        sig = _significance_rows(ds, config.metrics)
        if sig:
            parts += [
                f"Paired tests against `{ds.get('baseline')}` (users evaluated by both):",
                "",
                _markdown_table(
                    [
                        "backend",
                        "metric",
                        "Δ mean",
                        "t-test p",
                        "Wilcoxon p",
                        "randomisation p",
                        "Cohen's d_z",
                    ],
                    sig,
                ),
                "",
            ]
        diag = ds.get("llm_diagnostics", {})
        if diag:
            rows = [
                [
                    label,
                    f"{d['hallucination_rate']:.1%}",
                    f"{d['invalid_output_rate']:.1%}",
                    f"{d['duplicate_rate']:.1%}",
                    f"{d['prompt_tokens']:,}",
                    f"{d['completion_tokens']:,}",
                    f"{d['cost_usd']:.4f}",
                ]
                for label, d in diag.items()
            ]
            parts += [
                "Language-model diagnostics:",
                "",
                _markdown_table(
                    [
                        "backend",
                        "hallucinated",
                        "invalid output",
                        "duplicates",
                        "prompt tokens",
                        "completion tokens",
                        "cost USD",
                    ],
                    rows,
                ),
                "",
            ]
        beyond = ds.get("beyond_accuracy", {})
        if beyond:
            parts += [
                "Beyond accuracy (catalog coverage: share of the movies in the data recommended "
                "to anyone; popularity: mean number of ratings of a recommended movie):",
                "",
                _markdown_table(
                    ["", "catalog coverage", "mean popularity"],
                    [
                        [label, f"{b['catalog_coverage']:.1%}", f"{b['mean_popularity']:,.0f}"]
                        for label, b in beyond.items()
                    ],
                ),
                "",
            ]
        skipped = [e for e in ds.get("backends", []) if "skipped" in e]
        for e in skipped:
            cost = e.get("estimated_cost_usd")
            extra = f"; would cost about {cost:.4f} USD" if cost is not None else ""
            parts.append(f"- `{e['label']}` skipped: {e['skipped']}{extra}")
        if skipped:
            parts.append("")
        ft = ds.get("finetune", {})
        if ft:
            parts += [
                f"Fine-tuning file: {ft.get('train_examples', 0):,} examples, "
                f"{ft.get('train_tokens', 0):,} tokens; {ft.get('n_epochs')} epochs cost "
                f"{ft.get('training_cost_usd', 0.0):.2f} USD at list price.",
                "",
            ]
    parts += ["![Figure 2](figure.png)", ""]
    return "\n".join(parts)


def render_text(results: dict[str, Any], config: ExperimentConfig) -> str:
    """The tables for a terminal."""
    out = []
    for name, ds in results.get("datasets", {}).items():
        columns = _backend_columns(ds)
        out.append(f"{name}: {ds.get('n_test', 0):,} test users")
        if columns:
            rows = [
                [r[0], *(c.split(" [")[0] for c in r[1:])] for r in metric_table(ds, config.metrics)
            ]
            out.append(_text_table(["metric", *columns], rows))
        for e in ds.get("backends", []):
            if "skipped" in e:
                cost = e.get("estimated_cost_usd")
                extra = f" (would cost about {cost:.4f} USD)" if cost is not None else ""
                out.append(f"  {e['label']}: skipped, {e['skipped']}{extra}")
        out.append("")
    return "\n".join(out)


def write_outputs(out: Path, results: dict[str, Any], config: ExperimentConfig) -> None:
    """Write ``results.json``, ``report.md`` and ``figure.png`` into ``out``."""
    from llmrec.experiment.figure import write_figure

    results["artifacts"] = {
        "results": "results.json",
        "report": "report.md",
        "figure": "figure.png",
    }
    write_figure(out / "figure.png", results)
    write_text_atomic(out / "report.md", render_markdown(results, config))
    write_json_atomic(out / "results.json", results)

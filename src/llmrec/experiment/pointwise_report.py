"""The pointwise part of the report: AUC and gAUC per backend on a TALLRec truth's test rows,
and the paired tests between backends (see :mod:`llmrec.experiment.stages.pointwise`)."""

from __future__ import annotations

from llmrec.experiment.paired_table import paired_test_lines
from llmrec.experiment.pointwise_results import PointwiseCell, PointwiseResult
from llmrec.experiment.pvalues import format_p
from llmrec.experiment.results import DatasetResult

__all__ = ["pointwise_lines", "pointwise_text"]

_HOW = {
    "likelihood": "P(Yes)",
    "target score": "target score",
}


def _cell(cell: PointwiseCell) -> str:
    if cell.mean is None:
        return "–"
    if cell.ci_low is None or cell.ci_high is None:
        return f"{cell.mean:.4f}"
    return f"{cell.mean:.4f} [{cell.ci_low:.4f}, {cell.ci_high:.4f}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _auc_tests(p: PointwiseResult) -> list[str]:
    """The pooled AUC of every two backends: Δ, its paired bootstrap interval and p-value."""
    adjusted = p.p_adjust not in (None, "none")
    rows = []
    for pair, comp in (p.comparisons or {}).items():
        c = comp.get("auc")
        if not isinstance(c, dict):
            continue
        ci = "–" if c["ci_low"] is None else f"[{c['ci_low']:+.4f}, {c['ci_high']:+.4f}]"
        row = [pair, f"{c['diff']:+.4f}", ci, format_p(c["pvalue"])]
        rows.append([*row, format_p(c.get("pvalue_adj"))] if adjusted else row)
    if not rows:
        return []
    header = ["backends", "Δ AUC", "95 % interval", "bootstrap p"]
    header += [f"{p.p_adjust} adj."] if adjusted else []
    return [
        "The pooled AUC, paired: users resampled once for both backends (Δ = first − second):",
        "",
        *_table(header, rows),
        "",
    ]


def _tests(p: PointwiseResult) -> list[str]:
    intro = (
        "Paired tests between backends on the per-user AUCs of the same rows (Δ = first − second):"
    )
    gauc = paired_test_lines(intro, p.comparisons, ["gauc"], p.p_adjust, name=lambda m: "gAUC")
    return [*_auc_tests(p), *gauc]


def pointwise_lines(ds: DatasetResult) -> list[str]:
    """The report's pointwise section of one truth (empty unless it was scored)."""
    p = ds.pointwise
    if p is None:
        return []
    lines = [
        f"Pointwise scoring of the {p.n_rows:,} test rows ({p.n_users:,} users, "
        f"{p.n_positive:,} liked): a language model by P(Yes) from the log-probabilities of "
        "'Yes' and 'No' as the first answer token (TALLRec's rule), a classic or sequential "
        "recommender by its score of the target as the one candidate after the row's history. "
        f"Backends fitted on {p.fitting_ratings:,} ratings: every rating but the test targets. "
        "AUC over every row and gAUC (the mean of the per-user AUCs, users with both labels), "
        "95 % bootstrap interval over users in brackets.",
        "",
    ]
    if p.undefined is not None:
        lines += [f"AUC is undefined here: {p.undefined}.", ""]
    if not p.backends:
        return [*lines, "No backend could score these rows.", ""]
    rows = [
        [
            label,
            _HOW[b.scorer],
            _cell(b.auc),
            _cell(b.gauc),
            f"{b.n_users_gauc:,}",
            "–" if b.requests is None else f"{b.requests:,}",
            "–" if b.input_tokens is None else f"{b.input_tokens:,}",
        ]
        for label, b in p.backends.items()
    ]
    header = ["backend", "score", "AUC", "gAUC", "users (gAUC)", "requests", "prompt tokens"]
    return [*lines, *_table(header, rows), "", *_tests(p)]


def pointwise_text(ds: DatasetResult) -> list[str]:
    """AUC and gAUC per backend for a terminal (empty unless the truth was scored)."""
    from llmrec.metrics.table import text_table

    p = ds.pointwise
    if p is None or not p.backends:
        return []
    rows = [
        [label, _HOW[b.scorer], _cell(b.auc).split(" [")[0], _cell(b.gauc).split(" [")[0]]
        for label, b in p.backends.items()
    ]
    return [text_table(["pointwise", "score", "AUC", "gAUC"], rows)]

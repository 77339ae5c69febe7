"""A table of paired tests for the report: one row per pair of backends and metric.

Each row: the pair, the metric, Δ mean (first − second), the p-value of the paired t-test,
the Wilcoxon signed-rank test and the randomisation test (each beside its adjusted value when
the table was adjusted, :mod:`llmrec.experiment.pvalues`) and Cohen's d_z. The pointwise and
candidate-ranking sections use it for their tests between backends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from llmrec.experiment.pvalues import format_p

__all__ = ["paired_test_lines"]

_TESTS = (
    ("t_pvalue", "t-test p"),
    ("wilcoxon_pvalue", "Wilcoxon p"),
    ("randomization_pvalue", "randomisation p"),
)


def paired_test_lines(
    intro: str,
    comparisons: dict[str, dict[str, Any]] | None,
    metrics: Sequence[str],
    p_adjust: str | None,
    *,
    name: Callable[[str], str] = str,
) -> list[str]:
    """Markdown lines: ``intro``, the table, the adjustment note (empty without a test)."""
    adjusted = p_adjust not in (None, "none")
    header = ["backends", "metric", "Δ mean"]
    for _, title in _TESTS:
        header += [title, *([f"{p_adjust} adj."] if adjusted else [])]
    header.append("d_z")
    rows = []
    for pair, comp in (comparisons or {}).items():
        for metric in metrics:
            c = (comp.get("results") or {}).get(metric)
            if not c:
                continue
            row = [pair, name(metric), f"{c['diff']:+.4f}"]
            for key, _ in _TESTS:
                row.append(format_p(c.get(key)))
                if adjusted:
                    row.append(format_p(c.get(f"{key}_adj")))
            rows.append([*row, f"{c['cohens_dz']:+.3f}"])
    if not rows:
        return []
    lines = [
        intro,
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    note = f"p-values adjusted with `{p_adjust}` over the table, beside the raw ones."
    return [*lines, "", *([note, ""] if adjusted else [])]

"""Multiple-test corrections of the report's paired tests (``p_adjust`` in the config).

A truth's table of paired tests holds one test per backend × metric against the baseline, and
the arm table one per pair of language-model arms × metric; read one by one, some of them come
out "significant" by chance alone. Each of the two tables of one truth is a **family**, and each
kind of test in it (t-test, Wilcoxon, randomisation) is corrected over that family with
:func:`llmrec.metrics.adjust_pvalues` (``holm`` by default; ``bonferroni``, ``fdr_bh``, or
``none`` to leave the p-values raw). The adjusted value sits beside the raw one: key
``NAME_adj`` next to ``NAME`` (``t_pvalue_adj`` beside ``t_pvalue``) in every result of
``results.json``'s ``comparisons`` and ``arm_comparisons``.

The adjustment is computed from the saved raw tests each time the results are built, so the
stored test files (and their stage keys) do not depend on the method.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Literal

__all__ = ["PVALUE_KEYS", "PAdjust", "adjust_family", "format_p"]

PAdjust = Literal["holm", "bonferroni", "fdr_bh", "none"]

#: The p-values of one paired comparison (:meth:`llmrec.metrics.Comparison.to_dict`).
PVALUE_KEYS = ("t_pvalue", "wilcoxon_pvalue", "randomization_pvalue")


def adjust_family(comparisons: dict[str, Any] | None, method: PAdjust) -> dict[str, Any] | None:
    """A copy of ``comparisons`` (label -> ``{"results": {metric: {...}}}``) with every p-value
    kind adjusted over the whole family (every label × metric); unchanged with ``"none"``."""
    if not comparisons or method == "none":
        return comparisons
    from llmrec.metrics import adjust_pvalues

    out = copy.deepcopy(comparisons)
    cells = [c for comp in out.values() for c in (comp.get("results") or {}).values() if c]
    for key in PVALUE_KEYS:
        raw = [_number(c.get(key)) for c in cells]
        adjusted = adjust_pvalues(raw, method=method)
        for cell, value in zip(cells, adjusted.tolist(), strict=True):
            cell[f"{key}_adj"] = None if math.isnan(value) else float(value)
    return out


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


def format_p(value: float | None) -> str:
    """A p-value for a table: three significant digits, ``< 1e-4`` below 1e-4 (never ``0``),
    ``–`` when the test could not be run."""
    if value is None or value != value:
        return "–"
    if value < 1e-4:
        return "< 1e-4"
    return f"{value:.3g}"

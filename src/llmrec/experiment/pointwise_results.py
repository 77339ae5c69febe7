"""What a pointwise truth adds to ``results.json`` (``datasets.NAME.pointwise``).

A pointwise truth (``kind = "tallrec"``) asks every backend for one score per test row (will
the user like the target movie?) and reads the scores by AUC against the labels: the pooled
AUC over every row and the per-user average (gAUC), each with its 95 % percentile bootstrap
interval over users (:func:`llmrec.metrics.evaluate_auc`), and paired tests between every two
scored backends on the per-user AUCs of the same rows (:func:`llmrec.metrics.compare`) and on
the pooled AUC (a paired user bootstrap, :func:`llmrec.metrics.compare_auc`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PointwiseBackend", "PointwiseCell", "PointwiseResult", "Scorer"]

Scorer = Literal["likelihood", "target score"]
"""How a backend scored a row: P("Yes") from log-probabilities (a language model), or the
backend's own score of the target as its one candidate after the row's history (a classic or
sequential recommender)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PointwiseCell(_Model):
    """AUC or gAUC: the value and its 95 % bootstrap interval over users (``None``: none)."""

    mean: float | None
    ci_low: float | None
    ci_high: float | None


class PointwiseBackend(_Model):
    """One backend's scores of the test rows, read by AUC."""

    scorer: Scorer
    file: str = Field(description="The scores, one CSV row per test row (relative path).")
    n_rows: int
    auc: PointwiseCell = Field(description="Pooled over every row (TALLRec's number).")
    gauc: PointwiseCell = Field(description="Mean of the per-user AUCs (users with both labels).")
    n_users_gauc: int = Field(description="Users with a liked and a disliked row.")
    requests: int | None = Field(None, description="Likelihood requests (language models).")
    input_tokens: int | None = Field(
        None, description="Prompt tokens of those requests (o200k_base, exact)."
    )
    n_unscored: int = Field(
        0, description="Target score: rows whose target the backend does not know (scored last)."
    )


class PointwiseResult(_Model):
    """The pointwise protocol of one truth: the rows, every scored backend, the paired tests."""

    protocol: Literal["tallrec"] = "tallrec"
    split: Literal["test"] = "test"
    rule: Literal["tallrec", "ratio"] = Field(
        "tallrec", description="How P(Yes) is read from the Yes/No log-probabilities."
    )
    n_rows: int
    n_users: int
    n_positive: int
    fitting_ratings: int = Field(
        description="Ratings the backends were fitted on: every rating but the test targets."
    )
    backends: dict[str, PointwiseBackend] = Field(default_factory=dict)
    comparisons: dict[str, dict[str, Any]] | None = Field(
        None,
        description="Per pair 'B vs A' of scored backends (the same rows): Comparison.to_dict() "
        "of the per-user AUCs (results.gauc) and, under 'auc', the pooled AUC's paired "
        "bootstrap (metrics.compare_auc); adjusted p-values beside the raw ones.",
    )
    p_adjust: str | None = None
    undefined: str | None = Field(None, description="Why AUC is undefined on these rows.")

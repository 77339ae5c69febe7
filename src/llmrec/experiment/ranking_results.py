"""What a candidate-ranking truth adds to ``results.json`` (``datasets.NAME.ranking``).

Strict and valid-only numbers sit side by side, never mixed (:mod:`llmrec.metrics.validity`):
strict scores every test user (an invalid or missing answer is a miss), valid-only the users
whose answer named at least one candidate. With one presentation order the interval is the 95 %
percentile bootstrap over users; with ``repeats > 1`` the mean is over the repeats and the
interval is Student's t over the repeat means (:func:`llmrec.metrics.summarize_repeats`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RankingBackend", "RankingCell", "RankingRepeat", "RankingResult"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RankingCell(_Model):
    """One metric: the mean and its 95 % interval (``None``: undefined, e.g. no valid answer)."""

    mean: float | None
    ci_low: float | None
    ci_high: float | None


class RankingRepeat(_Model):
    """One presentation order: the metric means and the validity count."""

    strict: dict[str, float | None]
    valid_only: dict[str, float | None]
    n_valid: int
    validity_rate: float | None


class RankingBackend(_Model):
    """One backend ranking one truth's candidate sets."""

    files: list[str] = Field(description="Ranked lists, one JSON Lines file per repeat.")
    n_users: int
    validity_rate: float | None = Field(description="Valid answers / test users (mean).")
    strict: dict[str, RankingCell]
    valid_only: dict[str, RankingCell]
    interval: Literal["bootstrap over users", "t over repeats"]
    per_repeat: list[RankingRepeat]
    top1_flip_rate: float | None = Field(
        description="Share of pairs of orders whose top-ranked movie differs (repeats > 1)."
    )
    top1_first_listed: float | None = Field(
        description="Share of answers whose top movie is the candidate shown first."
    )
    llm: dict[str, Any] | None = Field(
        None, description="Language-model backends: requests, tokens, cost, cache, failures."
    )


class RankingResult(_Model):
    """The candidate protocol of one truth: the sets (file, fingerprint) and every backend."""

    protocol: Literal["candidates"] = "candidates"
    n_candidates: int
    negatives: str
    max_positives: int | None
    repeats: int
    seed: int
    k: int = Field(description="Length of the ranked list asked of every backend.")
    metrics: list[str]
    candidates_file: str
    fingerprint: str = Field(description="SHA-256 of the candidate file's lines.")
    order_fingerprints: list[str] = Field(description="Of each presentation order, repeat 0 first.")
    n_users: int
    mean_positives: float
    skipped_users: int = Field(
        0,
        description="Test users left out: fewer unrated movies than the negatives needed "
        "(too_few_negatives = 'skip').",
    )
    backends: dict[str, RankingBackend] = Field(default_factory=dict)
    comparisons: dict[str, dict[str, Any]] | None = Field(
        None,
        description="Comparison.to_dict() per pair 'B vs A' of language-model backends on the "
        "same sets (strict per-user values), adjusted p-values beside the raw ones.",
    )
    p_adjust: str | None = None

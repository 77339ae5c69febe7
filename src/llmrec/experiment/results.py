"""What a run produces, typed: the document written as ``results.json``.

:class:`Results` is built once by the runner and serialised once (:meth:`Results.to_json_dict`);
the report, the figure and the CLI read it. The JSON has the same keys and values as llmrec 0.1
wrote (a test reads a 0.1 file and a new one): fields a stage did not fill are left out, not
written as ``null``. Parts owned by other layers (ground-truth statistics, metric reports,
paired comparisons, fine-tuning summaries) keep their own JSON shapes, as ``dict`` fields.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llmrec.experiment.plan import PlanLine
from llmrec.experiment.pointwise_results import PointwiseResult
from llmrec.experiment.ranking_results import RankingResult

__all__ = [
    "BackendEntry",
    "BeyondAccuracy",
    "DatasetResult",
    "FittingSet",
    "LLMDiagnostics",
    "PlanLine",
    "Results",
    "StageLog",
    "Summary",
    "SummaryCell",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BackendEntry(_Model):
    """One backend on one data set: where its recommendations are, or why it did not run."""

    backend: str = Field(description="Registry name.")
    label: str = Field(description="Column name in the report.")
    llm: bool = Field(description="Implements the language-model capability protocol.")
    recommendations: str | None = Field(None, description="JSON Lines file, relative path.")
    planned: bool | None = Field(None, description="Dry run: would run.")
    skipped: str | None = Field(None, description="Why it did not run.")
    estimated_cost_usd: float | None = Field(None, description="Cost of the skipped run.")
    train_seconds: float | None = Field(
        None, description="Seconds the backend spent training its model (trained backends)."
    )
    n_parameters: int | None = Field(
        None, description="Trainable parameters of the backend's model (trained backends)."
    )


class LLMDiagnostics(_Model):
    """Failure rates, tokens and cost of a language-model backend on one data set."""

    responses: int
    titles: int
    hallucination_rate: float
    invalid_output_rate: float
    duplicate_rate: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    cost_paid_this_run_usd: float
    served_from_cache: int
    failed_answers: int = Field(
        0, description="Requests that failed after every retry (empty lists, scored as misses)."
    )


class BeyondAccuracy(_Model):
    catalog_coverage: float
    mean_popularity: float
    head_share: float | None = Field(
        None,
        description="Share of the recommended (or gold) movies among the n_head most-rated "
        "movies of the fitting ratings.",
    )


class FittingSet(_Model):
    """The ratings every backend was fitted on for one truth (checked for leakage)."""

    rule: str = Field(
        description="'other-users' (neighbour truths: every user but the test users) or "
        "'history' (holdout truths: the test users' history plus every other user's ratings)."
    )
    n_ratings: int
    n_users: int

    @classmethod
    def of(cls, kind: str, ratings: Any) -> FittingSet:
        import numpy as np

        return cls(
            rule="other-users" if kind == "neighbour" else "history",
            n_ratings=len(ratings),
            n_users=int(np.unique(ratings.user_id).size),
        )


class DatasetResult(_Model):
    """One ground-truth data set: split sizes, backends and (after a real run) their scores."""

    truth_stats: dict[str, Any]
    n_train: int
    n_val: int
    n_test: int
    finetune: dict[str, Any]
    fine_tuned_model: str | None
    backends: list[BackendEntry]
    metrics: dict[str, dict[str, Any]] | None = Field(
        None, description="MetricReport.to_dict() per backend label (the metric tables)."
    )
    baseline: str | None = None
    comparisons: dict[str, dict[str, Any]] | None = Field(
        None, description="Comparison.to_dict() per backend label, against the baseline."
    )
    arm_comparisons: dict[str, dict[str, Any]] | None = Field(
        None,
        description="Comparison.to_dict() per pair 'B vs A' of language-model arms "
        "(experiment.arm_tests).",
    )
    p_adjust: str | None = Field(
        None,
        description="The correction of the paired tests' p-values (holm, bonferroni, fdr_bh, "
        "none); each result holds NAME_adj beside NAME (experiment.pvalues).",
    )
    llm_diagnostics: dict[str, LLMDiagnostics] | None = None
    beyond_accuracy: dict[str, BeyondAccuracy] | None = None
    per_user_csv: str | None = None
    kind: str | None = Field(
        None, description="Truth kind: neighbour, probe, last_n or time_split."
    )
    fitting: FittingSet | None = None
    ranking: RankingResult | None = Field(
        None, description="ranking = 'candidates': the candidate sets and every backend's scores."
    )
    pointwise: PointwiseResult | None = Field(
        None, description="A pointwise truth (TALLRec): every backend's AUC and gAUC."
    )


class StageLog(_Model):
    reused: list[str] = Field(default_factory=list)
    ran: list[str] = Field(default_factory=list)


class SummaryCell(_Model):
    """One backend on one truth, one metric: the mean and its 95 % bootstrap interval."""

    backend: str = Field(description="Backend label.")
    truth: str = Field(description="Truth (data set) name.")
    metric: str
    mean: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n_users: int = Field(description="Test users evaluated.")


class Summary(_Model):
    """Every backend on every truth, on a few headline metrics (backend × truth tables)."""

    metrics: list[str]
    truths: list[str]
    backends: list[str]
    cells: list[SummaryCell] = Field(default_factory=list)

    def cell(self, backend: str, truth: str, metric: str) -> SummaryCell | None:
        for c in self.cells:
            if (c.backend, c.truth, c.metric) == (backend, truth, metric):
                return c
        return None


class Spend(_Model):
    """What the run's paid steps were planned to cost, could have cost, and cost (USD)."""

    budget_usd: float
    planned_usd: float = Field(description="The plan: each answer at its expected length.")
    worst_case_usd: float = Field(description="Every answer at the max_tokens cap.")
    spent_usd: float = Field(description="What the answers sent by this run cost.")


class ProbeResult(_Model):
    """One backend's memorisation probe (``[probe]``; :mod:`llmrec.experiment.stages.probe`)."""

    label: str = Field(description="Backend label.")
    skipped: str | None = Field(None, description="Why the probe did not run.")
    planned: bool = Field(False, description="A dry run: priced in the plan, not run.")
    model: str | None = None
    kind: str | None = Field(None, description="item_lines, title_completion or user_lines.")
    file: str | None = Field(None, description="The MemorisationReport (probes/LABEL.json).")
    recall: float | None = Field(None, description="Exact recall over every probed item.")
    rows: list[list[str]] = Field(
        default_factory=list,
        description="MemorisationReport.table_rows(): per bucket and all (TABLE_HEADERS).",
    )
    failed: int = 0
    cost_usd: float | None = None
    calibration_file: str | None = None
    calibration_recall: float | None = Field(
        None, description="Recall on the synthetic catalog: the probe's false-positive floor."
    )
    calibration_rows: list[list[str]] | None = None


class Results(_Model):
    """The whole ``results.json`` document."""

    config: dict[str, Any]
    data: dict[str, Any] | None = None
    datasets: dict[str, DatasetResult] = Field(default_factory=dict)
    plan: list[PlanLine] | None = None
    stages: StageLog | None = None
    summary: Summary | None = Field(
        None, description="Backend × truth table of the headline metrics (P@5, NDCG@10)."
    )
    artifacts: dict[str, str] | None = None
    spend: Spend | None = Field(
        None, description="Planned, worst-case and actual spend of the language-model requests."
    )
    probes: dict[str, ProbeResult] | None = Field(
        None, description="The memorisation probe per zero-shot language-model backend."
    )

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON-ready document (unset fields left out, as llmrec 0.1 wrote it)."""
        return self.model_dump(mode="json", exclude_unset=True)

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> Results:
        """Read a ``results.json`` document (0.1 or this version)."""
        return cls.model_validate(data)

"""``run(config, out_dir)``: the study end to end, one resumable stage at a time.

data → every configured truth (neighbour, probe, last-N, time split) → split → candidate sets
(truths that rank candidates) → fine-tuning files (validated, costed) → the fine-tuning arms
(hosted or local SFT, DPO) → every backend on every truth's test split, fitted on that truth's
fitting ratings (checked for leakage; see :mod:`llmrec.experiment.truths`) → metrics with 95 %
intervals and paired tests against the baseline → a backend × truth summary → ``results.json``,
per-user CSV, ``report.md``, ``figure.png`` and ``summary.png``. A TALLRec truth's test rows are
scored by every backend that can (P(Yes) by likelihood, or the target's score) and read by AUC
and gAUC (:mod:`llmrec.experiment.stages.pointwise`).

Every free stage runs and every paid step is priced first; the whole plan is checked against
the budget before anything is sent. Every stage writes its artifacts into ``out_dir`` and is
recorded in ``stages.json`` with a key derived from its inputs; a rerun reuses every finished
stage whose key still matches. Paid calls go through the backends' response cache, so a rerun
never pays twice. The stages are in :mod:`llmrec.experiment.stages`, the arms in
:mod:`llmrec.experiment.arms`; they share only the run context
(:class:`~llmrec.experiment.context.RunContext`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmrec._io import write_json_atomic
from llmrec.experiment.arms.base import FineTuningArm
from llmrec.experiment.arms.registry import SFT, arms_for
from llmrec.experiment.config import ExperimentConfig
from llmrec.experiment.config.truth import TallRecTruthSpec
from llmrec.experiment.context import LoadedData, PreparedTruth, RunContext
from llmrec.experiment.plan import PlanLine
from llmrec.experiment.results import DatasetResult, FittingSet, Results, Spend, StageLog
from llmrec.experiment.stages.backends import PlannedBackend, plan_backend, run_backend
from llmrec.experiment.stages.candidates import CandidateRanking, sample_candidates
from llmrec.experiment.stages.data import load_data
from llmrec.experiment.stages.finetune import ArmsPlan, chat_files, plan_arms, train_arms
from llmrec.experiment.stages.pointwise import plan_pointwise, score_pointwise
from llmrec.experiment.stages.probe import plan_probes, run_probes
from llmrec.experiment.stages.truth import fitting_set, prepare_truth
from llmrec.experiment.store import StageStore

__all__ = ["ExperimentResult", "run"]


@dataclass
class ExperimentResult:
    """What :func:`run` produced: the results document and where each artifact is."""

    out_dir: Path
    results: dict[str, Any]
    """The ``results.json`` document as a dict (``document`` is the typed form)."""
    document: Results = field(default_factory=lambda: Results(config={}))
    plan: list[PlanLine] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    dry_run: bool = False
    planned: list[str] = field(default_factory=list)
    """A dry run: the stages a real run would perform (the names ``ran`` would list)."""

    @property
    def report_path(self) -> Path:
        return self.out_dir / "report.md"

    @property
    def figure_path(self) -> Path:
        return self.out_dir / "figure.png"


@dataclass
class _Prepared:
    """One truth after the free stages: what the paid steps need."""

    truth: PreparedTruth
    ranking: CandidateRanking | None
    arms: ArmsPlan
    backends: list[PlannedBackend]


def _prepare(ctx: RunContext, name: str, data: LoadedData, arms: list[FineTuningArm]) -> _Prepared:
    """The free stages of one truth, and every paid step of it priced."""
    truth = prepare_truth(ctx, name, data.ratings, data.key)
    ranking = sample_candidates(ctx, truth, data.ratings)
    files = chat_files(ctx, truth, data)
    planned_arms = plan_arms(ctx, arms, truth, data, files)
    by_method = {arm.method: arm for arm in arms}
    backends = [
        plan_backend(
            ctx,
            truth,
            spec,
            data.catalog,
            arms=by_method,
            known=planned_arms.known,
            ranking=ranking,
        )
        for spec in ctx.config.backends
    ]
    return _Prepared(truth, ranking, planned_arms, backends)


def _run_truth(
    ctx: RunContext, prepared: _Prepared, data: LoadedData, arms: list[FineTuningArm]
) -> DatasetResult:
    """The paid steps of one truth (after the budget check) and its evaluation."""
    from llmrec.experiment.stages.evaluation import evaluate_truth

    truth, ranking = prepared.truth, prepared.ranking
    record = train_arms(ctx, arms, truth, prepared.arms)
    fitting = fitting_set(ctx, truth, data.ratings)
    entries = [
        run_backend(ctx, truth, planned, fitting, data.catalog, ranking)
        for planned in prepared.backends
    ]
    fields: dict[str, Any] = {
        "truth_stats": truth.dataset.stats().to_dict(),
        "n_train": len(truth.parts["train"]),
        "n_val": len(truth.parts["val"]),
        "n_test": len(truth.test),
        "finetune": record,
        "fine_tuned_model": ctx.model(truth.name, SFT),
        "backends": entries,
        "kind": truth.spec.kind,
        "fitting": FittingSet.of(truth.spec.kind, fitting),
    }
    if ranking is not None:
        fields["ranking"] = ranking.result(entries, evaluate=not ctx.dry_run)
    elif not ctx.dry_run:
        fields.update(evaluate_truth(ctx, truth, entries, data.ratings, fitting))
    return DatasetResult(**fields)


def run(
    config: ExperimentConfig,
    out_dir: str | Path,
    *,
    progress: bool = True,
    dry_run: bool = False,
) -> ExperimentResult:
    """Reproduce the study with ``config``, writing every artifact into ``out_dir``.

    With ``dry_run=True`` only the free local stages run (data, truth, split, fine-tuning files,
    so token counts are exact); the returned plan lists every paid step with its request count,
    tokens and cost, and nothing is sent to any API.
    """
    from llmrec.experiment.outdir import prepare_out_dir
    from llmrec.experiment.report import write_outputs
    from llmrec.experiment.summary import build_summary
    from llmrec.experiment.validate import check_config

    check_config(config)  # every name and option, before any stage runs or anything is written
    out = prepare_out_dir(out_dir)
    write_json_atomic(out / "config.json", json.loads(config.to_json()))
    ctx = RunContext(config, out, StageStore(out), progress=progress, dry_run=dry_run)
    data = load_data(ctx)
    ctx.results.data = data.stats
    arms = arms_for(config)
    # 1. the free local stages of every truth, and every paid step priced
    pointwise = {n: s for n, s in config.truth.items() if isinstance(s, TallRecTruthSpec)}
    prepared = [_prepare(ctx, n, data, arms) for n in config.truth if n not in pointwise]
    scoring = [plan_pointwise(ctx, n, s, data, arms) for n, s in pointwise.items()]
    probes = plan_probes(ctx, data)  # [probe]: priced with the rest
    # 2. the whole run against the budget, before anything is sent
    if not dry_run:
        ctx.check_budget()
    # 3. the paid steps: the arms trained, the backends run, then the evaluation
    for truth in prepared:
        ctx.add_dataset(truth.truth.name, _run_truth(ctx, truth, data, arms))
    for planned in scoring:  # TALLRec's test rows: every backend's scores, AUC and gAUC
        ctx.add_dataset(planned.name, score_pointwise(ctx, planned, data))
    if probes:
        ctx.results.probes = run_probes(ctx, probes, data, dry_run=dry_run)
    results = ctx.results
    if not dry_run:
        results.summary = build_summary(results.datasets)
        s = ctx.spend
        results.spend = Spend(
            budget_usd=s.budget_usd,
            planned_usd=s.planned_usd,
            worst_case_usd=s.worst_case_usd,
            spent_usd=s.spent_usd,
        )
    results.plan = ctx.plan
    results.stages = StageLog(reused=ctx.store.reused, ran=ctx.store.ran)
    if not dry_run:
        write_outputs(out, results, config)
    return ExperimentResult(
        out_dir=out,
        results=results.to_json_dict(),
        document=results,
        plan=ctx.plan,
        reused=ctx.store.reused,
        ran=ctx.store.ran,
        dry_run=dry_run,
        planned=list(ctx.planned_stages),
    )

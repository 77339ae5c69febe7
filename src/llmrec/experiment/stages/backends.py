"""The backend stages of one truth: every configured backend built and priced, then run.

:func:`plan_backend` (nothing sent) builds a backend, gives a fine-tuned backend the model of
the arm it runs (known, or a stand-in until the arm has trained) and prices language-model
backends through the capability protocol only, adding their line to the plan.
:func:`run_backend` (after the run's budget check) fits it on the truth's fitting ratings and
asks it for ``k`` movies per test user, or ranks the truth's candidate sets, as the stage
``backend:NAME:LABEL`` (or ``rank:NAME:LABEL``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmrec._io import atomic_open, write_json_atomic
from llmrec.experiment.arms.registry import backend_arm
from llmrec.experiment.plan import PlanLine
from llmrec.experiment.results import BackendEntry
from llmrec.experiment.stages.training import read_training, write_training
from llmrec.experiment.store import stage_key

if TYPE_CHECKING:
    from collections.abc import Mapping

    from llmrec.data import Catalog, Ratings
    from llmrec.experiment.arms.base import FineTuningArm
    from llmrec.experiment.config import BackendSpec
    from llmrec.experiment.context import PreparedTruth, RunContext
    from llmrec.experiment.stages.candidates import CandidateRanking

__all__ = ["PlannedBackend", "build_backend", "plan_backend", "run_backend"]


@dataclass
class PlannedBackend:
    """A backend built and priced, waiting for the run's budget check."""

    spec: BackendSpec
    entry: BackendEntry
    rec: Any
    why_not: str | None
    arm: str | None
    """The method of the arm whose model it runs (``None``: no fine-tuned model)."""
    awaits_arm: bool
    """Runs the model its arm trains in this run (known only once the arm has trained)."""
    line: int | None = None
    """Its line in the plan (language-model backends)."""


def _arm_model(
    ctx: RunContext, method: str, known: str | None, arms: Mapping[str, FineTuningArm]
) -> tuple[str, str | None]:
    """The model a backend of arm ``method`` runs now, and why it cannot run (``None``: it
    can)."""
    if known is not None:
        return known, None
    return arms[method].stand_in(ctx)


def plan_backend(
    ctx: RunContext,
    truth: PreparedTruth,
    spec: BackendSpec,
    catalog: Catalog,
    *,
    arms: Mapping[str, FineTuningArm],
    known: Mapping[str, str | None],
    ranking: CandidateRanking | None,
) -> PlannedBackend:
    """Build one backend and add what it costs to the plan; nothing is sent.

    ``arms`` are the config's arms by method; ``known`` their models found so far."""
    from llmrec.recommenders.capabilities import LanguageModelBackend

    planned = build_backend(ctx, spec, arms=arms, known=known)
    rec, entry, awaits = planned.rec, planned.entry, planned.awaits_arm
    if isinstance(rec, LanguageModelBackend):
        will_run = planned.why_not is None
        stage = _stage(ctx, truth, spec, rec, ranking)
        line = _price(ctx, truth, spec, rec, catalog, ranking, will_run=will_run)
        named: dict[str, str] = {"stage": stage[0]}
        if planned.why_not is not None:
            named["reason"] = planned.why_not
        line = line.model_copy(update=named)
        finished = will_run and not awaits and ctx.store.is_done(*stage)
        planned.line = ctx.add_line(line, finished=finished)
        if planned.why_not is not None:
            entry.skipped = planned.why_not
            entry.estimated_cost_usd = line.usd
    return planned


def build_backend(
    ctx: RunContext,
    spec: BackendSpec,
    *,
    arms: Mapping[str, FineTuningArm],
    known: Mapping[str, str | None],
) -> PlannedBackend:
    """Build one backend from the registry: the model of the arm it runs (known, or a
    stand-in), and for a language-model backend the run's shared settings and whether its
    credentials are present (``why_not`` otherwise). Nothing is priced or sent."""
    from llmrec.experiment.secrets import reveal_secrets
    from llmrec.recommenders import get_recommender
    from llmrec.recommenders.capabilities import LanguageModelBackend
    from llmrec.recommenders.registry import get_recommender_factory

    cfg = reveal_secrets(dict(spec.config))
    entry = BackendEntry(backend=spec.name, label=spec.display, llm=False)
    why_not: str | None = None
    awaits = False
    method = backend_arm(spec, get_recommender_factory(spec.name))
    if method is not None and "model" not in cfg:  # the class runs an arm's model
        cfg["model"], why_not = _arm_model(ctx, method, known.get(method), arms)
        awaits = known.get(method) is None and why_not is None
    rec = get_recommender(spec.name, **cfg)
    if method is None and isinstance(rec, LanguageModelBackend):
        method = backend_arm(spec, rec)  # the instance runs an arm's model (set by its config)
        if method is not None:
            model, why_not = _arm_model(ctx, method, known.get(method), arms)
            rec = rec.with_model(model)
            awaits = known.get(method) is None and why_not is None
    planned = PlannedBackend(spec, entry, rec, why_not, method, awaits)
    if isinstance(rec, LanguageModelBackend):
        entry.llm = True
        planned.rec = rec = rec.with_run_settings(ctx.run_settings())
        credentials = rec.credentials()
        if why_not is None and not credentials.present:
            planned.why_not = f"no {' or '.join(credentials.names)} (and no base_url)"
    return planned


def _stage(
    ctx: RunContext,
    truth: PreparedTruth,
    spec: BackendSpec,
    rec: Any,
    ranking: CandidateRanking | None,
) -> tuple[str, str]:
    if ranking is not None:
        return ranking.stage(spec, rec)
    parts: list[Any] = [truth.key, spec.name, rec.to_config()["config"], ctx.config.k]
    if _excludes_history(truth):  # only then: the keys of other truths are unchanged
        parts.append("exclude-history")
    return f"backend:{truth.name}:{spec.display}", stage_key(*parts)


def _excludes_history(truth: PreparedTruth) -> bool:
    return bool(getattr(truth.spec, "exclude_history", False))


def history_exclusions(truth: PreparedTruth, fitting: Ratings) -> list[tuple[int, ...]]:
    """Per test user (in the test split's order), every movie of their history: the profile
    and their fitting ratings (``exclude_history``; ``recommend_many(exclude=...)``)."""
    import numpy as np

    users = np.asarray(fitting.user_id, dtype=np.int64)
    order = np.argsort(users, kind="stable")
    sorted_users = users[order]
    movies = np.asarray(fitting.movie_id, dtype=np.int64)[order]
    out = []
    for example in truth.test:
        lo, hi = np.searchsorted(sorted_users, [example.user_id, example.user_id + 1])
        seen = dict.fromkeys(example.profile)
        seen.update(dict.fromkeys(movies[lo:hi].tolist()))
        out.append(tuple(seen))
    return out


def _price(
    ctx: RunContext,
    truth: PreparedTruth,
    spec: BackendSpec,
    rec: Any,
    catalog: Catalog,
    ranking: CandidateRanking | None,
    *,
    will_run: bool,
) -> PlanLine:
    """The plan line of a language-model backend on ``truth``."""
    if ranking is not None:  # ranking = "candidates": the ranking requests, every order
        return ranking.cost_line(spec, rec, catalog, will_run=will_run)
    test = truth.test
    est = rec.estimate_cost(test.profiles, ctx.config.k, catalog)
    return PlanLine(
        step=f"{spec.display} on {truth.name} ({len(test)} test users, model {est.model})",
        requests=est.requests,
        input_tokens=est.input_tokens,
        output_tokens=est.output_tokens,
        usd=est.usd,
        worst_usd=getattr(est, "worst_usd", None),
        will_run=will_run,
    )


def run_backend(
    ctx: RunContext,
    truth: PreparedTruth,
    planned: PlannedBackend,
    fitting: Ratings,
    catalog: Catalog,
    ranking: CandidateRanking | None,
) -> BackendEntry:
    """Run one planned backend on the test split (after the budget check of the run)."""
    entry, spec = planned.entry, planned.spec
    if planned.why_not is not None:
        return entry
    if ctx.dry_run:
        entry.planned = True
        ctx.planned_stages.append(_stage(ctx, truth, spec, planned.rec, ranking)[0])
        return entry
    rec = planned.rec
    if planned.awaits_arm and planned.arm is not None:
        model = ctx.model(truth.name, planned.arm)
        if model is None:
            entry.skipped = "the fine-tuning job gave no model"
            return entry
        rec = rec.with_model(model)
        if planned.line is not None:  # priced again with the real model: must still fit
            line = _price(ctx, truth, spec, rec, catalog, ranking, will_run=True)
            line = line.model_copy(update={"stage": _stage(ctx, truth, spec, rec, ranking)[0]})
            old = ctx.replace_line(planned.line, line)
            if (line.usd, line.worst_usd) != (old.usd, old.worst_usd):
                ctx.check_budget()
    if ranking is not None:  # ranking = "candidates": rank_many on the candidate sets
        return ranking.run(spec, rec, entry, fitting, catalog, truth.parts["train"])
    test = truth.test
    stage, key = _stage(ctx, truth, spec, rec, None)
    path = f"recs/{truth.name}/{spec.display}.jsonl"
    config_path = f"recs/{truth.name}/{spec.display}.config.json"
    training = f"recs/{truth.name}/{spec.display}.training.json"
    failed = [0]

    def work() -> None:
        write_json_atomic(ctx.out / config_path, {**rec.to_config(), "k": ctx.config.k})
        rec.fit(fitting, catalog, truth.parts["train"])
        write_training(ctx.out, training, rec)
        if _excludes_history(truth):
            exclude = history_exclusions(truth, fitting)
            recs = rec.recommend_many(
                test.profiles, ctx.config.k, progress=ctx.progress, exclude=exclude
            )
        else:  # a plugin written before exclusions keeps working
            recs = rec.recommend_many(test.profiles, ctx.config.k, progress=ctx.progress)
        _write_recs(ctx.out / path, test.user_ids, recs)
        failed[0] = sum(1 for r in recs if "failed" in (r.diagnostics or {}))

    ctx.store.run(stage, key, [path, config_path], work)
    if failed[0]:
        # failed answers are not cached: the next run asks for them again
        ctx.store.forget(stage)
    entry.recommendations = path
    read_training(ctx.out, training, entry)
    return entry


def _write_recs(path: Path, users: list[int], recs: list[Any]) -> None:
    with atomic_open(path, "w") as fh:
        for user, rec in zip(users, recs, strict=True):
            fh.write(json.dumps({"user_id": user, **rec.to_dict()}, sort_keys=True) + "\n")

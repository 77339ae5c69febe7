"""The memorisation-probe stage (``[probe]``): how much of the data set each zero-shot
language-model backend already recalls, beside its zero-shot rows.

1. **Planned** with the rest of the run (:func:`plan_probes`): for every backend that is a
   language model by capability (:class:`~llmrec.recommenders.capabilities.LanguageModelBackend`)
   and runs no fine-tuning arm's model, the probe's requests still to send are priced
   (:meth:`MemorisationProbe.plan`; cached answers cost nothing) and added to the run's plan, so
   the whole-run budget check covers them before anything is sent; with ``calibrate`` the
   synthetic-catalog floor is planned too. A backend without credentials is skipped, with why.
2. **Run** after the budget check (:func:`run_probes`) as the stage ``probe:LABEL``, keyed by the
   data, the probe settings and the backend's config: ``probes/LABEL.json``
   (:meth:`MemorisationReport.save`) and ``probes/LABEL.calibration.json``. Answers go through
   the run's response cache (``llm-cache.sqlite``), so a rerun never pays twice; a run with
   failed requests is not recorded as done, and the next run asks for those again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmrec.experiment.plan import PlanLine
from llmrec.experiment.results import ProbeResult
from llmrec.experiment.store import stage_key

if TYPE_CHECKING:
    from llmrec.experiment.config import BackendSpec, DataSource
    from llmrec.experiment.context import LoadedData, RunContext
    from llmrec.probes import MemorisationProbe
    from llmrec.probes.item_lines import ItemFormat

__all__ = ["PlannedProbe", "plan_probes", "run_probes"]


@dataclass
class PlannedProbe:
    """One backend's probe, priced."""

    label: str
    backend: Any
    probe: MemorisationProbe
    key: str
    skipped: str | None = None


def _item_format(source: DataSource) -> ItemFormat | None:
    """The item file of the source (``None``: the probe's default, Netflix's)."""
    if source.kind == "movielens":
        from llmrec.probes import detect_item_format

        return detect_item_format(source.path)
    return None


def _zero_shot(ctx: RunContext, spec: BackendSpec) -> Any:
    """The backend of ``spec`` with the run's settings if it is a language model running no
    fine-tuning arm's model (by capability, never by name), else ``None``."""
    from llmrec.experiment.arms.registry import backend_arm
    from llmrec.experiment.secrets import reveal_secrets
    from llmrec.recommenders import get_recommender
    from llmrec.recommenders.capabilities import LanguageModelBackend
    from llmrec.recommenders.registry import get_recommender_factory

    if backend_arm(spec, get_recommender_factory(spec.name)) is not None:
        return None
    rec = get_recommender(spec.name, **reveal_secrets(dict(spec.config)))
    if not isinstance(rec, LanguageModelBackend) or backend_arm(spec, rec) is not None:
        return None
    return rec.with_run_settings(ctx.run_settings())


def plan_probes(ctx: RunContext, data: LoadedData) -> list[PlannedProbe]:
    """Price the probe of every zero-shot language-model backend (module docstring, step 1)."""
    settings = ctx.config.probe
    if settings is None:
        return []
    probe = settings.probe(_item_format(ctx.config.data))
    out = []
    for spec in ctx.config.backends:
        rec = _zero_shot(ctx, spec)
        if rec is None:
            continue
        key = stage_key(
            data.key,
            settings.model_dump(mode="json"),
            probe.item_format,
            spec.name,
            rec.to_config()["config"],
        )
        planned = PlannedProbe(spec.display, rec, probe, key)
        credentials = rec.credentials()
        if not credentials.present:
            planned.skipped = f"no {' or '.join(credentials.names)} (and no base_url)"
            out.append(planned)
            continue
        plans = [("", probe.plan(rec, data.catalog, _ratings(probe, data)))]
        if settings.calibrate:
            floor = probe.plan_calibration(rec, n_movies=settings.calibration_movies)
            plans.append((" calibration (synthetic catalog)", floor))
        for what, plan in plans:
            cost = plan.cost
            line = PlanLine(
                step=f"memorisation probe{what} of {spec.display} ({probe.kind}, "
                f"{plan.requests:,} requests, {plan.cached:,} cached, model {cost.model})",
                requests=cost.requests,
                input_tokens=cost.input_tokens,
                output_tokens=cost.output_tokens,
                usd=cost.usd,
                worst_usd=cost.worst_usd,
                will_run=True,
                stage=f"probe:{spec.display}",
            )
            ctx.add_line(line, finished=cost.requests == 0)
        out.append(planned)
    return out


def _ratings(probe: MemorisationProbe, data: LoadedData) -> Any:
    """The ratings give the popularity buckets (and the users of ``user_lines``)."""
    return data.ratings


def run_probes(
    ctx: RunContext, planned: list[PlannedProbe], data: LoadedData, *, dry_run: bool = False
) -> dict[str, ProbeResult]:
    """Run every planned probe (after the budget check) or reuse it (module docstring); a dry
    run only names them (``planned``)."""
    from llmrec.probes import MemorisationReport

    settings = ctx.config.probe
    results: dict[str, ProbeResult] = {}
    for p in planned:
        if p.skipped is not None:
            results[p.label] = ProbeResult(label=p.label, skipped=p.skipped)
            continue
        if dry_run:
            results[p.label] = ProbeResult(label=p.label, planned=True)
            continue
        path = f"probes/{p.label}.json"
        calibrate = settings is not None and settings.calibrate
        floor_path = f"probes/{p.label}.calibration.json" if calibrate else None
        failed = [0]

        def work(
            p: PlannedProbe = p,
            path: str = path,
            floor_path: str | None = floor_path,
            failed: list[int] = failed,
        ) -> None:
            failed[0] = _probe_once(ctx, p, data, path, floor_path)

        artifacts = [path] if floor_path is None else [path, floor_path]
        ctx.store.run(f"probe:{p.label}", p.key, artifacts, work)
        if failed[0]:  # failed requests are misses, not cached: the next run asks again
            ctx.store.forget(f"probe:{p.label}")
        report = MemorisationReport.load(ctx.out / path)
        floor = None if floor_path is None else MemorisationReport.load(ctx.out / floor_path)
        results[p.label] = ProbeResult(
            label=p.label,
            model=report.model,
            kind=p.probe.kind,
            file=path,
            recall=report.recall,
            rows=report.table_rows(),
            failed=report.total.failed,
            cost_usd=report.cost_usd,
            calibration_file=floor_path,
            calibration_recall=None if floor is None else floor.recall,
            calibration_rows=None if floor is None else floor.table_rows(),
        )
    return results


def _probe_once(
    ctx: RunContext, p: PlannedProbe, data: LoadedData, path: str, floor_path: str | None
) -> int:
    """Ask and save one backend's probe (and its calibration); the number of failed requests."""
    config = ctx.config
    report = p.probe.run(
        p.backend,
        data.catalog,
        _ratings(p.probe, data),
        allow_unknown_cost=config.allow_unknown_cost,
        progress=ctx.progress,
        catalog_name=f"{config.data.kind} data",
    )
    report.save(ctx.out / path)
    failed = report.total.failed
    if floor_path is not None and config.probe is not None:
        floor = p.probe.calibrate(
            p.backend,
            n_movies=config.probe.calibration_movies,
            allow_unknown_cost=config.allow_unknown_cost,
            progress=ctx.progress,
        )
        floor.save(ctx.out / floor_path)
        failed += floor.total.failed
    return failed

"""The fine-tuning stages of one truth: the chat files, then every arm planned, then trained.

1. :func:`chat_files` (free, a dry run too): the train and validation splits as chat JSONL,
   validated and costed from exact token counts (``finetune-files:NAME``). Its summary starts
   the truth's fine-tuning record (``results.json``: ``datasets.NAME.finetune``).
2. :func:`plan_arms` (free): every arm of the config writes its own files and adds its plan
   line; the models given or trained by an earlier run are found, so backends are priced with
   them.
3. :func:`train_arms` (after the run's budget check): every arm trains in order, each given the
   models of the arms before it.

Which arms there are is the registry's business (:mod:`llmrec.experiment.arms`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmrec._io import write_json_atomic
from llmrec.experiment.store import stage_key

if TYPE_CHECKING:
    from llmrec.experiment.arms.base import FineTuningArm
    from llmrec.experiment.context import LoadedData, PreparedTruth, RunContext

__all__ = ["ArmsPlan", "chat_files", "plan_arms", "train_arms"]


def chat_files(ctx: RunContext, truth: PreparedTruth, data: LoadedData) -> dict[str, Any]:
    """Write (or reuse) the chat files of ``truth``; their summary with ``key``,
    ``train_file`` and ``val_file``."""
    from llmrec.finetune import estimate_training_cost, export_chat_jsonl, validate_chat_jsonl

    config, out, name = ctx.config, ctx.out, truth.name
    ft = config.finetune
    key = stage_key(truth.key, config.template.model_dump(mode="json"), ft.model)
    train, val = f"finetune/{name}.train.jsonl", f"finetune/{name}.val.jsonl"
    summary_path = f"finetune/{name}.summary.json"

    def work() -> None:
        export_chat_jsonl(truth.parts["train"], config.template, data.catalog, out / train)
        export_chat_jsonl(truth.parts["val"], config.template, data.catalog, out / val)
        summary: dict[str, Any] = {}
        for label, rel in (("train", train), ("val", val)):
            report = validate_chat_jsonl(out / rel, model=ft.model)
            summary[f"{label}_valid"] = report.ok
            summary[f"{label}_findings"] = [str(f) for f in report.findings[:20]]
        table, priced = ctx.training_prices(ft.model)
        est = estimate_training_cost(
            out / train, model=ft.model, n_epochs=ft.n_epochs, prices=table
        )
        summary["train_examples"] = est.n_examples
        summary["train_tokens"] = est.total_tokens
        summary["billed_tokens"] = est.billed_tokens
        summary["training_cost_usd"] = est.usd if priced else None
        summary["n_epochs"] = ft.n_epochs
        summary["model"] = ft.model
        write_json_atomic(out / summary_path, summary)

    files_stage = key if not config.prices else stage_key(key, config.prices)
    ctx.store.run(f"finetune-files:{name}", files_stage, [train, val, summary_path], work)
    summary = ctx.read_json(summary_path)
    summary.update({"key": key, "train_file": train, "val_file": val})
    return summary


@dataclass
class ArmsPlan:
    """One truth's arms after planning: its fine-tuning record and the models known so far."""

    record: dict[str, Any]
    known: dict[str, str | None] = field(default_factory=dict)
    """Per arm method: the model given or trained by an earlier run (``None``: not yet)."""


def plan_arms(
    ctx: RunContext,
    arms: list[FineTuningArm],
    truth: PreparedTruth,
    data: LoadedData,
    record: dict[str, Any],
) -> ArmsPlan:
    """Every arm planned in order (files written, plan lines added) and its model looked for."""
    out = ArmsPlan(record=dict(record))
    for arm in arms:
        out.record.update(arm.plan(ctx, truth, data, out.record))
        out.known[arm.method] = arm.find(ctx, truth, out.record, out.known)
    return out


def train_arms(
    ctx: RunContext, arms: list[FineTuningArm], truth: PreparedTruth, planned: ArmsPlan
) -> dict[str, Any]:
    """Every arm trained (or reused) in order; each model is added to the context. Returns
    the truth's fine-tuning record with what training added."""
    record = dict(planned.record)
    models: dict[str, str | None] = {}
    for arm in arms:
        model, fields = arm.train(ctx, truth, record, models)
        record.update(fields)
        models[arm.method] = model
        ctx.add_model(truth.name, arm.method, model)
    return record

"""The DPO arm of an experiment: preference tuning of the locally trained SFT arm.

With ``[finetune.local.dpo]`` (``beta``, ``rejected``, ``epochs``, ... : every
:class:`~llmrec.finetune.local.LocalTrainConfig` field, method fixed to ``"dpo"``) the runner,
for every truth:

1. writes preference files from the same train (and validation) split the SFT arm learns from
   (:func:`llmrec.finetune.export_preference_jsonl`: chosen = the gold list, rejected from the
   named builder, ``popularity`` or ``random``, counted on the ratings the backends are fitted
   on, so no held-out rating of a test user is seen) - the stage ``dpo-files:NAME``, free, so a
   dry run counts its tokens exactly;
2. once the SFT arm is trained, runs :func:`llmrec.finetune.local.train_local_dpo` on it with
   the SFT model as the reference into ``finetune/NAME.dpo-KEY/`` - the stage
   ``finetune-dpo:NAME``, resumable from its checkpoints and reused when finished;
3. gives that folder to every backend that asks for the DPO model (``uses_dpo_model``, e.g.
   ``transformers`` with ``fine_tuned = "dpo"``); ``fine_tuned = true`` stays the SFT arm.

The plan has a compute line for it like the SFT arm's (tokens, FLOPs by the ``8 x parameters x
tokens`` rule of :mod:`llmrec.finetune.local.estimate`: policy forward and backward plus the
reference's forward; GPU-hours at ``assumed_tflops``; 0 USD). Zero-shot, SFT and DPO run on the
same test users, and the report tests every pair of language-model arms
(:mod:`llmrec.experiment.arm_tests`).

Hosted DPO jobs are not run by experiments: train one with ``llmrec finetune start --method
dpo`` and compare its model by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmrec._io import write_json_atomic
from llmrec.errors import LLMRecError
from llmrec.experiment.costs import gpu_hours, local_training_line
from llmrec.experiment.dpo_config import LocalDPO
from llmrec.experiment.stages import stage_key
from llmrec.finetune.local.config import LocalTrainConfig

if TYPE_CHECKING:
    from llmrec.data import Catalog, Ratings
    from llmrec.experiment.config import ExperimentConfig
    from llmrec.truth import ProfileDataset

__all__ = [
    "LocalDPO",
    "arm_model",
    "dpo_problems",
    "prepare_dpo_arm",
    "report_lines",
    "train_dpo_arm",
]


def _dpo(runner: Any) -> LocalDPO | None:
    ft = runner.config.finetune
    if ft.provider != "local" or ft.local is None:
        return None
    dpo: LocalDPO | None = ft.local.dpo
    return dpo


def _asks_for_dpo(spec: Any) -> bool:
    from llmrec.recommenders import get_recommender
    from llmrec.recommenders.capabilities import uses_dpo_model, uses_fine_tuned_model
    from llmrec.recommenders.registry import get_recommender_factory

    try:
        factory = get_recommender_factory(spec.name)
        if uses_dpo_model(factory):
            return True
        options = dict(spec.config)
        if uses_fine_tuned_model(factory):
            options.setdefault("model", "planned")
        return uses_dpo_model(get_recommender(spec.name, **options))
    except LLMRecError:
        return False  # check_config reports why it cannot be built


def dpo_problems(config: ExperimentConfig) -> list[str]:
    """Why the config's DPO arm cannot run, one sentence each (empty: it can, or there is none)."""
    ft = config.finetune
    local = ft.local
    dpo = local.dpo if local is not None else None
    found: list[str] = []
    if local is not None and local.method == "dpo":
        found.append(
            "[finetune.local] method = 'dpo': the SFT arm is supervised (lora, qlora or full); "
            "put the DPO arm's settings in [finetune.local.dpo]"
        )
    if dpo is not None and ft.provider != "local":
        found.append(
            "[finetune.local.dpo] preference-tunes the SFT arm trained on this machine: set "
            "finetune.provider = 'local' (experiments do not run hosted DPO jobs)"
        )
    elif dpo is not None and not ft.enabled:
        found.append(
            "[finetune.local.dpo] needs the SFT arm it starts from (its reference model): set "
            "finetune.enabled = true"
        )
    if dpo is None:
        for spec in config.backends:
            if _asks_for_dpo(spec):
                found.append(
                    f"backend {spec.display!r} ({spec.name}) runs the DPO arm's model "
                    "(fine_tuned = 'dpo'), but there is no DPO arm: add [finetune.local.dpo] "
                    "(beta, rejected, epochs, ...) with finetune.provider = 'local' and "
                    "finetune.enabled = true"
                )
    return found


def arm_model(runner: Any, name: str, rec: Any, sft_model: str | None) -> str | None:
    """The model a fine-tuned backend runs on ``name``: the DPO arm's or the SFT arm's."""
    from llmrec.recommenders.capabilities import uses_dpo_model

    if uses_dpo_model(rec):
        model: str | None = runner.dpo_models.get(name)
        return model
    return sft_model


def _paths(name: str) -> dict[str, str]:
    return {
        "train": f"finetune/{name}.dpo.train.jsonl",
        "val": f"finetune/{name}.dpo.val.jsonl",
        "summary": f"finetune/{name}.dpo.summary.json",
        "record": f"finetune/{name}.dpo.json",
    }


def prepare_dpo_arm(
    runner: Any,
    name: str,
    split_key: str,
    parts: dict[str, ProfileDataset],
    ratings: Ratings,
    catalog: Catalog,
    summary: dict[str, Any],
    sft_model: str | None,
) -> None:
    """Write ``name``'s preference files (a free stage; a dry run too) and note the DPO model an
    earlier run trained on ``sft_model`` with these settings (in ``runner.dpo_models``)."""
    dpo = _dpo(runner)
    if dpo is None:
        return
    from llmrec.experiment.truths import fitting_ratings
    from llmrec.finetune import export_preference_jsonl

    config = runner.config
    paths = _paths(name)
    has_val = len(parts["val"]) > 0
    key = stage_key(
        split_key, config.template.model_dump(mode="json"), dpo.rejected, dpo.seed, "dpo-files"
    )

    def work() -> None:
        spec = config.truth[name]
        probe = runner.probe() if spec.kind == "probe" else None
        fitting = fitting_ratings(spec, ratings, parts["test"].user_ids, probe=probe)
        record: dict[str, Any] = {"rejected": dpo.rejected, "seed": dpo.seed}
        for part in ("train", "val") if has_val else ("train",):
            pairs = export_preference_jsonl(
                parts[part],
                config.template,
                catalog,
                runner.out / paths[part],
                rejected=dpo.rejected,
                ratings=fitting,
                seed=dpo.seed,
            )
            record[part] = {**pairs.to_dict(), "path": paths[part]}
        write_json_atomic(runner.out / paths["summary"], record)

    outputs = [paths["train"], paths["summary"], *([paths["val"]] if has_val else [])]
    runner.store.run(f"dpo-files:{name}", key, outputs, work)
    files = json.loads((runner.out / paths["summary"]).read_text("utf-8"))
    summary["dpo"] = {"key": key, "files": files}
    runner.dpo_models[name] = _known_model(runner, dpo, name, key, sft_model)


def _train_config(runner: Any, dpo: LocalDPO) -> LocalTrainConfig:
    """The DPO settings; a LoRA SFT arm's adapter keeps training (its rank and targets count),
    and a chat template given to the SFT arm is the one its folder carries."""
    local = runner.config.finetune.local
    update: dict[str, Any] = {}
    if local.method in ("lora", "qlora"):
        update.update(lora_r=local.lora_r, lora_target_modules=local.lora_target_modules)
    if dpo.chat_template is None and local.chat_template is not None:
        update["chat_template"] = local.chat_template
    return dpo.train_config().model_copy(update=update)


def _sft_identity(runner: Any, name: str, sft_model: str) -> tuple[str, str | None]:
    from llmrec.local_models.fingerprint import folder_sha256

    record = runner.out / f"finetune/{name}.local.json"
    if record.is_file():
        saved = json.loads(record.read_text("utf-8"))
        if saved.get("fine_tuned_model") == sft_model:
            return sft_model, saved.get("weights_sha256")
    return sft_model, folder_sha256(sft_model) if Path(sft_model).is_dir() else None


def _train_key(runner: Any, dpo: LocalDPO, name: str, files_key: str, sft_model: str) -> str:
    config = _train_config(runner, dpo).model_dump(mode="json")
    return stage_key(files_key, config, *_sft_identity(runner, name, sft_model))


def _known_model(
    runner: Any, dpo: LocalDPO, name: str, files_key: str, sft_model: str | None
) -> str | None:
    if sft_model is None or not runner.config.finetune.enabled:
        return None
    key = _train_key(runner, dpo, name, files_key, sft_model)
    if not runner.store.is_done(f"finetune-dpo:{name}", key):
        return None
    record = json.loads((runner.out / _paths(name)["record"]).read_text("utf-8"))
    return str(record["fine_tuned_model"])


def train_dpo_arm(runner: Any, name: str, summary: dict[str, Any], sft_model: str | None) -> None:
    """Plan (and unless a dry run, run) DPO of the SFT arm ``sft_model`` on ``name``'s pairs.

    Adds a compute line to the plan, DPO's figures to ``summary["dpo"]`` and the trained folder
    to ``runner.dpo_models``.
    """
    dpo = _dpo(runner)
    if dpo is None:
        return
    from llmrec.finetune.local import train_local_dpo
    from llmrec.finetune.local.dpo import plan_local_dpo
    from llmrec.local_models.fingerprint import folder_sha256

    local = runner.config.finetune.local
    out: Path = runner.out
    paths = _paths(name)
    info = summary["dpo"]
    config = _train_config(runner, dpo)
    train = out / paths["train"]
    val = out / paths["val"] if (out / paths["val"]).is_file() and "val" in info["files"] else None
    given = name in runner.config.finetune.fine_tuned_models
    # planned on the base model (same tokenizer, template and size) unless the SFT model is given
    planned_on = sft_model if given and sft_model is not None else local.model
    dry = plan_local_dpo(train, planned_on, validation=val, config=config)
    hours = gpu_hours(dry.flops, local.assumed_tflops)
    runner.plan.append(
        local_training_line(
            f"DPO of the SFT arm locally (beta {config.beta:g}, rejected {dpo.rejected}) on {name}",
            dry,
            local.assumed_tflops,
            will_run=runner.config.finetune.enabled,
        )
    )
    info.update(
        {
            "beta": config.beta,
            "rejected": dpo.rejected,
            "epochs": config.epochs,
            "pairs": dry.examples,
            "tokens": dry.tokens,
            "parameters": dry.parameters,
            "trainable_parameters": dry.trainable_parameters,
            "flops": dry.flops,
            "assumed_tflops": local.assumed_tflops,
            "gpu_hours": hours,
            "optimizer_steps": dry.optimizer_steps,
        }
    )
    if runner.dry_run or sft_model is None or not runner.config.finetune.enabled:
        return
    key = _train_key(runner, dpo, name, info["key"], sft_model)
    folder = f"finetune/{name}.dpo-{key}"

    def work() -> None:
        manifest = train_local_dpo(
            train, sft_model, out / folder, validation=val, config=config, progress=runner.progress
        )
        write_json_atomic(
            out / paths["record"],
            {
                "fine_tuned_model": str((out / folder).resolve()),
                "reference": sft_model,
                "adapter_sha256": folder_sha256(out / folder),
                "status": manifest.status,
                "tokens_seen": manifest.tokens_seen,
                "final_loss": manifest.final_loss,
                "wall_seconds": manifest.wall_seconds,
                "device": manifest.device,
            },
        )

    runner.store.run(f"finetune-dpo:{name}", key, [paths["record"]], work)
    record = json.loads((out / paths["record"]).read_text("utf-8"))
    info.update({"folder": folder, **record})
    runner.dpo_models[name] = str(record["fine_tuned_model"])


def report_lines(ft: dict[str, Any]) -> list[str]:
    """The report's paragraph on the DPO arm (empty when there is none)."""
    info = ft.get("dpo")
    if not info:
        return []
    files = info.get("files", {})
    train = files.get("train", {})
    dropped = ", ".join(f"{n:,} {why}" for why, n in sorted(train.get("dropped", {}).items()))
    trained = info.get("adapter_sha256")
    return [
        f"DPO arm: the SFT arm preference-tuned locally (beta {info.get('beta')}, "
        f"{info.get('epochs')} epochs) on {train.get('n_pairs', 0):,} pairs from the train split "
        f"(chosen: the gold list; rejected: {info.get('rejected')} lists"
        + (f"; dropped {dropped}" if dropped else "")
        + "), the SFT model as reference; "
        + (f"adapter sha256 {str(trained)[:12]}." if trained else "not trained in this run."),
        "",
        f"DPO compute: about {info.get('flops', 0.0):.3g} training FLOPs (8 x "
        f"{info.get('parameters', 0):,} parameters x {info.get('tokens', 0):,} tokens), about "
        f"{info.get('gpu_hours', 0.0):.3g} GPU-hours at an assumed "
        f"{info.get('assumed_tflops', 0.0):g} TFLOP/s sustained"
        + (
            f"; measured here: {info['wall_seconds']:.0f} s on {info.get('device')}."
            if info.get("wall_seconds") is not None
            else "."
        ),
        "",
    ]

"""``train_local``: supervised fine-tuning of an open-weights model with TRL, resumable.

The chat JSONL is tokenized with the model's own chat template (:mod:`._data`); the labels are
the token ids on the assistant's completion and -100 everywhere else, so the loss is on the
assistant tokens only. TRL's ``SFTTrainer`` runs the loop (LoRA/QLoRA through PEFT, or every
weight), checkpointing every ``save_steps`` optimizer steps into ``OUT/checkpoints``; the same
call after a kill resumes from the last checkpoint (``resume_from_checkpoint``), and a call on a
finished folder returns its manifest without training again. The output folder loads whatever
the method: full weights, or a LoRA adapter whose ``adapter_config.json`` names the base model
(plus merged weights in ``OUT/merged`` with ``merged=True``).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

from llmrec.errors import ConfigError
from llmrec.finetune.local._data import TokenizedFile, template_sha256, tokenize_file
from llmrec.finetune.local._deps import library_versions, quiet_peft, require
from llmrec.finetune.local._model import (
    base_identity,
    check_qlora,
    load_tokenizer,
    max_positions,
    torch_dtype,
)
from llmrec.finetune.local.config import LocalTrainConfig
from llmrec.finetune.local.estimate import DryRun, estimate
from llmrec.finetune.local.manifest import MANIFEST_NAME, LocalTrainManifest
from llmrec.finetune.manifest import file_sha256, utc_now

__all__ = ["OutOfMemoryError", "build_trainer", "plan_local", "train_local"]

OOM_HELP = (
    "ran out of memory; lower the per-device batch (LocalTrainConfig(per_device_batch_size=...), "
    "the effective batch stays the same through more gradient accumulation steps), shorten "
    "--max-seq-len, turn on gradient checkpointing (gradient_checkpointing=True / "
    "--gradient-checkpointing), or train a 4-bit base with --method qlora; "
    "the run resumes from its last checkpoint when called again"
)


class OutOfMemoryError(ConfigError, MemoryError):
    """Training did not fit in the device's memory; the message says what to change."""


def _prepare(
    train: str | Path, model: str, validation: str | Path | None, config: LocalTrainConfig
) -> tuple[Any, TokenizedFile, TokenizedFile | None, int]:
    check_qlora(config)
    tokenizer = load_tokenizer(model, config)
    max_len = config.max_seq_len or max_positions(model, tokenizer)
    data = tokenize_file(tokenizer, train, max_seq_len=max_len, overlong=config.overlong)
    val = None
    if validation is not None:
        val = tokenize_file(tokenizer, validation, max_seq_len=max_len, overlong=config.overlong)
    return tokenizer, data, val, max_len


def plan_local(
    train: str | Path,
    model: str,
    *,
    validation: str | Path | None = None,
    config: LocalTrainConfig | None = None,
) -> DryRun:
    """The dry run: tokens, optimizer steps, FLOPs and memory for the run; trains nothing."""
    config = config or LocalTrainConfig()
    _, data, _, _ = _prepare(train, model, validation, config)
    return estimate(
        model,
        config,
        examples=len(data.input_ids),
        tokens=data.tokens,
        completion_tokens=data.completion_tokens,
        longest=max(len(ids) for ids in data.input_ids),
        overlong=len(data.overlong_lines),
        dropped=data.dropped,
        truncated=data.truncated,
    )


def _dataset(data: TokenizedFile) -> Any:
    datasets = require("datasets")
    labels = [
        [tok if bit else -100 for tok, bit in zip(ids, mask, strict=True)]
        for ids, mask in zip(data.input_ids, data.completion_mask, strict=True)
    ]
    return datasets.Dataset.from_dict({"input_ids": data.input_ids, "labels": labels})


def _load_model(model: str, config: LocalTrainConfig) -> Any:
    transformers = require("transformers")
    torch = require("torch")
    kwargs: dict[str, Any] = {"dtype": torch_dtype(config)}
    if config.method == "qlora":
        kwargs["quantization_config"] = transformers.BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=kwargs["dtype"],
        )
        kwargs["device_map"] = {"": 0}
    torch.manual_seed(config.seed)
    net = transformers.AutoModelForCausalLM.from_pretrained(model, **kwargs)
    if config.method == "full":
        return net
    peft = require("peft")
    if config.method == "qlora":
        net = peft.prepare_model_for_kbit_training(
            net, use_gradient_checkpointing=config.gradient_checkpointing
        )
    lora = peft.LoraConfig(
        r=config.lora_r,
        lora_alpha=config.alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.lora_target_modules,
        task_type="CAUSAL_LM",
    )
    with quiet_peft():
        return peft.get_peft_model(net, lora)


def _checkpointing(trl: Any, enabled: bool) -> dict[str, bool]:
    """transformers 5 renamed ``gradient_checkpointing`` to ``activation_checkpointing``."""
    names = {f.name for f in dataclasses.fields(trl.SFTConfig)}
    if "activation_checkpointing" in names:
        return {"activation_checkpointing": enabled, "gradient_checkpointing": enabled}
    return {"gradient_checkpointing": enabled}


def build_trainer(
    model: str,
    tokenizer: Any,
    data: TokenizedFile,
    validation: TokenizedFile | None,
    out: Path,
    config: LocalTrainConfig,
    *,
    progress: bool = True,
    callbacks: list[Any] | None = None,
) -> Any:
    """The TRL ``SFTTrainer`` for the run (exposed so tests can inspect its batches)."""
    trl = require("trl")
    torch = require("torch")
    dtype = torch_dtype(config)
    args = trl.SFTConfig(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.device_batch,
        per_device_eval_batch_size=config.device_batch,
        gradient_accumulation_steps=config.accumulation,
        learning_rate=config.lr,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio,
        weight_decay=config.weight_decay,
        logging_steps=1,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        eval_strategy="epoch" if validation is not None else "no",
        seed=config.seed,
        data_seed=config.seed,
        bf16=dtype == torch.bfloat16,
        fp16=dtype == torch.float16,
        **_checkpointing(trl, config.gradient_checkpointing),
        max_length=None,
        packing=False,
        report_to=[],
        disable_tqdm=not progress,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        save_only_model=False,
    )
    trainer = trl.SFTTrainer(
        model=_load_model(model, config),
        args=args,
        train_dataset=_dataset(data),
        eval_dataset=None if validation is None else _dataset(validation),
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    if not progress:
        transformers = require("transformers")
        trainer.remove_callback(transformers.trainer_callback.PrinterCallback)
    return trainer


def _file_record(path: str | Path, data: TokenizedFile) -> dict[str, Any]:
    return {"sha256": file_sha256(path), **data.summary(), "path": str(Path(path).resolve())}


def train_local(
    train: str | Path,
    model: str,
    out: str | Path,
    *,
    validation: str | Path | None = None,
    config: LocalTrainConfig | None = None,
    progress: bool = True,
) -> LocalTrainManifest:
    """Fine-tune ``model`` (hub id or folder) on the chat JSONL ``train``; write ``out``.

    Returns the manifest (also in ``out/local-train-manifest.json``). Rerunning the same call
    resumes an interrupted run from its last checkpoint and returns a finished one as it is; a
    folder that holds a run of another base model, data or settings raises ConfigError.
    """
    config = config or LocalTrainConfig()
    folder = Path(out)
    manifest_path = folder / MANIFEST_NAME
    base_name, revision, base_hash = base_identity(model)
    tokenizer, data, val, max_len = _prepare(train, model, validation, config)
    manifest = LocalTrainManifest(
        method=config.method,
        base_model=base_name,
        base_revision=revision,
        base_sha256=base_hash,
        train_file=_file_record(train, data),
        validation_file=None
        if val is None or validation is None
        else _file_record(validation, val),
        template_sha256=template_sha256(tokenizer),
        hyperparameters={**config.hyperparameters(), "max_seq_len": max_len},
        libraries=library_versions(),
        started_at=utc_now(),
    )
    if manifest_path.exists():
        previous = LocalTrainManifest.load(manifest_path)
        if _same_run(previous, manifest, manifest_path):
            if previous.status == "succeeded":
                return previous
            manifest = previous.model_copy(update={"status": "running", "error": None})
    folder.mkdir(parents=True, exist_ok=True)
    manifest.save(manifest_path)
    return _run(model, tokenizer, data, val, folder, config, manifest, manifest_path, progress)


def _same_run(previous: LocalTrainManifest, new: LocalTrainManifest, path: Path) -> bool:
    old_id, new_id = previous.identity(), new.identity()
    if old_id == new_id:
        return True
    changed = sorted(k for k in new_id if old_id.get(k) != new_id.get(k))
    what = ", ".join(changed)
    if "base_model" in changed or "base_sha256" in changed or "base_revision" in changed:
        what += f" (the folder was trained from {previous.base_model!r}, not {new.base_model!r})"
    raise ConfigError(
        f"{path.parent} holds another run ({what} differ); pass another --out folder, or delete "
        f"{path.parent} to start over"
    )


def last_complete_checkpoint(folder: Path) -> str | None:
    """The newest checkpoint whose ``trainer_state.json`` (written last) reads back whole.

    A kill during a save leaves a partial ``checkpoint-N``; it is removed and the previous
    complete checkpoint is used (or none: the run starts over).
    """
    if not folder.is_dir():
        return None
    found = []
    for path in folder.iterdir():
        match = re.fullmatch(r"checkpoint-(\d+)", path.name)
        if match and path.is_dir():
            found.append((int(match.group(1)), path))
    for _, path in sorted(found, reverse=True):
        try:
            json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            shutil.rmtree(path, ignore_errors=True)
            continue
        return str(path)
    return None


def _run(
    model: str,
    tokenizer: Any,
    data: TokenizedFile,
    val: TokenizedFile | None,
    folder: Path,
    config: LocalTrainConfig,
    manifest: LocalTrainManifest,
    manifest_path: Path,
    progress: bool,
) -> LocalTrainManifest:
    from llmrec.finetune.local._callback import ManifestCallback

    torch = require("torch")
    started = time.monotonic()
    callback = ManifestCallback(manifest, manifest_path, started)
    trainer = build_trainer(
        model, tokenizer, data, val, folder, config, progress=progress, callbacks=[callback]
    )
    checkpoints = folder / "checkpoints"
    last = last_complete_checkpoint(checkpoints)
    if last is not None:
        manifest.resumed_from.append(Path(last).name)
    manifest.device = str(trainer.args.device)
    try:
        trainer.train(resume_from_checkpoint=last)
    except torch.OutOfMemoryError:
        manifest.status, manifest.error = "failed", "out of memory"
        manifest.save(manifest_path)
        raise OutOfMemoryError(f"training {model!r} {OOM_HELP}") from None
    except BaseException as exc:
        if isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower():
            manifest.status, manifest.error = "failed", "out of memory"
            manifest.save(manifest_path)
            raise OutOfMemoryError(f"training {model!r} {OOM_HELP}") from None
        raise
    callback.sync(trainer.state)
    _save_outputs(trainer, tokenizer, model, folder, config, manifest)
    shutil.rmtree(checkpoints, ignore_errors=True)
    manifest.last_checkpoint = None
    manifest.status = "succeeded"
    manifest.finished_at = utc_now()
    manifest.wall_seconds = callback.wall_seconds()
    manifest.save(manifest_path)
    return manifest


def _save_outputs(
    trainer: Any,
    tokenizer: Any,
    model: str,
    folder: Path,
    config: LocalTrainConfig,
    manifest: LocalTrainManifest,
) -> None:
    net = trainer.model
    tokenizer.save_pretrained(folder)
    if config.method == "full":
        net.save_pretrained(folder, safe_serialization=True)
        manifest.outputs["model"] = str(folder)
        return
    for adapter in net.peft_config.values():
        adapter.base_model_name_or_path = manifest.base_model
        adapter.revision = manifest.base_revision
    net.save_pretrained(folder, safe_serialization=True)
    manifest.outputs["adapter"] = str(folder)
    if config.merged:
        from llmrec.local_models.load import merge_adapter

        manifest.outputs["merged"] = str(merge_adapter(folder, folder / "merged"))

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

from pathlib import Path
from typing import Any

from llmrec.finetune.local._data import (
    TokenizedFile,
    require_file_kind,
    template_sha256,
    tokenize_file,
)
from llmrec.finetune.local._deps import library_versions, quiet_peft, require
from llmrec.finetune.local._model import (
    base_identity,
    check_qlora,
    load_tokenizer,
    max_positions,
    torch_dtype,
)
from llmrec.finetune.local._runner import (
    OutOfMemoryError,
    checkpointing_args,
    file_record,
    last_complete_checkpoint,
    quiet_trainer,
    run_training,
    start_or_resume,
)
from llmrec.finetune.local.config import LocalTrainConfig
from llmrec.finetune.local.estimate import DryRun, estimate
from llmrec.finetune.local.manifest import MANIFEST_NAME, LocalTrainManifest
from llmrec.finetune.manifest import utc_now

__all__ = [
    "OutOfMemoryError",
    "build_trainer",
    "last_complete_checkpoint",
    "plan_local",
    "train_local",
]


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
    require_file_kind(train, config.method)
    if config.method == "dpo":
        from llmrec.finetune.local.dpo import plan_local_dpo

        return plan_local_dpo(train, model, validation=validation, config=config)
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
        **checkpointing_args(trl, config.gradient_checkpointing),
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
    return quiet_trainer(trainer, progress)


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

    With ``config.method == "dpo"``, ``train`` is a preference file and ``model`` the supervised
    model to tune (see :func:`~llmrec.finetune.local.dpo.train_local_dpo`).

    Returns the manifest (also in ``out/local-train-manifest.json``). Rerunning the same call
    resumes an interrupted run from its last checkpoint and returns a finished one as it is; a
    folder that holds a run of another base model, data or settings raises ConfigError.
    """
    config = config or LocalTrainConfig()
    require_file_kind(train, config.method)
    if config.method == "dpo":
        from llmrec.finetune.local.dpo import train_local_dpo

        return train_local_dpo(
            train, model, out, validation=validation, config=config, progress=progress
        )
    folder = Path(out)
    manifest_path = folder / MANIFEST_NAME
    base_name, revision, base_hash = base_identity(model)
    tokenizer, data, val, max_len = _prepare(train, model, validation, config)
    manifest = LocalTrainManifest(
        method=config.method,
        base_model=base_name,
        base_revision=revision,
        base_sha256=base_hash,
        train_file=file_record(train, data),
        validation_file=None if val is None or validation is None else file_record(validation, val),
        template_sha256=template_sha256(tokenizer),
        hyperparameters={**config.hyperparameters(), "max_seq_len": max_len},
        libraries=library_versions(),
        started_at=utc_now(),
    )
    manifest, finished = start_or_resume(manifest, manifest_path)
    if finished:
        return manifest

    def build(callbacks: list[Any]) -> Any:
        return build_trainer(
            model, tokenizer, data, val, folder, config, progress=progress, callbacks=callbacks
        )

    return run_training(model, tokenizer, build, folder, config, manifest, manifest_path)

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
from typing import TYPE_CHECKING, Any

from llmrec.errors import ConfigError
from llmrec.finetune.local._data import (
    TokenizedFile,
    require_file_kind,
    tokenize_file,
)
from llmrec.finetune.local._deps import quiet_peft, require
from llmrec.finetune.local._model import (
    check_qlora,
    load_tokenizer,
    lora_adapter,
    max_positions,
    torch_dtype,
)
from llmrec.finetune.local._runner import (
    OutOfMemoryError,
    last_complete_checkpoint,
    train_or_resume,
)
from llmrec.finetune.local._trainer_args import make_trainer, trainer_arguments
from llmrec.finetune.local.config import LocalTrainConfig
from llmrec.finetune.local.estimate import DryRun, estimate_file
from llmrec.finetune.local.manifest import LocalTrainManifest

if TYPE_CHECKING:
    from llmrec.data.catalog import Catalog

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
    catalog: Catalog | None = None,
) -> DryRun:
    """The dry run: tokens, optimizer steps, FLOPs and memory for the run; trains nothing.
    (``catalog``: method 'grpo' only, resolving the gold lists' titles.)"""
    config = config or LocalTrainConfig()
    require_file_kind(train, config.method)
    if config.method == "grpo":
        from llmrec.finetune.local.grpo import plan_local_grpo

        return plan_local_grpo(train, model, catalog=_catalog(catalog), config=config)
    if config.method == "dpo":
        from llmrec.finetune.local.dpo import plan_local_dpo

        return plan_local_dpo(train, model, validation=validation, config=config)
    _, data, _, _ = _prepare(train, model, validation, config)
    longest = max(len(ids) for ids in data.input_ids)
    return estimate_file(model, config, data, examples=len(data.input_ids), longest=longest)


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
    with quiet_peft():
        return peft.get_peft_model(net, lora_adapter(config))


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
    args = trainer_arguments(
        trl.SFTConfig,
        config,
        out,
        evaluate=validation is not None,
        progress=progress,
        max_length=None,
        packing=False,
    )
    evaluation = None if validation is None else _dataset(validation)
    return make_trainer(
        trl.SFTTrainer,
        _load_model(model, config),
        args,
        tokenizer,
        (_dataset(data), evaluation),
        callbacks=callbacks,
        progress=progress,
    )


def train_local(
    train: str | Path,
    model: str,
    out: str | Path,
    *,
    validation: str | Path | None = None,
    config: LocalTrainConfig | None = None,
    progress: bool = True,
    catalog: Catalog | None = None,
) -> LocalTrainManifest:
    """Fine-tune ``model`` (hub id or folder) on the chat JSONL ``train``; write ``out``.

    With ``config.method == "dpo"``, ``train`` is a preference file and ``model`` the supervised
    model to tune (see :func:`~llmrec.finetune.local.dpo.train_local_dpo`); with ``"grpo"``,
    ``model`` is the supervised model and ``catalog`` resolves titles for the reward (see
    :func:`~llmrec.finetune.local.grpo.train_local_grpo`).

    Returns the manifest (also in ``out/local-train-manifest.json``). Rerunning the same call
    resumes an interrupted run from its last checkpoint and returns a finished one as it is; a
    folder that holds a run of another base model, data or settings raises ConfigError.
    """
    config = config or LocalTrainConfig()
    require_file_kind(train, config.method)
    if config.method == "grpo":
        if validation is not None:
            raise ConfigError("GRPO takes no validation file; leave --validation out")
        from llmrec.finetune.local.grpo import train_local_grpo

        return train_local_grpo(
            train, model, out, catalog=_catalog(catalog), config=config, progress=progress
        )
    if config.method == "dpo":
        from llmrec.finetune.local.dpo import train_local_dpo

        return train_local_dpo(
            train, model, out, validation=validation, config=config, progress=progress
        )
    tokenizer, data, val, max_len = _prepare(train, model, validation, config)

    def build(callbacks: list[Any]) -> Any:
        return build_trainer(
            model, tokenizer, data, val, Path(out), config, progress=progress, callbacks=callbacks
        )

    return train_or_resume(
        out,
        build,
        model=model,
        base=model,
        tokenizer=tokenizer,
        config=config,
        max_len=max_len,
        train=train,
        data=data,
        validation=validation,
        val=val,
    )


def _catalog(catalog: Catalog | None) -> Catalog:
    if catalog is None:
        raise ConfigError(
            "method 'grpo' needs the catalog that resolves the answers' titles for the reward "
            "(catalog=... / --catalog FILE)"
        )
    return catalog

"""Dry run: what a local fine-tuning run would cost, computed from the data and the model config.

Tokens are exact (the model's own tokenizer and chat template). Optimizer steps are
``ceil(examples / batch_size)`` per epoch. Training FLOPs follow the usual ``6 x N x D`` rule
(N parameters, D tokens seen; Kaplan et al. 2020, "Scaling Laws for Neural Language Models"),
which for LoRA overstates a little (no weight gradients for the frozen base). Memory is a rough
estimate for one device: weights, gradients and AdamW states (16 bytes per trained parameter in
mixed precision), the frozen base at its storage width (2 bytes, or about 0.55 for 4-bit QLoRA),
and activations of about ``34 x batch x seq x hidden x layers`` bytes (Korthikanti et al. 2022),
or ``2 x ...`` with gradient checkpointing. Nothing is trained and no weights are loaded.

DPO (``method="dpo"``) trains LoRA weights and runs each pair as two sequences (chosen and
rejected) through the policy (forward and backward, ``6 x N x D``) and through the reference
(forward only, ``2 x N x D``): ``8 x N x D`` FLOPs, with ``D`` counting both sequences, and
activations for twice the batch.

GRPO (``method="grpo"``) counts ``D`` as every sampled answer with its prompt (prompts x
``num_generations`` x (prompt + ``max_new_tokens``) an epoch, an upper bound: answers may stop
early): ``2 x N`` per token to generate it, ``6 x N`` to train on it, plus ``2 x N`` for the
reference's forward pass when ``beta`` > 0: ``8 x N x D`` or ``10 x N x D`` FLOPs, with
activations for ``num_generations`` times the batch.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmrec.finetune.local._deps import require
from llmrec.finetune.local.config import LocalTrainConfig

if TYPE_CHECKING:
    from llmrec.finetune.local._data import FileCounts

__all__ = ["DryRun", "count_parameters", "flops_per_token", "lora_targets"]


def flops_per_token(config: LocalTrainConfig) -> int:
    """Training FLOPs per parameter and token seen (module docstring): 6 (SFT), 8 (DPO; GRPO
    without a reference), 10 (GRPO with ``beta`` > 0)."""
    if config.method == "dpo":
        return 8
    if config.method == "grpo":
        return 10 if config.beta > 0 else 8
    return 6


@dataclass(frozen=True)
class DryRun:
    """The figures ``--dry-run`` prints."""

    model: str
    method: str
    examples: int
    tokens_per_epoch: int
    completion_tokens_per_epoch: int
    epochs: float
    optimizer_steps: int
    parameters: int
    trainable_parameters: int
    flops: float
    memory_bytes: int
    overlong: int
    dropped: int
    truncated: int
    flops_factor: int = 6
    """Training FLOPs per parameter and token (:func:`flops_per_token`)."""

    @property
    def tokens(self) -> int:
        """Tokens seen over all epochs."""
        return round(self.tokens_per_epoch * self.epochs)

    def __str__(self) -> str:
        lines = [
            f"dry run: {self.method} fine-tuning of {self.model} (nothing trained)",
            f"  examples:             {self.examples:,} "
            f"(overlong {self.overlong}, dropped {self.dropped}, truncated {self.truncated})",
            f"  tokens per epoch:     {self.tokens_per_epoch:,} "
            f"({self.completion_tokens_per_epoch:,} in the loss)",
            f"  tokens seen:          {self.tokens:,} over {self.epochs:g} epoch(s)",
            f"  optimizer steps:      {self.optimizer_steps:,}",
            f"  parameters:           {self.parameters:,} ({self.trainable_parameters:,} trained)",
            f"  training FLOPs:       {self.flops:.3g} ({self.flops_factor} x parameters x tokens)",
            f"  memory (one device):  about {self.memory_bytes / 2**30:.2f} GiB",
        ]
        return "\n".join(lines)


def count_parameters(model: str, config: LocalTrainConfig) -> tuple[int, int, Any]:
    """(all parameters, trained parameters, model config), from the config alone (meta device)."""
    transformers = require("transformers")
    accelerate = require("accelerate")
    torch = require("torch")
    cfg = transformers.AutoConfig.from_pretrained(model)
    with accelerate.init_empty_weights():
        skeleton = transformers.AutoModelForCausalLM.from_config(cfg)
    total = sum(p.numel() for p in skeleton.parameters())
    if config.method == "full" or (config.method == "grpo" and config.full_weights):
        return total, total, cfg
    trained = 0
    for name, module in skeleton.named_modules():
        if not isinstance(module, torch.nn.Linear) or name.endswith("lm_head"):
            continue
        if lora_targets(name, config.lora_target_modules):
            trained += config.lora_r * (module.in_features + module.out_features)
    return total, trained, cfg


def lora_targets(name: str, targets: str | list[str]) -> bool:
    """Whether LoRA adapts the linear module ``name`` under PEFT's ``target_modules`` rule:
    ``"all-linear"``; another string is a regular expression the whole name matches; a list
    holds names that equal the module's name or end it after a dot (``q_proj``, or the full
    ``model.layers.0.self_attn.q_proj`` a saved adapter lists)."""
    if targets == "all-linear":
        return True
    if isinstance(targets, str):
        return re.fullmatch(targets, name) is not None
    return any(name == t or name.endswith("." + t) for t in targets)


def estimate_file(
    model: str, config: LocalTrainConfig, data: FileCounts, *, examples: int, longest: int
) -> DryRun:
    """:func:`estimate` for the ``examples`` read from a training file (``data``: its token
    counts and what happened to its overlong lines; ``longest``: its longest sequence)."""
    return estimate(
        model,
        config,
        examples=examples,
        tokens=data.tokens,
        completion_tokens=data.completion_tokens,
        longest=longest,
        overlong=len(data.overlong_lines),
        dropped=data.dropped,
        truncated=data.truncated,
    )


def estimate(
    model: str,
    config: LocalTrainConfig,
    *,
    examples: int,
    tokens: int,
    completion_tokens: int,
    longest: int,
    overlong: int = 0,
    dropped: int = 0,
    truncated: int = 0,
) -> DryRun:
    """The :class:`DryRun` for ``examples`` examples holding ``tokens`` tokens."""
    total, trained, cfg = count_parameters(model, config)
    steps = math.ceil(math.ceil(examples / config.batch_size) * config.epochs)
    seen = tokens * config.epochs
    base_bytes = {"full": 0.0, "lora": 2.0, "qlora": 0.55, "dpo": 2.0, "grpo": 2.0}[config.method]
    if config.method == "grpo" and config.full_weights:
        base_bytes = 0.0
    hidden = int(getattr(cfg, "hidden_size", 0) or 0)
    layers = int(getattr(cfg, "num_hidden_layers", 0) or 0)
    per_token = 2 if config.gradient_checkpointing else 34
    sequences = {"dpo": 2, "grpo": config.num_generations}.get(config.method, 1)
    activations = per_token * sequences * config.device_batch * longest * hidden * layers
    memory = int(16 * trained + base_bytes * total + activations)
    return DryRun(
        model=model,
        method=config.method,
        examples=examples,
        tokens_per_epoch=tokens,
        completion_tokens_per_epoch=completion_tokens,
        epochs=config.epochs,
        optimizer_steps=steps,
        parameters=total,
        trainable_parameters=trained,
        flops=float(flops_per_token(config)) * total * seen,
        memory_bytes=memory,
        overlong=overlong,
        dropped=dropped,
        truncated=truncated,
        flops_factor=flops_per_token(config),
    )

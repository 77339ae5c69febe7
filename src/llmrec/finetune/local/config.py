"""``LocalTrainConfig``: the settings of a local supervised fine-tuning run (LoRA, QLoRA, full).

Defaults are the study's loop φ: 2 epochs, an effective batch of 32 examples per optimizer step
(``per_device_batch_size`` examples at a time, gradient accumulation for the rest). The learning
rate, when not given, depends on the method (:data:`DEFAULT_LEARNING_RATES`): LoRA and QLoRA
train a few million fresh parameters and take the rate the LoRA and QLoRA papers and PEFT's
examples use (2e-4); full fine-tuning moves every pretrained weight and takes a tenth of it
(2e-5), the usual rate for instruction tuning of 0.5-8B models. Both decay linearly after a
3 % warm-up unless ``lr_scheduler="constant"``.

``method="dpo"`` is preference tuning (DPO, Rafailov et al. 2023) of a supervised model on a
preference file: ``beta`` is DPO's beta (how far the policy may move from the reference); the
default rate 5e-6 is the one Hugging Face's alignment-handbook uses for LoRA DPO (its
zephyr-7b-dpo-qlora recipe). The LoRA settings apply when DPO trains a fresh adapter (a full
SFT model); a LoRA SFT folder keeps its own adapter's settings.

``method="grpo"`` is reinforcement learning of a supervised model with GRPO (Shao et al. 2024,
"DeepSeekMath", section 4.1) from the chat file's prompts, rewarded by a ranking metric of each
sampled answer against the gold list (:mod:`llmrec.finetune.local.reward`): ``num_generations``
answers per prompt at ``temperature``, at most ``max_new_tokens`` each; ``beta`` is the KL
coefficient to the SFT model (TRL's default 0, which loads no reference); ``batch_size`` counts
prompts per optimizer step (each with its ``num_generations`` answers), one by default
(:data:`DEFAULT_GRPO_BATCH_SIZE`). The default rate 1e-6 is TRL's ``GRPOConfig`` default.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

__all__ = [
    "DEFAULT_GRPO_BATCH_SIZE",
    "DEFAULT_LEARNING_RATES",
    "GRPO_SETTINGS",
    "LocalTrainConfig",
    "Method",
    "Overlong",
    "drop_unused_grpo",
]

GRPO_SETTINGS = (
    "reward",
    "num_generations",
    "temperature",
    "max_new_tokens",
    "hallucination_penalty",
    "profile_penalty",
    "format_bonus",
    "full_weights",
)
"""The settings only method 'grpo' uses (left out of other methods' manifests)."""

Method = Literal["lora", "qlora", "full", "dpo", "grpo"]
Overlong = Literal["error", "drop", "truncate"]

DEFAULT_LEARNING_RATES: dict[str, float] = {
    "lora": 2e-4,
    "qlora": 2e-4,
    "full": 2e-5,
    "dpo": 5e-6,
    "grpo": 1e-6,
}
"""Learning rate used when ``LocalTrainConfig.learning_rate`` is None, per method."""

DEFAULT_GRPO_BATCH_SIZE = 1
"""Prompts per optimizer step of a GRPO run when ``batch_size`` is not given: one prompt's group
of ``num_generations`` answers a step, as TRL's ``GRPOConfig`` defaults (8 answers per device
batch, no accumulation) do. GRPO learns from many small on-policy steps: on the tiny model's 48
users (``benchmarks/bench_grpo.py``), 32 prompts a step left 8 optimizer steps in 8 epochs and
no greedy gain; one prompt a step makes 384 and lifts greedy NDCG@10 as plain TRL does."""


def drop_unused_grpo(config: LocalTrainConfig, data: Any) -> Any:
    """``data`` (``config``'s dump) without the GRPO settings at their defaults when
    ``config.method`` is not 'grpo' (for the serializers of this class and its subclasses);
    nor ``report_to`` when empty, so dumps stay those written before it existed."""
    if isinstance(data, dict) and data.get("report_to") == []:
        del data["report_to"]
    if isinstance(data, dict) and config.method != "grpo":
        fields = type(config).model_fields
        for name in GRPO_SETTINGS:
            if name in data and getattr(config, name) == fields[name].default:
                del data[name]
    return data


class LocalTrainConfig(BaseModel):
    """Everything that decides what a local fine-tuning run computes; saved in its manifest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Method = Field(
        "lora",
        description="'lora', 'qlora' (4-bit base, CUDA), 'full', 'dpo' (on a preference file) "
        "or 'grpo' (reinforcement learning from the chat file's prompts).",
    )
    epochs: float = Field(2, gt=0, le=100, description="Passes over the training file.")
    batch_size: int = Field(
        32,
        ge=1,
        le=4096,
        description="Examples per optimizer step (GRPO: prompts, 1 by default).",
    )
    per_device_batch_size: int = Field(
        8, ge=1, le=4096, description="Examples per forward pass; the rest is accumulated."
    )
    learning_rate: float | None = Field(
        None, gt=0, le=1, description="Peak learning rate; None uses the method's default."
    )
    lr_scheduler: Literal["linear", "constant", "cosine"] = Field(
        "linear", description="Learning-rate schedule after the warm-up."
    )
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="Share of steps spent warming up.")
    weight_decay: float = Field(0.0, ge=0, le=1, description="AdamW weight decay.")
    lora_r: int = Field(16, ge=1, le=1024, description="LoRA rank.")
    lora_alpha: int | None = Field(None, ge=1, description="LoRA alpha; None means 2 x lora_r.")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA branch.")
    lora_target_modules: str | list[str] = Field(
        "all-linear", description="Modules LoRA adapts (PEFT's 'all-linear' or a list of names)."
    )
    beta: float = Field(
        0.1,
        ge=0,
        le=100,
        description="DPO's beta, or GRPO's KL coefficient (default 0 for 'grpo'): higher stays "
        "nearer the reference.",
    )
    reward: str = Field(
        "ndcg@10", description="GRPO: the metric rewarded (ndcg@10, recall@10, hit@10, mrr, ...)."
    )
    num_generations: int = Field(8, ge=2, le=256, description="GRPO: answers sampled per prompt.")
    temperature: float = Field(1.0, gt=0, le=10, description="GRPO: sampling temperature.")
    max_new_tokens: int = Field(128, ge=1, description="GRPO: longest sampled answer in tokens.")
    hallucination_penalty: float = Field(
        0.0, ge=0, description="GRPO: reward lost per title the catalog cannot resolve."
    )
    profile_penalty: float = Field(
        0.0, ge=0, description="GRPO: reward lost per profile movie recommended again."
    )
    format_bonus: float = Field(
        0.0, ge=0, description="GRPO: reward added to every answer that parses as a list."
    )
    full_weights: bool = Field(
        False,
        description="GRPO on a full-weights SFT model: train every weight instead of a fresh "
        "LoRA adapter (a LoRA SFT folder always keeps training its adapter).",
    )
    seed: int = Field(0, description="Seed of weight init, data order and dropout.")
    max_seq_len: int | None = Field(
        None, ge=8, description="Longest example in tokens; None uses the model's limit."
    )
    overlong: Overlong = Field(
        "error",
        description="Examples over max_seq_len: 'error', 'drop' or 'truncate' (always counted).",
    )
    merged: bool = Field(False, description="Also write merged full weights (LoRA methods).")
    gradient_checkpointing: bool = Field(
        False, description="Recompute activations in the backward pass to save memory."
    )
    save_steps: int = Field(50, ge=1, description="Optimizer steps between checkpoints.")
    save_total_limit: int = Field(2, ge=1, description="Checkpoints kept on disk.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Training dtype: 'auto' is bfloat16 on a GPU that has it, else float32."
    )
    chat_template: str | None = Field(
        None, description="Jinja chat template for a model that has none (or to replace its own)."
    )
    report_to: list[str] = Field(
        default_factory=list,
        description="Experiment trackers the trainer also logs to (transformers' report_to: "
        "tensorboard, wandb, mlflow, ...; their logs go to OUT/logs); none by default. How a "
        "run is watched, not what it computes: not part of its identity.",
    )

    @model_validator(mode="before")
    @classmethod
    def _grpo_defaults(cls, data: Any) -> Any:
        """``beta`` None or unset: 0 for GRPO (TRL's default), else DPO's 0.1; ``batch_size``
        None or unset: :data:`DEFAULT_GRPO_BATCH_SIZE` prompts for GRPO, else 32 examples."""
        if not isinstance(data, dict):
            return data
        grpo = data.get("method", cls.model_fields["method"].default) == "grpo"
        for name, grpo_default in (("beta", 0.0), ("batch_size", DEFAULT_GRPO_BATCH_SIZE)):
            if data.get(name) is None:
                data = {k: v for k, v in data.items() if k != name}
                if grpo:
                    data[name] = grpo_default
        return data

    @model_validator(mode="after")
    def _positive_dpo_beta(self) -> LocalTrainConfig:
        if self.method == "dpo" and self.beta <= 0:
            raise ValueError(f"DPO's beta must be > 0, got {self.beta}")
        if self.method == "grpo":
            from llmrec.metrics.registry import resolve_metric

            resolve_metric(self.reward)  # a ConfigError naming the metric
        return self

    @model_serializer(mode="wrap")
    def _no_grpo_trace(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Other methods' dumps leave the GRPO settings out while they are at their defaults,
        so their run keys and saved configs are those written before GRPO existed."""
        return drop_unused_grpo(self, handler(self))

    @property
    def lr(self) -> float:
        """The learning rate actually used."""
        if self.learning_rate is not None:
            return self.learning_rate
        return DEFAULT_LEARNING_RATES[self.method]

    @property
    def alpha(self) -> int:
        """LoRA alpha actually used."""
        return self.lora_alpha if self.lora_alpha is not None else 2 * self.lora_r

    @property
    def device_batch(self) -> int:
        """Examples per forward pass: the largest divisor of ``batch_size`` not above
        ``per_device_batch_size``, so every optimizer step sees exactly ``batch_size`` examples."""
        cap = min(self.per_device_batch_size, self.batch_size)
        return next(d for d in range(cap, 0, -1) if self.batch_size % d == 0)

    @property
    def accumulation(self) -> int:
        """Gradient accumulation steps on one device."""
        return self.batch_size // self.device_batch

    def hyperparameters(self) -> dict[str, Any]:
        """The settings as resolved (learning rate and alpha filled in), for the manifest."""
        out = self.model_dump(mode="json")
        out.update(
            learning_rate=self.lr,
            lora_alpha=self.alpha,
            per_device_batch_size=self.device_batch,
            gradient_accumulation_steps=self.accumulation,
        )
        if self.method not in ("dpo", "grpo"):
            del out["beta"]  # meaningless for SFT; kept out so SFT manifests stay as they were
        if self.method != "grpo":  # likewise the GRPO settings for SFT and DPO
            for name in GRPO_SETTINGS:
                out.pop(name, None)
        if self.chat_template is not None:
            out["chat_template"] = "(custom, see template_sha256)"
        return out

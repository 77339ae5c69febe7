"""Local DPO: preference tuning of a supervised (SFT) model with TRL's ``DPOTrainer``.

``train_local(PREFS, SFT, OUT, config=LocalTrainConfig(method="dpo", beta=0.1))`` (or
:func:`train_local_dpo`) reads a preference file (``llmrec finetune export-preferences``),
formats each pair with the model's own chat template, and runs DPO (Rafailov et al. 2023,
"Direct Preference Optimization: Your Language Model is Secretly a Reward Model") with the SFT
model as **both the starting policy and the reference**:

- a LoRA SFT folder (``adapter_config.json``) is loaded as its base plus the SFT adapter, and
  that adapter keeps training. TRL (>= 1.x, with PEFT >= 0.20) copies a PEFT model's pretrained
  adapter into a frozen adapter named ``"ref"`` and computes the reference log-probabilities
  with it, so the reference is base + SFT adapter, not the bare base (which is what TRL uses
  when it creates a *fresh* adapter from ``peft_config``). One copy of the base is in memory.
  The output is an adapter on the original base, like the SFT output.
- a full-weights SFT folder (or hub id) gets a fresh LoRA adapter (``lora_r``, ``lora_alpha``
  ...); with the adapter's zero-initialised B matrices the start equals the SFT model, and the
  reference is the same model (the adapter disabled, or its frozen zero copy). The output is an
  adapter whose base is the SFT folder.

Either output loads in :class:`llmrec.local_models.LocalModel` (and ``merged=True`` also writes
plain merged weights). The manifest records ``method="dpo"``, ``beta``, and the SFT model as
``reference`` with its content hash; resume, progress and the dry run work as for SFT.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmrec.errors import DataFormatError
from llmrec.finetune.formats.preference import PreferenceRow, read_numbered_rows
from llmrec.finetune.local._data import FileCounts, render_prompt_completion
from llmrec.finetune.local._deps import quiet_peft, require
from llmrec.finetune.local._model import (
    base_identity,
    load_tokenizer,
    lora_adapter,
    max_positions,
    torch_dtype,
)
from llmrec.finetune.local._runner import train_or_resume
from llmrec.finetune.local._trainer_args import make_trainer, trainer_arguments
from llmrec.finetune.local.config import LocalTrainConfig
from llmrec.finetune.local.estimate import DryRun, estimate_file
from llmrec.finetune.local.manifest import LocalTrainManifest
from llmrec.local_models.fingerprint import folder_sha256
from llmrec.local_models.load import adapter_base

__all__ = ["PreferenceData", "SFTModel", "plan_local_dpo", "read_pairs", "train_local_dpo"]


@dataclass(frozen=True)
class SFTModel:
    """The supervised model DPO starts from: its folder or id, the base it sits on, and kind."""

    path: str
    base: str
    kind: str  # "adapter" (LoRA folder on ``base``) or "model" (full weights; base == path)

    @classmethod
    def of(cls, model: str) -> SFTModel:
        folder = Path(model)
        if (folder / "adapter_config.json").is_file():
            return cls(str(folder.resolve()), adapter_base(folder, None), "adapter")
        name = str(folder.resolve()) if folder.is_dir() else model
        return cls(name, name, "model")

    def record(self) -> dict[str, Any]:
        """The manifest's ``reference`` entry (path, kind, content hash or hub commit)."""
        if Path(self.path).is_dir():
            return {"path": self.path, "kind": self.kind, "sha256": folder_sha256(self.path)}
        _, revision, _ = base_identity(self.path)
        return {"path": self.path, "kind": self.kind, "sha256": None, "revision": revision}

    def policy(self, config: LocalTrainConfig, *, full_weights: bool = False) -> Any:
        """The model to train from it (seeded with ``config.seed``): its adapter, trainable; a
        fresh LoRA adapter (``config``'s) on full weights; or, with ``full_weights``, the full
        weights themselves."""
        transformers = require("transformers")
        torch = require("torch")
        peft = require("peft")
        torch.manual_seed(config.seed)
        net = transformers.AutoModelForCausalLM.from_pretrained(
            self.base, dtype=torch_dtype(config)
        )
        if full_weights:
            return net
        with quiet_peft():
            if self.kind == "adapter":
                return peft.PeftModel.from_pretrained(net, self.path, is_trainable=True)
            return peft.get_peft_model(net, lora_adapter(config))

    def tokenizer_source(self) -> str:
        """The adapter folder when it holds a tokenizer (llmrec's SFT output does), else base."""
        if self.kind == "adapter" and not (Path(self.path) / "tokenizer_config.json").is_file():
            return self.base
        return self.path


@dataclass
class PreferenceData(FileCounts):
    """The pairs of a preference file kept for training, their token counts, and what
    happened to the overlong ones."""

    rows: list[PreferenceRow] = field(default_factory=list)
    prompt_tokens: int = 0
    chosen_tokens: int = 0
    rejected_tokens: int = 0
    longest: int = 0

    @property
    def tokens(self) -> int:
        """Tokens one epoch feeds the policy (prompt + chosen, and prompt + rejected)."""
        return 2 * self.prompt_tokens + self.chosen_tokens + self.rejected_tokens

    @property
    def completion_tokens(self) -> int:
        """Tokens one epoch scores (both answers)."""
        return self.chosen_tokens + self.rejected_tokens


def read_pairs(
    tokenizer: Any, path: str | Path, *, max_seq_len: int, overlong: str
) -> PreferenceData:
    """Read and count a preference file with the model's chat template; apply ``overlong``.

    A pair is overlong when its prompt plus the longer answer exceeds ``max_seq_len`` tokens:
    'error' names the lines, 'drop' drops the pair, 'truncate' keeps it for TRL to cut the
    answers at ``max_seq_len`` (a pair whose prompt alone fills it is dropped). Always counted.
    """
    src = Path(path)
    rows = read_numbered_rows(src)
    if not rows:
        raise DataFormatError("the file holds no preference pairs", path=src)
    out = PreferenceData(path=str(path), n_examples=len(rows))
    for line, row in rows:
        prompt, chosen = render_prompt_completion(tokenizer, [*row.prompt, *row.chosen])
        _, rejected = render_prompt_completion(tokenizer, [*row.prompt, *row.rejected])
        p, c, r = (
            len(tokenizer(t, add_special_tokens=False)["input_ids"])
            for t in (prompt, chosen, rejected)
        )
        length = p + max(c, r)
        action = out.fit(line, p, length, max_seq_len, overlong)
        if action == "drop":
            continue
        if action == "truncate":
            c, r, length = min(c, max_seq_len - p), min(r, max_seq_len - p), max_seq_len
        out.rows.append(row)
        out.lines.append(line)
        out.prompt_tokens += p
        out.chosen_tokens += c
        out.rejected_tokens += r
        out.longest = max(out.longest, length)
    out.finish(max_seq_len, overlong, "pair")
    return out


def _prepare(
    prefs: str | Path, sft: SFTModel, validation: str | Path | None, config: LocalTrainConfig
) -> tuple[Any, PreferenceData, PreferenceData | None, int]:
    tokenizer = load_tokenizer(sft.tokenizer_source(), config)
    max_len = config.max_seq_len or max_positions(sft.base, tokenizer)
    data = read_pairs(tokenizer, prefs, max_seq_len=max_len, overlong=config.overlong)
    val = None
    if validation is not None:
        val = read_pairs(tokenizer, validation, max_seq_len=max_len, overlong=config.overlong)
    return tokenizer, data, val, max_len


def _adapter_settings(sft: SFTModel, config: LocalTrainConfig) -> LocalTrainConfig:
    """For a LoRA SFT folder the trained adapter is the SFT one: its rank, alpha, dropout and
    targets are what is trained (and recorded), whatever ``config`` says."""
    if sft.kind != "adapter":
        return config
    saved = json.loads((Path(sft.path) / "adapter_config.json").read_text(encoding="utf-8"))
    targets = saved.get("target_modules") or config.lora_target_modules
    if isinstance(targets, list):
        targets = sorted(targets)
    rank = int(saved.get("r", config.lora_r))
    update = {
        "lora_r": rank,
        "lora_alpha": int(saved.get("lora_alpha") or 2 * rank),
        "lora_dropout": float(saved.get("lora_dropout", config.lora_dropout)),
        "lora_target_modules": targets,
    }
    return config.model_copy(update=update)


def plan_local_dpo(
    prefs: str | Path,
    model: str,
    *,
    validation: str | Path | None = None,
    config: LocalTrainConfig | None = None,
) -> DryRun:
    """The dry run of a DPO run: pairs, tokens, steps, FLOPs and memory; trains nothing."""
    config = config or LocalTrainConfig(method="dpo")
    sft = SFTModel.of(model)
    _, data, _, _ = _prepare(prefs, sft, validation, config)
    settings = _adapter_settings(sft, config)
    return estimate_file(sft.base, settings, data, examples=len(data.rows), longest=data.longest)


def _dataset(data: PreferenceData) -> Any:
    datasets = require("datasets")
    return datasets.Dataset.from_list([row.to_trl() for row in data.rows])


def build_dpo_trainer(
    sft: SFTModel,
    tokenizer: Any,
    data: PreferenceData,
    validation: PreferenceData | None,
    out: Path,
    config: LocalTrainConfig,
    max_len: int,
    *,
    progress: bool = True,
    callbacks: list[Any] | None = None,
) -> Any:
    """TRL's ``DPOTrainer`` for the run; the reference is the SFT model (module docstring)."""
    trl = require("trl")
    args = trainer_arguments(
        trl.DPOConfig,
        config,
        out,
        evaluate=validation is not None,
        progress=progress,
        beta=config.beta,
        max_length=max_len,
        precompute_ref_log_probs=False,
    )
    evaluation = None if validation is None else _dataset(validation)
    return make_trainer(
        trl.DPOTrainer,
        sft.policy(config),
        args,
        tokenizer,
        (_dataset(data), evaluation),
        callbacks=callbacks,
        progress=progress,
        ref_model=None,
    )


def train_local_dpo(
    prefs: str | Path,
    model: str,
    out: str | Path,
    *,
    validation: str | Path | None = None,
    config: LocalTrainConfig | None = None,
    progress: bool = True,
) -> LocalTrainManifest:
    """DPO-tune the SFT model ``model`` (folder or hub id) on the preference file ``prefs``.

    Returns the manifest (also in ``out/local-train-manifest.json``). Rerunning the same call
    resumes from the last checkpoint; a finished run is returned as it is; a folder holding
    another run raises ConfigError. ``config.method`` must be ``"dpo"`` (the default here).
    """
    config = config or LocalTrainConfig(method="dpo")
    if config.method != "dpo":
        config = config.model_copy(update={"method": "dpo"})
    from llmrec.finetune.local._data import require_file_kind

    require_file_kind(prefs, "dpo")
    sft = SFTModel.of(model)
    config = _adapter_settings(sft, config)  # what is trained is what is recorded
    tokenizer, data, val, max_len = _prepare(prefs, sft, validation, config)

    def build(callbacks: list[Any]) -> Any:
        return build_dpo_trainer(
            sft,
            tokenizer,
            data,
            val,
            Path(out),
            config,
            max_len,
            progress=progress,
            callbacks=callbacks,
        )

    return train_or_resume(
        out,
        build,
        model=sft.path,
        base=sft.base,
        tokenizer=tokenizer,
        config=config,
        max_len=max_len,
        train=prefs,
        data=data,
        validation=validation,
        val=val,
        reference=sft.record(),
    )

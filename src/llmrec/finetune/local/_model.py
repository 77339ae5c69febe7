"""Loading the base model and tokenizer for training, and naming the base by content."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from llmrec.errors import ConfigError
from llmrec.finetune.local._deps import require
from llmrec.finetune.local.config import LocalTrainConfig
from llmrec.local_models.fingerprint import folder_sha256

__all__ = [
    "NO_TEMPLATE_HELP",
    "base_identity",
    "check_qlora",
    "load_tokenizer",
    "lora_adapter",
    "max_positions",
    "torch_dtype",
]

NO_TEMPLATE_HELP = (
    "has no chat template, so the conversations cannot be formatted the way the model will "
    "see them; pass one: LocalTrainConfig(chat_template=JINJA_TEXT) in Python, or "
    "--chat-template FILE on the command line (for example the template of the instruct "
    "version of this model, from its tokenizer_config.json or chat_template.jinja)"
)


def base_identity(model: str) -> tuple[str, str | None, str | None]:
    """(name to record, hub revision, content hash): absolute path and hash for a folder."""
    path = Path(model)
    if path.is_dir():
        return str(path.resolve()), None, folder_sha256(path)
    transformers = require("transformers")
    config = transformers.AutoConfig.from_pretrained(model)
    return model, getattr(config, "_commit_hash", None), None


def load_tokenizer(model: str, config: LocalTrainConfig) -> Any:
    """The model's tokenizer, with ``config.chat_template`` if given and a pad token."""
    transformers = require("transformers")
    tokenizer = transformers.AutoTokenizer.from_pretrained(model)
    if config.chat_template is not None:
        tokenizer.chat_template = config.chat_template
    if not tokenizer.chat_template:
        raise ConfigError(f"the tokenizer of {model!r} {NO_TEMPLATE_HELP}")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def max_positions(model: str, tokenizer: Any) -> int:
    """The longest sequence the model takes (its config, capped by the tokenizer's limit)."""
    transformers = require("transformers")
    cfg = transformers.AutoConfig.from_pretrained(model)
    limit = int(getattr(cfg, "max_position_embeddings", 0) or 0) or 4096
    tok_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_limit, int) and 0 < tok_limit < 1_000_000:
        limit = min(limit, tok_limit)
    return limit


def check_qlora(config: LocalTrainConfig) -> None:
    """QLoRA needs CUDA and bitsandbytes: say so before anything is loaded."""
    if config.method != "qlora":
        return
    torch = require("torch")
    if not torch.cuda.is_available():
        raise ConfigError(
            "--method qlora loads the base model in 4 bits with bitsandbytes, which needs a CUDA "
            "GPU, and none is available here; use --method lora (or full for a small model)"
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError("--method qlora needs the bitsandbytes package: pip install bitsandbytes")


def torch_dtype(config: LocalTrainConfig) -> Any:
    """The training dtype: bfloat16 on a GPU that supports it when 'auto', else float32."""
    torch = require("torch")
    if config.dtype != "auto":
        return getattr(torch, config.dtype)
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def lora_adapter(config: LocalTrainConfig) -> Any:
    """The PEFT ``LoraConfig`` of a fresh adapter (rank, alpha, dropout, target modules)."""
    peft = require("peft")
    return peft.LoraConfig(
        r=config.lora_r,
        lora_alpha=config.alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.lora_target_modules,
        task_type="CAUSAL_LM",
    )

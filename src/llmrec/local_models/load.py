"""Loading a local model: a hub id, a model folder, or a LoRA adapter folder on its base.

An adapter folder (``adapter_config.json``) is loaded as its base model plus the adapter through
PEFT. The base is the one the adapter names, or ``base_model=`` when given; if both are given and
differ (by name, and by content hash when the training manifest records one) the load stops with
an error instead of producing text from a mismatched pair. A hub id that cannot be fetched (no
network, or ``HF_HUB_OFFLINE`` and not cached) fails at once (:mod:`llmrec.local_models.hub`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmrec._extras import quiet_peft, require
from llmrec.errors import ConfigError
from llmrec.local_models.fingerprint import folder_sha256
from llmrec.local_models.hub import check_hub_model

__all__ = ["LoadedModel", "load_model", "merge_adapter", "resolve_dtype"]

_MANIFEST = "local-train-manifest.json"


@dataclass
class LoadedModel:
    """A model ready to generate: network, tokenizer, and the hash naming its weights."""

    model: Any
    tokenizer: Any
    weights: str
    base: str
    adapter: str | None


def resolve_dtype(dtype: str, device: str) -> Any:
    """'auto' is bfloat16 on a CUDA GPU that has it, float16 on other GPUs, float32 on CPU."""
    torch = require("torch")
    if dtype != "auto":
        return getattr(torch, dtype)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def resolve_device(device: str) -> str:
    """'auto' is the first CUDA GPU, else Apple's MPS, else the CPU."""
    torch = require("torch")
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _same_base(adapter_dir: Path, named: str, given: str) -> bool:
    if named == given:
        return True
    given_path = Path(given)
    if given_path.is_dir() and Path(named).is_dir():
        if given_path.resolve() == Path(named).resolve():
            return True
        return folder_sha256(given_path) == folder_sha256(named)
    manifest = adapter_dir / _MANIFEST
    if given_path.is_dir() and manifest.is_file():
        recorded = json.loads(manifest.read_text(encoding="utf-8")).get("base_sha256")
        return recorded is not None and recorded == folder_sha256(given_path)
    return False


def adapter_base(folder: Path, base_model: str | None) -> str:
    """The base model of an adapter folder, checked against ``base_model`` when given."""
    named = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8")).get(
        "base_model_name_or_path"
    )
    if base_model is None:
        if not named:
            raise ConfigError(
                f"{folder}/adapter_config.json names no base model; pass base_model=..."
            )
        return str(named)
    if named and not _same_base(folder, str(named), base_model):
        raise ConfigError(
            f"the adapter in {folder} was trained on {named!r}, not on {base_model!r}; "
            "load it on its own base model (leave base_model out), or pass the matching base"
        )
    return base_model


def load_model(
    model: str | Path,
    *,
    base_model: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    chat_template: str | None = None,
) -> LoadedModel:
    """Load ``model`` for generation (see the module docstring); weights hashed for caching."""
    transformers = require("transformers")
    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    folder = Path(model)
    adapter = folder if (folder / "adapter_config.json").is_file() else None
    base = adapter_base(folder, base_model) if adapter is not None else str(model)
    check_hub_model(base)
    tok_source = (
        adapter if adapter is not None and (adapter / "tokenizer_config.json").is_file() else base
    )
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(tok_source))
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    net = transformers.AutoModelForCausalLM.from_pretrained(base, dtype=torch_dtype)
    weights = _hash(base, net)
    if adapter is not None:
        peft = require("peft")
        with quiet_peft():
            net = peft.PeftModel.from_pretrained(net, str(adapter))
        weights = f"{weights}+adapter:{folder_sha256(adapter)}"
    net.to(device)
    net.eval()
    return LoadedModel(net, tokenizer, weights, base, None if adapter is None else str(adapter))


def _hash(base: str, net: Any) -> str:
    if Path(base).is_dir():
        return f"sha256:{folder_sha256(base)}"
    commit = getattr(net.config, "_commit_hash", None)
    return f"hub:{base}@{commit}"


def merge_adapter(adapter: str | Path, out: str | Path, *, base_model: str | None = None) -> Path:
    """Write base + LoRA adapter as one set of safetensors weights (and the tokenizer) to ``out``.

    The result loads with plain ``transformers``, vLLM, or llama.cpp's ``convert_hf_to_gguf.py``.
    The base is loaded unquantized (float32 on CPU), so QLoRA adapters merge without 4-bit loss.
    """
    loaded = load_model(adapter, base_model=base_model, device="cpu", dtype="float32")
    merged = loaded.model.merge_and_unload()
    target = Path(out)
    merged.save_pretrained(target, safe_serialization=True)
    loaded.tokenizer.padding_side = "right"
    loaded.tokenizer.save_pretrained(target)
    return target

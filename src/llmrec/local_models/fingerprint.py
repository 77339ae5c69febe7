"""Content hashes of model folders, for manifests and response-cache keys.

A local folder's hash is the SHA-256 over the sorted (relative path, SHA-256 of the bytes) of its
weight, config and tokenizer files; training checkpoints and llmrec's own manifest are left out,
so the hash names what generates the text. A hub id is named by the commit of the snapshot that
was loaded (``hub:ID@COMMIT``); two runs on the same commit share cache entries.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from llmrec._io import file_sha256

__all__ = ["folder_sha256", "settings_key"]

_SUFFIXES = (".safetensors", ".bin", ".json", ".model", ".txt", ".jinja", ".tiktoken", ".gguf")
_SKIP_DIRS = ("checkpoint-", "merged", ".")
_SKIP_FILES = {"local-train-manifest.json"}


def folder_sha256(folder: str | Path) -> str:
    """Hex SHA-256 naming the model files directly in ``folder`` (not in sub-folders)."""
    root = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(root.iterdir()):
        if not path.is_file() or path.name in _SKIP_FILES or not path.name.endswith(_SUFFIXES):
            continue
        digest.update(f"{path.name}\0{file_sha256(path)}\n".encode())
    return digest.hexdigest()


def settings_key(weights: str, settings: dict[str, Any]) -> str:
    """Hex SHA-256 of a weights hash and generation settings: a response-cache key prefix."""
    payload = json.dumps({"weights": weights, "settings": settings}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()

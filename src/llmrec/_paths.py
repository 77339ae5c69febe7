"""Where llmrec keeps its caches: ``$LLMREC_CACHE_DIR``, else the user's cache folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """Return (without creating) llmrec's cache folder, or a sub-folder of it.

    ``LLMREC_CACHE_DIR`` overrides; otherwise ``$XDG_CACHE_HOME/llmrec`` (``~/.cache/llmrec``) on
    Linux, ``~/Library/Caches/llmrec`` on macOS and ``%LOCALAPPDATA%\\llmrec`` on Windows.
    """
    override = os.environ.get("LLMREC_CACHE_DIR")
    if override:
        base = Path(override)
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches" / "llmrec"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home())) / "llmrec"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "llmrec"
    return base.joinpath(*parts)

"""Paths: where llmrec keeps its caches, and how a user's path is read (``~`` expanded)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def expand_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a :class:`Path` with a leading ``~`` or ``~user`` expanded.

    Every loader passes user-given paths through this, so ``load_ratings("~/data/netflix")``
    works as written in the docs. Environment variables are not expanded.
    """
    return Path(path).expanduser()


def cache_dir(*parts: str) -> Path:
    """Return (without creating) llmrec's cache folder, or a sub-folder of it.

    ``LLMREC_CACHE_DIR`` overrides; otherwise ``$XDG_CACHE_HOME/llmrec`` (``~/.cache/llmrec``) on
    Linux, ``~/Library/Caches/llmrec`` on macOS and ``%LOCALAPPDATA%\\llmrec`` on Windows.
    """
    override = os.environ.get("LLMREC_CACHE_DIR")
    if override:
        base = expand_path(override)
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches" / "llmrec"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home())) / "llmrec"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "llmrec"
    return base.joinpath(*parts)

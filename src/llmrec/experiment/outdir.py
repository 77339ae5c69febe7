"""The experiment's output folder: made (with its parents) or refused with a clear error.

``--out`` pointing at a file, under a file, or on a read-only file system gives one
:class:`~llmrec.errors.ConfigError` naming the folder and the reason, before any stage runs.
"""

from __future__ import annotations

import os
from pathlib import Path

from llmrec._paths import expand_path
from llmrec.errors import ConfigError

__all__ = ["prepare_out_dir"]


def prepare_out_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and its parents) if needed and check that it can be written."""
    out = expand_path(path)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: cannot use as the output folder: it is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{out}: cannot create the output folder: {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename and str(exc.filename) != str(out) else "")
        ) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ConfigError(f"{out}: cannot write into the output folder: permission denied")
    return out

"""What fitting a trained backend cost: its training seconds and parameter count.

A backend that trains a model (the sequential ``sasrec`` and ``gru4rec``) reports
``log_.train_seconds`` and ``n_parameters_`` after ``fit``; the backend stage writes them next
to the recommendations or rankings (``<label>.training.json``), so a reused stage reports the
figures of the run that trained it, and :func:`read_training` puts them on the backend's entry in
``results.json``. Backends without a trained model (popularity, item-kNN, EASE, the language
models) write nothing: their entries stay as they were, and so do their bytes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from llmrec._io import write_json_atomic

if TYPE_CHECKING:
    from pathlib import Path

    from llmrec.experiment.results import BackendEntry

__all__ = ["read_training", "write_training"]


def write_training(out: Path, path: str, rec: Any) -> None:
    """Write ``rec``'s training seconds and parameter count to ``out / path``, when it has
    them (module docstring)."""
    seconds = getattr(getattr(rec, "log_", None), "train_seconds", None)
    n_parameters = getattr(rec, "n_parameters_", None)
    if seconds is None or n_parameters is None:
        (out / path).unlink(missing_ok=True)  # a record of an earlier backend of that label
        return
    write_json_atomic(
        out / path, {"train_seconds": float(seconds), "n_parameters": int(n_parameters)}
    )


def read_training(out: Path, path: str, entry: BackendEntry) -> None:
    """Copy the record at ``out / path`` (if any) onto ``entry``."""
    file = out / path
    if not file.exists():
        return
    record = json.loads(file.read_text("utf-8"))
    entry.train_seconds = record["train_seconds"]
    entry.n_parameters = record["n_parameters"]

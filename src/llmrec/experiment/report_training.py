"""The report's lines on trained backends: training seconds and parameter count."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmrec.experiment.results import DatasetResult

__all__ = ["training_lines"]


def training_lines(ds: DatasetResult) -> list[str]:
    """A table of the backends that trained a model on this truth (none: no lines)."""
    trained = [e for e in ds.backends if e.train_seconds is not None]
    if not trained:
        return []
    lines = ["Trained backends:", "", "| backend | training seconds | parameters |"]
    lines.append("|---|---|---|")
    lines += [f"| {e.label} | {e.train_seconds:.1f} | {e.n_parameters:,} |" for e in trained]
    return [*lines, ""]

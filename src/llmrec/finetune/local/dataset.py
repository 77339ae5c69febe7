"""``train_local_dataset``: train from a ``ProfileDataset`` + ``PromptTemplate`` + ``Catalog``."""

from __future__ import annotations

from pathlib import Path

from llmrec.data.catalog import Catalog
from llmrec.finetune.export import export_chat_jsonl
from llmrec.finetune.local.config import LocalTrainConfig
from llmrec.finetune.local.manifest import LocalTrainManifest
from llmrec.finetune.local.train import train_local
from llmrec.prompts.template import PromptTemplate
from llmrec.truth.dataset import ProfileDataset

__all__ = ["train_local_dataset"]


def train_local_dataset(
    dataset: ProfileDataset,
    template: PromptTemplate,
    catalog: Catalog,
    model: str,
    out: str | Path,
    *,
    validation: ProfileDataset | None = None,
    config: LocalTrainConfig | None = None,
    progress: bool = True,
) -> LocalTrainManifest:
    """Export the examples as chat JSONL into ``out/data`` (the same bytes each time), then
    :func:`~llmrec.finetune.local.train_local`."""
    folder = Path(out)
    train_file = export_chat_jsonl(dataset, template, catalog, folder / "data" / "train.jsonl")
    val_file = None
    if validation is not None:
        val_file = export_chat_jsonl(
            validation, template, catalog, folder / "data" / "validation.jsonl"
        )
    return train_local(
        train_file, model, folder, validation=val_file, config=config, progress=progress
    )

"""Shared fixtures: a tiny catalog, users, a tiny random Llama chat model, one trained copy."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip(
    "torch", reason="local models need the [train] extra (pip install llmrec[train])"
)
pytest.importorskip("trl", reason="local models need the [train] extra (pip install llmrec[train])")

from llmrec.data.catalog import Catalog
from llmrec.finetune.export import export_chat_jsonl
from llmrec.prompts import PromptTemplate
from llmrec.truth.dataset import ProfileDataset

# The study's prompt asking for 5 movies; about 210 tokens an example.
TEMPLATE = PromptTemplate(n_recommendations=5)
FAST = {
    "method": "full",
    "learning_rate": 2e-3,
    "lr_scheduler": "constant",
    "warmup_ratio": 0.0,
    "batch_size": 8,
    "per_device_batch_size": 8,
    "epochs": 30,
}


@pytest.fixture(scope="session")
def tiny_data() -> tuple[Catalog, ProfileDataset]:
    from llmrec.testing.tiny_model import tiny_dataset

    return tiny_dataset(48, 200, profile_len=10, gold_len=5, seed=0)


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory, tiny_data: tuple) -> Path:
    from llmrec.testing.tiny_model import build_tiny_model

    catalog, _ = tiny_data
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", catalog, template=TEMPLATE)


@pytest.fixture(scope="session")
def train_file(tmp_path_factory: pytest.TempPathFactory, tiny_data: tuple) -> Path:
    catalog, dataset = tiny_data
    return export_chat_jsonl(
        dataset, TEMPLATE, catalog, tmp_path_factory.mktemp("data") / "train.jsonl"
    )


@pytest.fixture(scope="session")
def trained_full(tmp_path_factory: pytest.TempPathFactory, tiny_folder: Path, train_file: Path):
    from llmrec.finetune.local import LocalTrainConfig, train_local

    out = tmp_path_factory.mktemp("runs") / "full"
    manifest = train_local(
        train_file, str(tiny_folder), out, config=LocalTrainConfig(**FAST), progress=False
    )
    return out, manifest

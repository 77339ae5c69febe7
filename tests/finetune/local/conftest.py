"""Shared fixtures: a tiny catalog, users, a tiny random Llama chat model, one trained copy."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
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
def private_dir() -> Iterator[Path]:
    """A folder of our own: pytest's shared basetemp is pruned by other pytest processes on a
    shared machine, which removed a model folder under a minutes-long training run."""
    folder = Path(tempfile.mkdtemp(prefix="llmrec-local-tests-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_data() -> tuple[Catalog, ProfileDataset]:
    from llmrec.testing.tiny_model import tiny_dataset

    return tiny_dataset(48, 200, profile_len=10, gold_len=5, seed=0)


@pytest.fixture(scope="session")
def tiny_folder(private_dir: Path, tiny_data: tuple) -> Path:
    from llmrec.testing.tiny_model import build_tiny_model

    catalog, _ = tiny_data
    return build_tiny_model(private_dir / "tiny", catalog, template=TEMPLATE)


@pytest.fixture(scope="session")
def train_file(private_dir: Path, tiny_data: tuple) -> Path:
    catalog, dataset = tiny_data
    return export_chat_jsonl(dataset, TEMPLATE, catalog, private_dir / "train.jsonl")


@pytest.fixture(scope="session")
def trained_full(private_dir: Path, tiny_folder: Path, train_file: Path):
    from llmrec.finetune.local import LocalTrainConfig, train_local

    out = private_dir / "full"
    manifest = train_local(
        train_file, str(tiny_folder), out, config=LocalTrainConfig(**FAST), progress=False
    )
    return out, manifest

"""export_chat_jsonl: dataset → chat JSONL → validator, round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.data import Catalog
from llmrec.errors import DataFormatError
from llmrec.finetune.export import export_chat_jsonl
from llmrec.finetune.validate import validate_chat_jsonl
from llmrec.prompts import PromptTemplate, parse_response
from llmrec.truth import Example, ProfileDataset

TITLES = [
    ("Twister", 1996),
    ("Twister", 1989),
    ("The Patriot", 2000),
    ("Amélie", 2001),
    ("Café Society", 2016),
    ("Pride & Prejudice", 2005),
    ("Crouching Tiger, Hidden Dragon", 2000),
    ("Heat", 1995),
    ("Alien", 1979),
    ("Ronin", 1998),
    ("Lost in Translation", 2003),
    ("Spirited Away", 2001),
    ("Fargo", 1996),
    ("Se7en", 1995),
    ("Unknown Year Film", None),
]
CATALOG = Catalog.from_mapping({i + 1: t for i, t in enumerate(TITLES)})


def make_dataset(n: int, seed: int = 0) -> ProfileDataset:
    rng = np.random.default_rng(seed)
    examples = []
    for u in range(n):
        ids = rng.permutation(np.arange(1, len(TITLES) + 1))
        examples.append(Example(100 + u, tuple(ids[:5].tolist()), tuple(ids[5:12].tolist()), 3))
    return ProfileDataset(examples, {"name": "toy"})


@pytest.mark.parametrize("fmt", ["numbered", "json"])
def test_round_trip_is_clean(tmp_path: Path, fmt: str) -> None:
    dataset = make_dataset(12)
    template = PromptTemplate(output_format=fmt)  # type: ignore[arg-type]
    path = export_chat_jsonl(dataset, template, CATALOG, tmp_path / "train.jsonl")
    raw = path.read_text(encoding="utf-8")
    assert "Amélie" in raw or "Café" in raw  # written as UTF-8, not \u escapes
    lines = raw.splitlines()
    assert len(lines) == len(dataset)
    for line, example in zip(lines, dataset, strict=True):
        record = json.loads(line)
        assert record == template.training_example(example.profile, example.gold, CATALOG)
        parsed = parse_response(record["messages"][2]["content"])
        expected = [(CATALOG.title(m), CATALOG.year(m)) for m in example.gold]
        assert [(i.title, i.year) for i in parsed.items] == expected
    report = validate_chat_jsonl(path)
    assert report.ok, str(report)
    assert report.n_examples == 12


def test_failed_export_leaves_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    export_chat_jsonl(make_dataset(10), PromptTemplate(), CATALOG, path)
    before = path.read_bytes()
    broken = ProfileDataset([*make_dataset(3).examples, Example(9, (1, 2), (999,), 1)])
    with pytest.raises(DataFormatError, match=r"user 9.*999"):
        export_chat_jsonl(broken, PromptTemplate(), CATALOG, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["train.jsonl"]


def test_empty_gold_is_refused(tmp_path: Path) -> None:
    dataset = ProfileDataset([Example(1, (1, 2), (), 0)])
    with pytest.raises(DataFormatError, match="user 1 has an empty gold"):
        export_chat_jsonl(dataset, PromptTemplate(), CATALOG, tmp_path / "x.jsonl")


@given(st.integers(0, 10_000), st.sampled_from(["numbered", "json"]), st.booleans())
def test_any_dataset_round_trips(seed: int, fmt: str, include_year: bool) -> None:
    import tempfile

    template = PromptTemplate(output_format=fmt, include_year=include_year)  # type: ignore[arg-type]
    dataset = make_dataset(10, seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = export_chat_jsonl(dataset, template, CATALOG, Path(tmp) / "t.jsonl")
        assert validate_chat_jsonl(path).ok
        records = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert [r["messages"][1]["content"] for r in records] == [
        template.user_text(e.profile, CATALOG) for e in dataset
    ]

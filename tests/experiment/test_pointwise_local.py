"""The pointwise protocol with a local model: a tiny random-weight model (built offline, its
tokenizer trained on the catalog and TALLRec's prompt) scores P(Yes) on a TALLRec truth's test
rows inside ``llmrec reproduce``, the same values ``tallrec.score`` reads outside it."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="local models need the [train] extra")
pytest.importorskip("transformers", reason="local models need the [train] extra")

from llmrec.data import netflix
from llmrec.data.synthetic import ensure_synthetic
from llmrec.experiment import ExperimentConfig, Results, run
from llmrec.metrics import auc
from llmrec.prompts import TALLREC_INSTRUCTION
from llmrec.protocols import tallrec
from llmrec.recommenders.transformers_backend import TransformersRecommender

DATA = {"kind": "synthetic", "n_users": 300, "n_movies": 800, "n_ratings": 9_000, "seed": 2}


@pytest.mark.slow  # loads a local model and trains SASRec for an epoch
def test_a_local_model_scores_p_yes_in_the_experiment(tmp_path: Path) -> None:
    from llmrec.testing.tiny_model import build_tiny_model

    folder = ensure_synthetic(n_users=300, n_movies=800, n_ratings=9_000, seed=2, progress=False)
    ratings = netflix.load_ratings(folder)
    catalog = netflix.load_titles(folder / "movie_titles.csv")
    test = tallrec.build(ratings, catalog, window=5, last=500).test
    rows = test.to_alpaca()
    texts = [TALLREC_INSTRUCTION, "Yes.", "No.", *(r["input"] for r in rows)]
    model = build_tiny_model(tmp_path / "tiny", catalog, extra_texts=texts)
    config = ExperimentConfig.model_validate(
        {
            "data": DATA,
            "truth": {"tr": {"kind": "tallrec", "window": 5, "last": 500}},
            "truth_replace": True,
            "n_bootstrap": 20,
            "backends": [
                {"name": "popularity"},
                {"name": "transformers", "label": "tiny", "config": {"model": str(model)}},
                {"name": "sasrec", "config": {"epochs": 1, "device": "cpu", "hidden_size": 16}},
            ],
        }
    )
    result = run(config, tmp_path / "out", progress=False)
    p = Results.from_json_dict(result.results).datasets["tr"].pointwise
    assert p is not None and p.backends["tiny"].scorer == "likelihood"
    with open(tmp_path / "out" / p.backends["tiny"].file, encoding="utf-8") as fh:
        stored = np.asarray([float(r["score"]) for r in csv.DictReader(fh)])
    outside = TransformersRecommender(model=str(model), cache=tmp_path / "own.sqlite")
    want = tallrec.score(outside.fit(ratings, catalog), rows)
    assert np.allclose(stored, want, rtol=0, atol=1e-6)
    assert p.backends["tiny"].auc.mean == pytest.approx(auc(test.liked, stored), abs=1e-12)
    assert p.comparisons is not None
    assert set(p.comparisons) == {"tiny vs popularity", "sasrec vs popularity", "sasrec vs tiny"}
    # a sequential backend scores the target after the row's history (issue 22, item 3)
    sasrec = p.backends["sasrec"]
    assert sasrec.scorer == "target score" and sasrec.auc.mean is not None
    with open(tmp_path / "out" / sasrec.file, encoding="utf-8") as fh:
        assert len([r for r in csv.DictReader(fh) if np.isfinite(float(r["score"]))]) == 50
    assert run(config, tmp_path / "out", progress=False).ran == []

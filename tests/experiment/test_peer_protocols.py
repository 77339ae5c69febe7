"""The peers' protocols as truth kinds of ``llmrec reproduce``: ``next_item`` (leave-one-out,
the stored 1 + 19 candidate sets ranked by every backend, HR/NDCG/MRR), ``tallrec`` (TALLRec's
files built exactly) and full ranking that excludes the user's history (``exclude_history``).
The language model is the official SDK against ``LocalOpenAIServer``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmrec.data import netflix
from llmrec.data.synthetic import ensure_synthetic
from llmrec.experiment import ExperimentConfig, Results, run
from llmrec.experiment.stages.candidates import NEXT_ITEM_METRICS
from llmrec.protocols import next_item, tallrec
from llmrec.testing import LocalOpenAIServer
from llmrec.truth import CandidateSets

DATA = {"kind": "synthetic", "n_users": 300, "n_movies": 800, "n_ratings": 9_000, "seed": 2}
NEXT = {"kind": "next_item", "history": 5, "seed": 3}


def _ratings() -> Any:
    folder = ensure_synthetic(n_users=300, n_movies=800, n_ratings=9_000, seed=2, progress=False)
    return netflix.load_ratings(folder), netflix.load_titles(folder / "movie_titles.csv")


def in_shown_order(body: dict[str, Any]) -> str:
    """Ranks the candidates in the order shown (a position-biased model)."""
    user = body["messages"][-1]["content"]
    lines = user.split("\nCandidate movies")[1].splitlines()[1:]
    shown = [line.split(". ", 1)[1] for line in lines if ". " in line]
    return "\n".join(f"{i}. {title}" for i, title in enumerate(shown, 1))


def _config(truths: dict[str, Any], base_url: str | None = None, **extra: Any) -> Any:
    backends: list[dict[str, Any]] = [{"name": "popularity"}, {"name": "itemknn"}]
    if base_url is not None:
        backends.append({"name": "openai-zero-shot", "label": "zero-shot"})
    return ExperimentConfig.model_validate(
        {
            "data": DATA,
            "truth": truths,
            "truth_replace": True,
            "metrics": ["precision@5", "ndcg@10"],
            "n_bootstrap": 20,
            "base_url": base_url,
            "free": base_url is not None,
            "backends": backends,
            **extra,
        }
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("next_item")
    with LocalOpenAIServer(in_shown_order) as server:
        result = run(_config({"next": NEXT}, server.base_url), out, progress=False)
        again = run(_config({"next": NEXT}, server.base_url), out, progress=False)
        chats = sum(r.path.endswith("/chat/completions") for r in server.requests)
    return out, result, again, chats


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_every_backend_ranks_the_stored_next_item_sets(finished: Any) -> None:
    out, result, _, _ = finished
    ratings, _ = _ratings()
    built = next_item.build(ratings, history=5, seed=3)
    stored = CandidateSets.load(out / "truth" / "next.candidates.jsonl")
    assert stored.fingerprint() == built.candidates.fingerprint()
    doc = Results.from_json_dict(json.loads((out / "results.json").read_text("utf-8")))
    ds = doc.datasets["next"]
    assert ds.kind == "next_item" and ds.ranking is not None
    assert ds.ranking.metrics == list(NEXT_ITEM_METRICS)
    assert set(ds.ranking.backends) == {"popularity", "itemknn", "zero-shot"}
    test_users = [r["user_id"] for r in _rows(out / "truth/next.test.jsonl")]
    shown: dict[str, dict[int, list[int]]] = {}
    for label in ds.ranking.backends:
        rows = _rows(out / "ranks" / "next" / f"{label}.r0.jsonl")
        shown[label] = {r["user_id"]: r["candidates"] for r in rows}
        assert sorted(shown[label]) == sorted(test_users)
        for r in rows:  # one target among 20 stored candidates
            assert sorted(r["candidates"]) == sorted(built.candidates[r["user_id"]])
    assert shown["popularity"] == shown["itemknn"] == shown["zero-shot"]
    assert result.results["datasets"]["next"]["ranking"]["n_candidates"] == 20


def test_next_item_scores_equal_a_brute_force_recomputation(finished: Any) -> None:
    out, result, _, _ = finished
    targets = {r["user_id"]: r["gold"][0] for r in _rows(out / "truth/next.test.jsonl")}
    backends = result.results["datasets"]["next"]["ranking"]["backends"]
    for label, scores in backends.items():
        rows = _rows(out / "ranks" / "next" / f"{label}.r0.jsonl")
        ranks = [
            r["movie_ids"].index(targets[r["user_id"]]) + 1
            if targets[r["user_id"]] in r["movie_ids"]
            else None
            for r in rows
        ]
        hit10 = np.mean([x is not None and x <= 10 for x in ranks])
        mrr10 = np.mean([1 / x if x is not None and x <= 10 else 0.0 for x in ranks])
        ndcg10 = np.mean(
            [1 / math.log2(x + 1) if x is not None and x <= 10 else 0.0 for x in ranks]
        )
        assert scores["strict"]["hit@10"]["mean"] == pytest.approx(hit10)
        assert scores["strict"]["mrr@10"]["mean"] == pytest.approx(mrr10)
        assert scores["strict"]["ndcg@10"]["mean"] == pytest.approx(ndcg10)


def test_classic_backends_fit_on_the_history_only(finished: Any) -> None:
    _, result, _, _ = finished
    ratings, _ = _ratings()
    fitting = result.results["datasets"]["next"]["fitting"]
    n_test = result.results["datasets"]["next"]["n_test"]
    assert fitting["rule"] == "history"
    assert fitting["n_ratings"] == len(ratings) - n_test  # every rating but the test targets


def test_a_rerun_reuses_everything_and_asks_nothing(finished: Any) -> None:
    _, result, again, chats = finished
    assert again.ran == []
    assert chats == result.results["datasets"]["next"]["n_test"]  # one request per user, once


def test_full_ranking_can_leave_out_the_users_history(tmp_path: Path) -> None:
    truth = {"kind": "last_n", "n": 2, "n_users": 40, "exclude_history": True}
    result = run(_config({"last": truth}), tmp_path, progress=False)
    ratings, _ = _ratings()
    gold = {r["user_id"]: r["gold"] for r in _rows(tmp_path / "truth/last.test.jsonl")}
    fitting_pairs = set(zip(ratings.user_id.tolist(), ratings.movie_id.tolist(), strict=True))
    for label in ("popularity", "itemknn"):
        rows = _rows(tmp_path / "recs" / "last" / f"{label}.jsonl")
        assert len(rows) == len(gold)
        for r in rows:
            seen = {m for (u, m) in fitting_pairs if u == r["user_id"]} - set(gold[r["user_id"]])
            assert not seen & set(r["movie_ids"])
            assert len(r["movie_ids"]) == 10
    saved = json.loads((tmp_path / "config.json").read_text())["truth"]["last"]
    assert saved["exclude_history"] is True and "n_candidates" not in saved
    assert result.results["datasets"]["last"]["metrics"]


def test_exclude_history_leaves_other_configs_unchanged() -> None:
    plain = _config({"last": {"kind": "last_n", "n": 2}})
    assert "exclude_history" not in json.loads(plain.to_json())["truth"]["last"]
    with pytest.raises(ValueError, match="exclude_history is for ranking = 'full'"):
        _config({"next": {**NEXT, "exclude_history": True}})


def test_tallrec_files_are_built_exactly_and_scored(tmp_path: Path) -> None:
    truth = {"kind": "tallrec", "window": 5, "last": 500}
    result = run(_config({"tr": truth}), tmp_path, progress=False)
    ratings, catalog = _ratings()
    want = tallrec.build(ratings, catalog, window=5, last=500)
    for part in want:
        assert (tmp_path / "tallrec" / "tr" / f"{part.name}.json").read_text() == part.to_json()
    ds = result.results["datasets"]["tr"]
    assert (ds["n_train"], ds["n_val"], ds["n_test"]) == (400, 50, 50)
    report = (tmp_path / "report.md").read_text()
    assert "TALLRec's pointwise yes/no task" in report and "Pointwise scoring" in report
    assert set(ds["pointwise"]["backends"]) == {"popularity", "itemknn"}  # the target's score
    assert run(_config({"tr": truth}), tmp_path, progress=False).ran == []

"""The pointwise protocol in ``llmrec reproduce``: every backend scored on a TALLRec truth's test
rows (P(Yes) for a language model that reads log-probabilities, the target's score for a
classic recommender), AUC and gAUC with intervals, paired tests, resumable without paying twice.
The language model is the official SDK against ``LocalOpenAIServer``."""

from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmrec.data import netflix
from llmrec.data.synthetic import ensure_synthetic
from llmrec.experiment import ExperimentConfig, Results, run
from llmrec.experiment.stages.pointwise import fitting_without_targets
from llmrec.metrics import auc, gauc
from llmrec.protocols import tallrec
from llmrec.testing import LocalOpenAIServer

DATA = {"kind": "synthetic", "n_users": 300, "n_movies": 800, "n_ratings": 9_000, "seed": 2}
TRUTH = {"tr": {"kind": "tallrec", "window": 5, "last": 500}}


def _unit(text: str, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}:{text}".encode()).digest()
    return (int.from_bytes(digest[:4], "big") + 1) / (2**32 + 1)


def top_tokens(body: dict[str, Any]) -> dict[str, float]:
    """The first answer token's alternatives, scripted from the question."""
    q = body["messages"][-1]["content"]
    return {"Yes": math.log(0.6 * _unit(q, "yes")), "No": math.log(0.3 * _unit(q, "no"))}


def _config(base_url: str, **extra: Any) -> ExperimentConfig:
    backends = [
        {"name": "popularity"},
        {"name": "itemknn"},
        {"name": "openai-zero-shot", "label": "zero-shot"},
        {"name": "openai-zero-shot", "label": "batch", "config": {"batch": True}},
    ]
    return ExperimentConfig.model_validate(
        {
            "data": DATA,
            "truth": TRUTH,
            "truth_replace": True,
            "n_bootstrap": 50,
            "base_url": base_url,
            "free": True,
            "backends": backends,
            **extra,
        }
    )


def _test_set() -> tallrec.TallRecSet:
    folder = ensure_synthetic(n_users=300, n_movies=800, n_ratings=9_000, seed=2, progress=False)
    ratings = netflix.load_ratings(folder)
    catalog = netflix.load_titles(folder / "movie_titles.csv")
    return tallrec.build(ratings, catalog, window=5, last=500).test


def _scores(path: Path) -> np.ndarray:
    with open(path, encoding="utf-8") as fh:
        return np.asarray([float(r["score"]) for r in csv.DictReader(fh)])


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("pointwise")
    with LocalOpenAIServer(lambda body: "Yes", logprobs=top_tokens) as server:
        result = run(_config(server.base_url), out, progress=False)
        first = len(server.requests)
        again = run(_config(server.base_url), out, progress=False)
        # a run killed after its answers arrived, before the scores were written: nothing paid
        (out / "tallrec" / "tr" / "scores" / "zero-shot.csv").unlink()
        resumed = run(_config(server.base_url), out, progress=False)
        requests = (first, len(server.requests))
    return out, result, again, resumed, requests


def test_every_backend_that_can_score_is_read_by_auc(finished: Any) -> None:
    out, result, _, _, (first, _) = finished
    test = _test_set()
    ds = Results.from_json_dict(result.results).datasets["tr"]
    p = ds.pointwise
    assert p is not None and p.n_rows == len(test) == 50
    assert list(p.backends) == ["popularity", "itemknn", "zero-shot"]
    assert p.backends["zero-shot"].scorer == "likelihood"
    assert p.backends["itemknn"].scorer == "target score"
    assert first == len(test)  # one prompt-only request per row
    skipped = {e.label: e.skipped for e in ds.backends}
    assert "cannot score likelihoods" in str(skipped["batch"])
    assert skipped["zero-shot"] is None
    labels = test.liked
    for b in p.backends.values():
        scores = _scores(out / b.file)
        assert b.auc.mean == pytest.approx(auc(labels, scores), abs=1e-12)
        assert b.gauc.mean == pytest.approx(gauc(test.user_id, labels, scores), abs=1e-12)
        assert b.auc.ci_low is not None and b.auc.ci_low <= b.auc.mean <= b.auc.ci_high
    # P(Yes) is TALLRec's rule on the log-probabilities the server served
    served = [top_tokens({"messages": tallrec.chat_messages(r)}) for r in test.to_alpaca()]
    p_yes, p_no = (np.exp([s[k] for s in served]) for k in ("Yes", "No"))
    want = np.exp(p_yes) / (np.exp(p_yes) + np.exp(p_no))
    assert np.allclose(_scores(out / p.backends["zero-shot"].file), want, rtol=0, atol=1e-12)


def test_a_classic_backend_scores_the_target_after_the_history(finished: Any) -> None:
    out, result, _, _, _ = finished
    from llmrec.recommenders.popularity import PopularityConfig

    test = _test_set()
    folder = ensure_synthetic(n_users=300, n_movies=800, n_ratings=9_000, seed=2, progress=False)
    fitting = fitting_without_targets(netflix.load_ratings(folder), test)
    held = set(zip(test.user_id.tolist(), test.target.tolist(), strict=True))
    pairs = zip(fitting.user_id.tolist(), fitting.movie_id.tolist(), strict=True)
    assert not held & set(pairs)  # no test target in what the backends were fitted on
    five_star = PopularityConfig().by == "five_star"
    movies = fitting.movie_id[fitting.rating == 5] if five_star else fitting.movie_id
    counts = dict(zip(*np.unique(movies, return_counts=True), strict=True))
    known = set(fitting.movie_id.tolist())
    want = [float(counts.get(t, 0)) if t in known else -1.0 for t in test.target.tolist()]
    ds = Results.from_json_dict(result.results).datasets["tr"]
    assert ds.pointwise is not None
    assert ds.pointwise.fitting_ratings == len(fitting)
    assert _scores(out / ds.pointwise.backends["popularity"].file).tolist() == want


def test_paired_tests_between_every_two_backends_with_adjusted_p(finished: Any) -> None:
    _, result, _, _, _ = finished
    p = Results.from_json_dict(result.results).datasets["tr"].pointwise
    assert p is not None and p.comparisons is not None and p.p_adjust == "holm"
    assert set(p.comparisons) == {
        "itemknn vs popularity",
        "zero-shot vs popularity",
        "zero-shot vs itemknn",
    }
    for comp in p.comparisons.values():
        cell = comp["results"]["gauc"]
        assert 0 <= cell["t_pvalue"] <= cell["t_pvalue_adj"] <= 1
        a, b = p.backends[comp["a"]], p.backends[comp["b"]]
        assert a.gauc.mean is not None and b.gauc.mean is not None
        assert cell["diff"] == pytest.approx(a.gauc.mean - b.gauc.mean, abs=1e-12)
        pooled = comp["auc"]  # the pooled AUC, paired user bootstrap
        assert a.auc.mean is not None and b.auc.mean is not None
        assert pooled["diff"] == pytest.approx(a.auc.mean - b.auc.mean, abs=1e-12)
        assert pooled["ci_low"] <= pooled["diff"] <= pooled["ci_high"]
        assert 0 < pooled["pvalue"] <= pooled["pvalue_adj"] <= 1


def test_the_report_shows_the_scores_and_the_skipped_backend(finished: Any) -> None:
    out, _, _, _, _ = finished
    report = (out / "report.md").read_text("utf-8")
    assert "Pointwise scoring of the 50 test rows" in report
    assert "| zero-shot | P(Yes) |" in report and "| itemknn | target score |" in report
    assert "Paired tests between backends on the per-user AUCs" in report
    assert "The pooled AUC, paired" in report and "| zero-shot vs itemknn |" in report
    assert "`batch` skipped: cannot score likelihoods" in report
    assert "Not scored in this run" not in report


def test_a_rerun_reuses_everything_and_a_kill_pays_nothing_twice(finished: Any) -> None:
    _, result, again, resumed, (first, total) = finished
    assert again.ran == []
    assert resumed.ran == ["score:tr:zero-shot"]
    assert total == first  # the killed run's answers came from the response cache
    assert again.results["datasets"]["tr"] == result.results["datasets"]["tr"]
    assert resumed.results["datasets"]["tr"] == result.results["datasets"]["tr"]


def test_a_dry_run_prices_the_likelihood_requests(tmp_path: Path) -> None:
    with LocalOpenAIServer(lambda body: "Yes", logprobs=top_tokens) as server:
        result = run(_config(server.base_url), tmp_path, progress=False, dry_run=True)
        assert server.requests == []
    lines = [line for line in result.plan if "scores P(Yes) on tr" in line.step]
    assert [(line.requests, line.will_run) for line in lines] == [(50, True)]  # zero-shot
    entries = {e["label"]: e for e in result.results["datasets"]["tr"]["backends"]}
    assert entries["zero-shot"]["planned"] is True
    assert "pointwise" not in result.results["datasets"]["tr"]


def test_an_interrupted_run_pays_only_for_what_did_not_arrive(tmp_path: Path) -> None:
    from llmrec.errors import BackendError

    failing = {"on": True}
    test = _test_set()
    broken = {r["input"] for r in test.to_alpaca()[10:13]}

    def flaky(body: dict[str, Any]) -> dict[str, float]:
        if failing["on"] and body["messages"][-1]["content"] in broken:
            raise RuntimeError("the server went away")
        return top_tokens(body)

    backends = [
        {"name": "popularity"},
        {"name": "openai-zero-shot", "label": "zero-shot", "config": {"max_retries": 0}},
    ]
    with LocalOpenAIServer(lambda body: "Yes", logprobs=flaky) as server:
        config = _config(server.base_url).model_copy(
            update={"backends": ExperimentConfig.model_validate({"backends": backends}).backends}
        )
        with pytest.raises(BackendError, match="failed for likelihood"):
            run(config, tmp_path, progress=False)
        first = len(server.requests)
        failing["on"] = False
        result = run(config, tmp_path, progress=False)
        again = len(server.requests) - first
    assert first == 50 and again == 3  # only the three that failed are asked again
    p = Results.from_json_dict(result.results).datasets["tr"].pointwise
    assert p is not None and p.backends["zero-shot"].n_rows == 50


def test_a_backend_without_credentials_is_priced_and_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    config = ExperimentConfig.model_validate(
        {
            "data": DATA,
            "truth": TRUTH,
            "truth_replace": True,
            "n_bootstrap": 20,
            "backends": [{"name": "popularity"}, {"name": "openai-zero-shot", "label": "zs"}],
        }
    )
    result = run(config, tmp_path, progress=False)
    line = next(line for line in result.plan if "zs scores P(Yes)" in line.step)
    assert line.requests == 50 and line.will_run is False and line.usd is not None
    entry = next(e for e in result.results["datasets"]["tr"]["backends"] if e["label"] == "zs")
    assert "OPENAI_API_KEY" in entry["skipped"] and entry["estimated_cost_usd"] == line.usd
    assert list(result.results["datasets"]["tr"]["pointwise"]["backends"]) == ["popularity"]

"""``ranking = "candidates"`` per truth (issue 15, item 5): candidate sets as a stage, every
backend's ``rank_many`` on the same sets (the language model through the official SDK against
``LocalOpenAIServer``, priced in the run's budget), HR/NDCG over candidates, strict and
valid-only side by side, repeats with the top-1 flip rate; ``"full"`` truths unchanged.

The fake model is position-biased: it ranks the candidates in the order shown, and for some
orders it names a movie that is not a candidate (an invalid answer)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmrec.data import netflix
from llmrec.data.synthetic import ensure_synthetic
from llmrec.errors import BudgetExceededError, ConfigError
from llmrec.experiment import ExperimentConfig, Results, run
from llmrec.experiment.candidates import RANKING_METRICS
from llmrec.testing import LocalOpenAIServer
from llmrec.truth import CandidateSets, LastNConfig, ProfileDataset

DATA = {"kind": "synthetic", "n_users": 800, "n_movies": 1000, "n_ratings": 30_000, "seed": 5}
SPLIT = {"train": 0.5, "val": 0.2, "test": 0.3, "seed": 0}
LAST = {"kind": "last_n", "n": 3, "n_users": 150}
TRUTHS: dict[str, dict[str, Any]] = {
    # three orders, uniform negatives
    "last": {**LAST, "ranking": "candidates", "n_candidates": 12, "repeats": 3},
    # the study's neighbour truth, popularity negatives, one order, at most 3 positives
    "nb": {
        "n_users": 150,
        "ranking": "candidates",
        "n_candidates": 15,
        "negatives": "popularity",
        "max_positives": 3,
        "candidate_seed": 7,
    },
    "full": dict(LAST),
}
BACKENDS = [
    {"name": "popularity"},
    {"name": "itemknn"},
    {"name": "openai-zero-shot", "label": "zero-shot"},
]
CHAT = "/v1/chat/completions"


def fake_model(body: dict[str, Any]) -> str:
    """Ranks the candidates in the order shown; some orders get an answer naming no candidate."""
    user = body["messages"][-1]["content"]
    if "Candidate movies" not in user:
        return "1. Nothing Like It (1901)"  # a full-catalogue prompt
    lines = user.split("\nCandidate movies")[1].splitlines()[1:]
    shown = [line.split(". ", 1)[1] for line in lines if ". " in line]
    if sum(map(ord, shown[0])) % 4 == 0:
        return "1. Nowhere To Be Found (1901)\n2. Not A Candidate (1902)"
    return "\n".join(f"{i}. {title}" for i, title in enumerate(shown, 1))


def _config(base_url: str | None, truths: dict[str, Any] = TRUTHS, **extra: Any) -> Any:
    return ExperimentConfig.model_validate(
        {
            "data": DATA,
            "truth": truths,
            "truth_replace": True,
            "split": SPLIT,
            "metrics": ["precision@5", "ndcg@10"],
            "n_bootstrap": 50,
            "base_url": base_url,
            "free": True,
            "backends": BACKENDS,
            **extra,
        }
    )


def _chats(srv: LocalOpenAIServer) -> int:
    return sum(r.path.endswith(CHAT) for r in srv.requests)


@pytest.fixture(scope="module")
def server() -> Any:
    with LocalOpenAIServer(fake_model) as srv:
        yield srv


@pytest.fixture(scope="module")
def finished(server: LocalOpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("candidates")
    server.clear_requests()
    result = run(_config(server.base_url), out, progress=False)
    return out, result, _chats(server)


def _doc(out: Path) -> Results:
    return Results.from_json_dict(json.loads((out / "results.json").read_text("utf-8")))


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


# -- brute force ------------------------------------------------------------------------------
def _hit(ranked: list[int], pos: set[int], k: int) -> float:
    return float(any(m in pos for m in ranked[:k]))


def _ndcg(ranked: list[int], pos: set[int], k: int) -> float:
    dcg = sum(1 / math.log2(j + 2) for j, m in enumerate(ranked[:k]) if m in pos)
    idcg = sum(1 / math.log2(j + 2) for j in range(min(len(pos), k)))
    return dcg / idcg


def _score(metric: str, ranked: list[int], pos: set[int]) -> float:
    name, k = metric.split("@")
    return (_hit if name == "hit" else _ndcg)(ranked, pos, int(k))


def _valid(row: dict[str, Any]) -> bool:
    return bool(row["movie_ids"]) and "failed" not in row["diagnostics"]


def test_metrics_equal_a_brute_force_recomputation(finished: Any) -> None:
    out, _, _ = finished
    doc = _doc(out)
    seen_invalid = False
    for name in ("last", "nb"):
        ranking = doc.datasets[name].ranking
        assert ranking is not None and ranking.metrics == list(RANKING_METRICS)
        sets = CandidateSets.load(out / ranking.candidates_file)
        assert ranking.fingerprint == sets.fingerprint()
        test = ProfileDataset.load(out / f"truth/{name}.test.jsonl")
        assert sets.user_ids == sorted(test.user_ids) and ranking.n_users == len(test)
        assert set(ranking.backends) == {"popularity", "itemknn", "zero-shot"}
        for backend in ranking.backends.values():
            assert len(backend.files) == ranking.repeats == len(backend.per_repeat)
            per_repeat_strict: dict[str, list[float]] = {m: [] for m in RANKING_METRICS}
            for r, rel in enumerate(backend.files):
                rows = _rows(out / rel)
                assert [row["user_id"] for row in rows] == test.user_ids
                strict = {m: 0.0 for m in RANKING_METRICS}
                valid_sum = {m: 0.0 for m in RANKING_METRICS}
                n_valid = 0
                for row in rows:
                    u = row["user_id"]
                    assert sorted(row["candidates"]) == sorted(sets[u])  # the same set, any order
                    if r == 0:
                        assert tuple(row["candidates"]) == sets[u]  # repeat 0: sampled order
                    assert set(row["movie_ids"]) <= set(sets[u])
                    pos = set(sets.positives(u))
                    if not _valid(row):
                        seen_invalid = True
                        continue
                    n_valid += 1
                    for m in RANKING_METRICS:
                        value = _score(m, row["movie_ids"], pos)
                        strict[m] += value
                        valid_sum[m] += value
                rep = backend.per_repeat[r]
                assert rep.n_valid == n_valid
                assert rep.validity_rate == pytest.approx(n_valid / len(rows))
                for m in RANKING_METRICS:
                    assert rep.strict[m] == pytest.approx(strict[m] / len(rows))
                    per_repeat_strict[m].append(strict[m] / len(rows))
                    if n_valid:
                        assert rep.valid_only[m] == pytest.approx(valid_sum[m] / n_valid)
            for m in RANKING_METRICS:  # the headline: mean over the repeats
                assert backend.strict[m].mean == pytest.approx(np.mean(per_repeat_strict[m]))
            expected = "t over repeats" if ranking.repeats > 1 else "bootstrap over users"
            assert backend.interval == expected
    assert seen_invalid  # the fake model's non-candidate answers were scored as invalid


def test_strict_and_valid_only_differ_only_by_invalid_answers(finished: Any) -> None:
    out, _, _ = finished
    ranking = _doc(out).datasets["nb"].ranking
    assert ranking is not None
    llm = ranking.backends["zero-shot"]
    assert llm.validity_rate is not None and 0 < llm.validity_rate < 1
    assert llm.llm is not None and llm.llm["invalid_answers"] > 0
    for m in RANKING_METRICS:
        strict, valid = llm.strict[m].mean, llm.valid_only[m].mean
        assert strict is not None and valid is not None
        assert strict == pytest.approx(valid * llm.validity_rate)  # invalid answers are misses
    for label in ("popularity", "itemknn"):  # classic backends always answer
        assert ranking.backends[label].validity_rate == 1.0
        assert ranking.backends[label].llm is None
        for m in RANKING_METRICS:
            assert ranking.backends[label].strict[m] == ranking.backends[label].valid_only[m]


def test_candidate_sets_follow_the_truth_settings(finished: Any) -> None:
    out, _, _ = finished
    folder = ensure_synthetic(n_users=800, n_movies=1000, n_ratings=30_000, seed=5)
    ratings = netflix.load_ratings(folder)
    for name, size, cap in (("last", 12, None), ("nb", 15, 3)):
        sets = CandidateSets.load(out / f"candidates/{name}.jsonl")
        test = ProfileDataset.load(out / f"truth/{name}.test.jsonl")
        meta = json.loads((out / f"candidates/{name}.jsonl.meta.json").read_text("utf-8"))
        assert meta["fingerprint"] == sets.fingerprint()
        assert meta["sampler"]["n_candidates"] == size
        for example in test:
            u = example.user_id
            gold = tuple(example.gold)
            assert len(sets[u]) == size
            assert sets.positives(u) == (gold if cap is None else gold[:cap])
            rated = set(ratings.movie_id[ratings.user_id == u].tolist())
            negatives = set(sets[u]) - set(sets.positives(u))
            assert not negatives & rated and not negatives & set(gold)
    doc = _doc(out)
    assert doc.datasets["nb"].ranking is not None
    assert doc.datasets["nb"].ranking.negatives == "popularity"
    assert doc.datasets["nb"].ranking.max_positives == 3


def test_repeats_give_the_flip_rate(finished: Any) -> None:
    out, _, _ = finished
    ranking = _doc(out).datasets["last"].ranking
    assert ranking is not None and ranking.repeats == 3
    assert len(set(ranking.order_fingerprints)) == 3  # three different presentation orders
    for label in ("popularity", "itemknn"):  # order-invariant: identical repeats, no flips
        b = ranking.backends[label]
        assert b.top1_flip_rate == 0.0
        assert all(rep.strict == b.per_repeat[0].strict for rep in b.per_repeat)
        for m in RANKING_METRICS:
            assert b.strict[m].ci_low == b.strict[m].mean == b.strict[m].ci_high
    llm = ranking.backends["zero-shot"]
    assert llm.top1_first_listed == 1.0  # the fake model puts the first-shown candidate on top
    # brute force: the share of pairs of orders whose tops differ, averaged over users
    rows = [{row["user_id"]: row for row in _rows(out / f)} for f in llm.files]
    flips = []
    for u in rows[0]:
        tops = [(rep[u]["movie_ids"] or [None])[0] for rep in rows]
        pairs = [(a, b) for a in range(3) for b in range(a + 1, 3)]
        flips.append(sum(tops[a] != tops[b] for a, b in pairs) / len(pairs))
    assert llm.top1_flip_rate == pytest.approx(float(np.mean(flips)))
    assert llm.top1_flip_rate is not None and llm.top1_flip_rate > 0.5


def test_language_model_ranking_is_planned_and_sent_once(
    finished: Any, server: LocalOpenAIServer
) -> None:
    out, result, sent = finished
    doc = _doc(out)
    n_last = doc.datasets["last"].n_test
    n_nb = doc.datasets["nb"].n_test
    n_full = doc.datasets["full"].n_test
    steps = {line.step.split(" (")[0]: line for line in result.plan if line.will_run}
    assert steps["zero-shot ranking on last"].requests == 3 * n_last
    assert steps["zero-shot ranking on nb"].requests == n_nb
    assert steps["zero-shot on full"].requests == n_full
    assert sent == 3 * n_last + n_nb + n_full  # one request per user and order, as planned
    # the rerun reuses every stage and sends nothing
    server.clear_requests()
    again = run(_config(server.base_url), out, progress=False)
    assert _chats(server) == 0
    assert not [s for s in again.ran if s.startswith(("rank:", "candidates:"))]
    assert {"candidates:last", "candidates:nb", "rank:last:zero-shot"} <= set(again.reused)
    assert (
        again.results["datasets"]["last"]["ranking"]
        == result.results["datasets"]["last"]["ranking"]
    )


def test_the_report_and_figure(finished: Any) -> None:
    out, result, _ = finished
    report = (out / "report.md").read_text("utf-8")
    assert (
        "Candidate ranking: " in report and "| backend | metric | strict | valid-only |" in report
    )
    assert "top-1 flip rate" in report and "![Candidate ranking](ranking.png)" in report
    assert (out / "ranking.png").read_bytes().startswith(b"\x89PNG")
    assert result.results["artifacts"]["ranking_figure"] == "ranking.png"
    # a candidate truth has no full-catalogue metrics; the full truth has no ranking block
    assert "metrics" not in result.results["datasets"]["last"]
    assert "ranking" not in result.results["datasets"]["full"]
    assert result.results["summary"]["truths"] == ["full"]


def test_full_leaves_results_unchanged(tmp_path: Path, server: LocalOpenAIServer) -> None:
    server.clear_requests()
    only_full = {"full": dict(LAST)}
    explicit = {"full": {**LAST, "ranking": "full"}}
    cfg = _config(server.base_url, only_full, backends=BACKENDS[:2])
    a = run(cfg, tmp_path / "a", progress=False)
    run(_config(server.base_url, explicit, backends=BACKENDS[:2]), tmp_path / "b", progress=False)
    for name in ("results.json", "report.md", "stages.json", "config.json"):
        left, right = (tmp_path / d / name for d in "ab")
        if name == "stages.json":  # stage timings differ; keys and artifacts do not
            strip = lambda p: {  # noqa: E731
                k: {**v, "seconds": 0} for k, v in json.loads(p.read_text()).items()
            }
            assert strip(left) == strip(right)
        else:
            assert left.read_bytes() == right.read_bytes()
    # the truth's config, as written, is the truth's own fields plus kind: nothing added
    written = json.loads((tmp_path / "a/config.json").read_text())["truth"]["full"]
    assert set(written) == set(LastNConfig.model_fields) | {"kind"}
    assert "ranking" not in a.results["datasets"]["full"]
    assert not (tmp_path / "a/candidates").exists() and not (tmp_path / "a/ranking.png").exists()
    # a candidate truth beside it changes nothing of the full truth's results
    mixed = run(
        _config(server.base_url, {**only_full, "last": TRUTHS["last"]}, backends=BACKENDS[:2]),
        tmp_path / "c",
        progress=False,
    )
    assert mixed.results["datasets"]["full"] == a.results["datasets"]["full"]


def test_the_budget_covers_the_ranking_requests(tmp_path: Path, server: LocalOpenAIServer) -> None:
    server.clear_requests()
    truths = {"last": TRUTHS["last"]}
    plan = run(
        _config(server.base_url, truths, free=False), tmp_path / "dry", progress=False, dry_run=True
    )
    (line,) = [line for line in plan.plan if line.will_run]
    assert line.usd is not None and line.usd > 0 and line.input_tokens > 0
    # a dry run samples the candidates (a free local stage) and records them, unscored
    ranking = plan.document.datasets["last"].ranking
    assert ranking is not None and ranking.backends == {}
    assert (
        ranking.fingerprint
        == CandidateSets.load(tmp_path / "dry/candidates/last.jsonl").fingerprint()
    )
    with pytest.raises(BudgetExceededError, match="ranking on last"):
        run(
            _config(server.base_url, truths, free=False, budget_usd=line.usd * 0.99),
            tmp_path / "out",
            progress=False,
        )
    assert _chats(server) == 0


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ('ranking = "partial"', "ranking"),
        ('ranking = "candidates"\nn_candidates = 1', "n_candidates"),
        ('ranking = "candidates"\nnegatives = "hard"', "negatives"),
        ('ranking = "candidates"\nrepeats = 0', "repeats"),
        ('ranking = "candidates"\nmax_positives = 0', "max_positives"),
        ('ranking = "candidates"\ncandidate_seed = -1', "candidate_seed"),
        ('ranking = "candidates"\nn_candidates = 5\nmax_positives = 5', "max_positives"),
        ("n_candidates = 30", "n_candidates is set but ranking = 'full'"),
        ("repeats = 3", "repeats is set but ranking = 'full'"),
    ],
)
def test_bad_values_name_the_field(tmp_path: Path, table: str, field: str) -> None:
    path = tmp_path / "study.toml"
    path.write_text(
        'truth_replace = true\n[data]\nkind = "synthetic"\n[truth.last]\nkind = "last_n"\n'
        + table
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=field) as info:
        ExperimentConfig.from_file(path)
    assert "last" in str(info.value)


def test_too_many_positives_stop_the_run_before_anything_is_sent(
    tmp_path: Path, server: LocalOpenAIServer
) -> None:
    server.clear_requests()
    truths = {"nb": {"n_users": 150, "ranking": "candidates", "n_candidates": 2}}
    with pytest.raises(ConfigError, match=r"\[truth\.nb\].*max_positives"):
        run(_config(server.base_url, truths), tmp_path / "out", progress=False)
    assert _chats(server) == 0

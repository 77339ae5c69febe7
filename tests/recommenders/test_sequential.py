"""``sasrec`` and ``gru4rec``: conformance, determinism, the CUDA path, and learnability."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.data.ratings import Ratings
from llmrec.errors import ConfigError
from llmrec.recommenders import Recommender, get_recommender
from llmrec.testing.contract import RecommenderContract

pytest.importorskip("torch")

# Tiny models: a few epochs on the suite's 60 users take well under a second.
TINY_SASREC = {"hidden_size": 8, "blocks": 1, "heads": 2, "inner_size": 16, "epochs": 2}
TINY_GRU = {"embedding_size": 8, "hidden_size": 8, "epochs": 2}
LEARNER_SASREC = {"hidden_size": 16, "blocks": 1, "inner_size": 32, "dropout": 0.0}


class TestSASRec(RecommenderContract):
    def make_recommender(self) -> Recommender:
        return get_recommender("sasrec", max_length=6, batch_size=64, seed=3, **TINY_SASREC)


class TestSASRecBCEEarlyStopping(RecommenderContract):
    k = 8

    def make_recommender(self) -> Recommender:
        return get_recommender(
            "sasrec", loss="bce", patience=1, max_length=4, dropout=0.1, **TINY_SASREC
        )


class TestGRU4Rec(RecommenderContract):
    def make_recommender(self) -> Recommender:
        return get_recommender("gru4rec", max_length=6, batch_size=64, seed=5, **TINY_GRU)


def _cycles(n_users: int = 36, n_items: int = 12, length: int = 12) -> Ratings:
    """User ``u`` walks the cycle 1 → 2 → ... → n_items → 1 from item ``u mod n_items``, one
    item a second: the next item is a deterministic function of the last, while every item is
    equally popular (popularity can only guess)."""
    users, movies, times = [], [], []
    for u in range(1, n_users + 1):
        for t in range(length):
            users.append(u)
            movies.append((u + t) % n_items + 1)
            times.append(1_000_000 + 1000 * u + t)
    time = np.asarray(times, dtype=np.int64)
    return Ratings(users, movies, np.full(len(users), 4), time.astype("datetime64[s]"), time=time)


def _hit_rate(model: Recommender, n_items: int = 12) -> float:
    profiles = [tuple((s + t) % n_items + 1 for t in range(3)) for s in range(n_items)]
    nexts = [(s + 3) % n_items + 1 for s in range(n_items)]
    recs = model.recommend_many(profiles, 1)
    return float(np.mean([r.movie_ids[:1] == (n,) for r, n in zip(recs, nexts, strict=True)]))


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("sasrec", LEARNER_SASREC),
        ("gru4rec", {"embedding_size": 16, "hidden_size": 16, "dropout": 0.0}),
    ],
)
def test_learns_a_deterministic_sequence_far_above_popularity(name: str, options: dict) -> None:
    ratings = _cycles()
    model = get_recommender(
        name, max_length=3, epochs=20, batch_size=128, learning_rate=0.02, seed=0, **options
    ).fit(ratings)
    popularity = get_recommender("popularity").fit(ratings)
    assert _hit_rate(popularity) <= 1 / 3  # 4 of the 12 profiles: ties go to smaller ids
    assert _hit_rate(model) >= 0.9
    # the profile is a sequence: the same movies in another order predict something else
    assert model.recommend((1, 2, 3), 1).movie_ids == (4,)
    assert model.recommend((3, 2, 1), 1).movie_ids != (4,)


@pytest.mark.parametrize("name", ["sasrec", "gru4rec"])
def test_a_seeded_cpu_run_is_bit_identical_on_repeat(name: str) -> None:
    ratings = _cycles(n_users=40)
    options = TINY_SASREC if name == "sasrec" else TINY_GRU
    first = get_recommender(name, device="cpu", seed=7, **options).fit(ratings)
    second = get_recommender(name, device="cpu", seed=7, **options).fit(ratings)
    other = get_recommender(name, device="cpu", seed=8, **options).fit(ratings)
    profiles = [(1, 2, 3), (10, 11), ()]
    a = first._scores(profiles)  # type: ignore[attr-defined]
    assert a.tobytes() == second._scores(profiles).tobytes()  # type: ignore[attr-defined]
    assert a.tobytes() != other._scores(profiles).tobytes()  # type: ignore[attr-defined]
    assert first.log_.losses == second.log_.losses  # type: ignore[attr-defined]
    for p1, p2 in zip(first.model_.parameters(), second.model_.parameters(), strict=True):  # type: ignore[attr-defined]
        assert p1.detach().numpy().tobytes() == p2.detach().numpy().tobytes()


def test_scores_do_not_depend_on_the_batch() -> None:
    model = get_recommender("sasrec", **TINY_SASREC).fit(_cycles(n_users=40))
    profiles = [tuple(range(1 + i, 6 + i)) for i in range(300)]
    together = model._scores(profiles)  # type: ignore[attr-defined]
    alone = np.concatenate([model._scores([p]) for p in profiles[::97]])  # type: ignore[attr-defined]
    assert together[::97].tobytes() == alone.tobytes()


def test_rank_is_the_full_order_restricted_to_the_candidates() -> None:
    model = get_recommender("gru4rec", **TINY_GRU).fit(_cycles(n_users=40))
    profile = (4, 5, 6)
    full = model.recommend(profile, 1000).movie_ids
    candidates = (12, 1, 7, 9, 3)
    assert model.rank(profile, candidates).movie_ids == tuple(m for m in full if m in candidates)


def test_history_exclusion_and_fitting_record() -> None:
    model = get_recommender("sasrec", patience=2, **TINY_SASREC).fit(_cycles(n_users=40))
    rec = model.recommend_many([(1, 2, 3)], 5, exclude=[(4, 5)])[0]
    assert len(rec.movie_ids) == 5 and not {1, 2, 3, 4, 5} & set(rec.movie_ids)
    log = model.log_  # type: ignore[attr-defined]
    assert 1 <= log.best_epoch <= 2 and len(log.valid_ndcg) >= 1
    assert model.n_parameters_ > 0  # type: ignore[attr-defined]


def test_heads_must_divide_the_width() -> None:
    with pytest.raises(ConfigError, match="must divide"):
        get_recommender("sasrec", hidden_size=10, heads=3).fit(_cycles(n_users=5))


def test_unavailable_cuda_is_a_config_error() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        get_recommender("gru4rec", device="cuda", **TINY_GRU).fit(_cycles(n_users=5))


@pytest.mark.parametrize("name", ["sasrec", "gru4rec"])
def test_cuda_device(name: str) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    options = TINY_SASREC if name == "sasrec" else TINY_GRU
    model = get_recommender(name, device="cuda", **options).fit(_cycles(n_users=40))
    assert model.device_.type == "cuda"  # type: ignore[attr-defined]
    assert next(model.model_.parameters()).is_cuda  # type: ignore[attr-defined]
    cpu = get_recommender(name, device="cpu", **options).fit(_cycles(n_users=40))
    assert len(model.recommend((1, 2), 5).movie_ids) == len(cpu.recommend((1, 2), 5).movie_ids)


def _exact_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """P(score of a positive > score of a negative) + ½ P(tie), over every pair."""
    pos, neg = scores[labels], scores[~labels]
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


@pytest.mark.slow
def test_tallrec_windows_scored_pointwise_give_an_auc() -> None:
    """TALLRec's windows as a pointwise task: the model's score of each target after its ten
    movies (``rank`` with the target as the only candidate) turned into an AUC. Users follow the
    cycle and 5-star each step; 30 % of steps jump to a random movie, rated 1 star: the model
    should score the in-cycle targets higher."""
    from llmrec.data.catalog import Catalog, Movie
    from llmrec.protocols import tallrec

    rng = np.random.default_rng(1)
    users, movies, stars, times = [], [], [], []
    for u in range(1, 151):
        item = int(rng.integers(1, 31))
        seen: set[int] = set()
        for t in range(25):
            nxt = item % 30 + 1
            jump = rng.random() < 0.3 or nxt in seen
            if jump:
                free = [m for m in range(1, 31) if m not in seen and m != nxt]
                nxt = int(rng.choice(free))
            seen.add(nxt)
            users.append(u)
            movies.append(nxt)
            stars.append(1 if jump else 5)
            times.append(2_000_000 + 100 * u + t)
            item = nxt
    time = np.asarray(times, dtype=np.int64)
    ratings = Ratings(users, movies, stars, time.astype("datetime64[s]"), time=time)
    catalog = Catalog([Movie(m, f"Movie {m}", 2000) for m in range(1, 31)])
    splits = tallrec.build(ratings, catalog, last=None)
    test = splits.test
    model = get_recommender(
        "sasrec", max_length=10, epochs=10, batch_size=256, learning_rate=0.02, **LEARNER_SASREC
    ).fit(ratings.for_users(np.unique(test.user_id), exclude=True))
    profiles = [tuple(int(m) for m in row) for row in test.history]
    targets = [(int(t),) for t in test.target]
    scores = np.array([r.scores[0] for r in model.rank_many(profiles, targets)])
    full = model.recommend(profiles[0], 1000)
    assert scores[0] == full.scores[full.movie_ids.index(targets[0][0])]
    auc = _exact_auc(scores, test.liked)
    assert auc >= 0.8
    assert _exact_auc(-scores, test.liked) == pytest.approx(1 - auc)


def test_the_last_block_at_one_position_is_the_full_block_read_there() -> None:
    """SASRec's last block computes only the position it reads; run at every position (as
    RecBole does) and read there, it gives the same state, gradients included."""
    import torch

    from llmrec.recommenders.sequential._sasrec import SASRec

    torch.manual_seed(0)
    net = SASRec(30, 8, 16, 2, 2, 32, dropout=0.0)
    seqs = torch.randint(1, 31, (6, 8))
    lengths = torch.tensor([1, 3, 8, 5, 2, 7])
    seqs[torch.arange(8)[None, :] >= lengths[:, None]] = 0

    def full() -> torch.Tensor:
        n = seqs.shape[1]
        x = net.norm(net.item_embedding(seqs) + net.position_embedding(torch.arange(n))[None])
        allowed = torch.tril(torch.ones(n, n, dtype=torch.bool))[None, None]
        mask = (~(allowed & (seqs > 0)[:, None, None, :])).float() * -10000.0
        for block in net.blocks:
            x = block(x, mask)
        state: torch.Tensor = x[torch.arange(seqs.shape[0]), lengths - 1]
        return state

    fast, slow = net(seqs, lengths), full()
    torch.testing.assert_close(fast, slow)
    (grad_fast,) = torch.autograd.grad(fast.square().sum(), net.item_embedding.weight)
    (grad_slow,) = torch.autograd.grad(slow.square().sum(), net.item_embedding.weight)
    torch.testing.assert_close(grad_fast, grad_slow)

"""Candidate sets for ranking protocols (LLMRank, LLaRA, RecLM-eval): positives plus negatives.

``CandidateSampler(n_candidates=20, negatives="uniform", seed=0).sample(dataset, ratings)``
gives every user of a :class:`~llmrec.truth.ProfileDataset` a fixed list of movies to rank: the
user's gold movies (all, or the first ``max_positives``) plus negatives up to ``n_candidates``,
negatives never rated by the user and never gold, in a seeded presentation order.

Randomness is counter-based: draw ``i`` of user ``u`` is a SplitMix64 hash of ``(seed, u, i)``,
and the presentation order sorts a hash of ``(seed, u, movie)``. So a user's set depends only on
the seed, the user's own gold and ratings, and the catalogue, never on which other users are
sampled with it or in which order: same seed, same bytes. All users are drawn at once, in numpy;
a user whose draws keep hitting rated movies (popularity negatives for a heavy rater) falls back
after a few rounds to an exact draw among that user's unrated movies.

``negatives="uniform"`` draws every movie of the ratings equally; ``"popularity"`` in proportion
to its number of ratings (a harder, popularity-matched set, as in RecLM-eval's variants).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from llmrec._io import atomic_open
from llmrec.data.ratings import Ratings
from llmrec.errors import ConfigError, DataFormatError
from llmrec.truth._holdout_kernel import PairSet, UserIndex, chunks
from llmrec.truth.dataset import ProfileDataset

__all__ = ["CandidateSampler", "CandidateSets"]

FORMAT = "llmrec-candidates/1"
_ROUNDS = 8  # vectorised rounds before a user's exact fallback draw
_SALT_DRAW = 0x6472617773  # "draws"
_SALT_ORDER = 0x6F72646572  # "order"
_SALT_REPEAT = 0x726570656174  # "repeat"
_U64 = npt.NDArray[np.uint64]
_I64 = npt.NDArray[np.int64]
_F64 = npt.NDArray[np.float64]


@dataclass
class _State:
    """Per user (dataset index): negatives still needed, draws used; the negatives so far."""

    need: _I64
    drawn: _I64
    got_user: list[_I64]
    got_movie: list[_I64]
    taken: list[_I64]  # (user index, movie) keys of the negatives so far


def _mix(x: _U64) -> _U64:
    """SplitMix64's finaliser: a bijective, well-mixed hash of 64-bit words."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _hash(seed: int, salt: int, user: _I64, value: _I64) -> _U64:
    head = _mix(np.asarray([(seed ^ salt) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
    h = _mix(head ^ user.astype(np.uint64))
    return _mix(h ^ value.astype(np.uint64))


def _uniform01(h: _U64) -> npt.NDArray[np.float64]:
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _pairs(users: npt.ArrayLike, movies: npt.ArrayLike) -> _I64:
    u = np.asarray(users, dtype=np.int64)
    return (u << 32) | (np.asarray(movies, dtype=np.int64) & 0xFFFFFFFF)


def _member(sorted_keys: _I64, query: _I64) -> npt.NDArray[np.bool_]:
    if sorted_keys.size == 0:
        return np.zeros(query.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, query), sorted_keys.size - 1)
    return np.asarray(sorted_keys[pos] == query)


class _ByUser:
    """Sorted (user, movie) keys with each user's run located by a :class:`UserIndex`, so a
    membership query is a binary search within that user's few hundred keys (cache-friendly)
    instead of one over every rating."""

    def __init__(self, keys: _I64) -> None:
        self.movies = keys & 0xFFFFFFFF
        owner = keys >> 32
        starts = np.flatnonzero(np.concatenate(([True], owner[1:] != owner[:-1])))
        starts = starts if keys.size else np.zeros(0, dtype=np.int64)
        self.index = UserIndex(owner[starts])
        self.start = starts.astype(np.int64)
        self.end = np.append(starts[1:], keys.size).astype(np.int64)

    def contains(self, users: _I64, movies: _I64) -> npt.NDArray[np.bool_]:
        if self.start.size == 0:
            return np.zeros(users.shape, dtype=bool)
        g = self.index(users)
        found = g >= 0
        lo = np.where(found, self.start[np.maximum(g, 0)], 0)
        hi = np.where(found, self.end[np.maximum(g, 0)], 0)
        end = hi.copy()
        q = movies & 0xFFFFFFFF
        active = np.flatnonzero(lo < hi)
        while active.size:
            a_lo, a_hi = lo[active], hi[active]
            mid = (a_lo + a_hi) >> 1
            less = self.movies[mid] < q[active]
            lo[active] = np.where(less, mid + 1, a_lo)
            hi[active] = np.where(less, a_hi, mid)
            active = active[lo[active] < hi[active]]
        inside = lo < end
        out = np.zeros(users.shape, dtype=bool)
        out[inside] = self.movies[lo[inside]] == q[inside]
        return out


class CandidateSets:
    """Per user, the candidate movies in presentation order (``sets[user_id]``) and positives.

    Saved as JSON Lines in ascending user id (``{"user_id", "candidates", "positives"}``) with
    ``PATH.meta.json`` beside it; :meth:`fingerprint` is the SHA-256 of those lines, so equal
    contents give equal fingerprints whatever produced them.
    """

    def __init__(
        self,
        candidates: dict[int, tuple[int, ...]],
        positives: dict[int, tuple[int, ...]],
        meta: dict[str, Any] | None = None,
    ) -> None:
        if set(candidates) != set(positives):
            raise ValueError("candidates and positives must cover the same users")
        self._candidates = {int(u): candidates[u] for u in sorted(candidates)}
        self._positives = {int(u): positives[u] for u in sorted(positives)}
        self.meta: dict[str, Any] = dict(meta or {})

    def __len__(self) -> int:
        return len(self._candidates)

    def __iter__(self) -> Iterator[int]:
        return iter(self._candidates)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._candidates

    def __getitem__(self, user_id: int) -> tuple[int, ...]:
        return self._candidates[user_id]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CandidateSets):
            return NotImplemented
        return self._candidates == other._candidates and self._positives == other._positives

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CandidateSets({len(self):,} users)"

    @property
    def user_ids(self) -> list[int]:
        return list(self._candidates)

    def positives(self, user_id: int) -> tuple[int, ...]:
        """The user's positives (gold movies among the candidates), in gold order."""
        return self._positives[user_id]

    def orders(self, repeats: int, seed: int = 0) -> list[CandidateSets]:
        """The sets in ``repeats`` seeded presentation orders, for position-bias control.

        A language model ranking a list favours what it reads first (LLMRank: Hou et al.,
        "Large Language Models are Zero-Shot Rankers for Recommender Systems", ECIR 2024).
        Repeat 0 is the stored order; repeat ``r >= 1`` sorts each user's candidates by a
        SplitMix64 hash of ``(seed, r, user, movie)``, so a user's orders depend only on the
        seed, the user and the set (not its stored order, nor the other users): same seed, same
        bytes. Each copy's ``meta`` adds ``repeat``, ``repeats``, ``order_seed`` and the
        original's ``source_fingerprint``.
        """
        if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
            raise ConfigError(f"repeats must be a positive integer, got {repeats!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
        extra = {"repeats": repeats, "order_seed": seed, "source_fingerprint": self.fingerprint()}
        first = {**self.meta, **extra, "repeat": 0}
        out = [CandidateSets(self._candidates, self._positives, first)]
        for r in range(1, repeats):
            shuffled: dict[int, tuple[int, ...]] = {}
            for u, cands in self._candidates.items():
                movies = np.asarray(cands, dtype=np.int64)
                users = np.full(movies.shape, u, dtype=np.int64)
                keys = _hash(seed, _SALT_REPEAT ^ (r << 48), users, movies)
                shuffled[u] = tuple(int(m) for m in movies[np.lexsort((movies, keys))])
            meta = {**self.meta, **extra, "repeat": r}
            out.append(CandidateSets(shuffled, self._positives, meta))
        return out

    def _lines(self) -> Iterator[str]:
        for u, cands in self._candidates.items():
            obj = {"user_id": u, "candidates": list(cands), "positives": list(self._positives[u])}
            yield json.dumps(obj, separators=(",", ":")) + "\n"

    def fingerprint(self) -> str:
        """SHA-256 of the JSON Lines content (not of the metadata)."""
        h = hashlib.sha256()
        for line in self._lines():
            h.update(line.encode("utf-8"))
        return h.hexdigest()

    def save(self, path: str | Path) -> Path:
        """Write JSON Lines to ``path`` and the metadata (with the fingerprint), atomically."""
        out = Path(path)
        with atomic_open(out, "w") as fh:
            for line in self._lines():
                fh.write(line)
        meta = {**self.meta, "format": FORMAT, "fingerprint": self.fingerprint()}
        with atomic_open(out.with_name(out.name + ".meta.json"), "w") as fh:
            fh.write(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return out

    @classmethod
    def load(cls, path: str | Path) -> CandidateSets:
        """Read a file written by :meth:`save`; malformed lines raise ``DataFormatError``."""
        src = Path(path)
        cands: dict[int, tuple[int, ...]] = {}
        pos: dict[int, tuple[int, ...]] = {}
        try:
            text = src.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DataFormatError("candidate file not found", path=src) from None
        except UnicodeDecodeError as exc:
            raise DataFormatError(
                f"not UTF-8 text (byte {exc.start}: {exc.reason})", path=src
            ) from None
        for lineno, line in enumerate(text.splitlines(), 1):
            u, c, p = _parse_line(line, src, lineno)
            if u in cands:
                raise DataFormatError(f"user {u} listed twice", path=src, line=lineno)
            cands[u], pos[u] = c, p
        meta: dict[str, Any] = {}
        mp = src.with_name(src.name + ".meta.json")
        if mp.exists():
            try:
                meta = json.loads(mp.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise DataFormatError(f"damaged metadata: {exc}", path=mp) from None
        return cls(cands, pos, meta)


def _parse_line(line: str, src: Path, lineno: int) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        raise DataFormatError("not valid JSON", path=src, line=lineno, text=line[:80]) from None
    if not isinstance(obj, dict) or set(obj) != {"user_id", "candidates", "positives"}:
        raise DataFormatError(
            "expected an object with user_id, candidates, positives",
            path=src,
            line=lineno,
            text=line[:80],
        )
    values = [obj["user_id"], *obj["candidates"], *obj["positives"]]
    if not (
        isinstance(obj["candidates"], list)
        and isinstance(obj["positives"], list)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    ):
        raise DataFormatError("ids must be integers", path=src, line=lineno, text=line[:80])
    c, p = tuple(obj["candidates"]), tuple(obj["positives"])
    if not set(p) <= set(c) or len(set(c)) != len(c):
        raise DataFormatError(
            "positives must be distinct candidates", path=src, line=lineno, text=line[:80]
        )
    return int(obj["user_id"]), c, p


class CandidateSampler(BaseModel):
    """Draws a :class:`CandidateSets` for a dataset (config: JSON round trip, extra forbidden)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_candidates: int = Field(default=20, ge=1, description="Movies per candidate set.")
    negatives: Literal["uniform", "popularity"] = Field(
        default="uniform",
        description="Negatives drawn uniformly over the rated movies, or by rating count.",
    )
    max_positives: int | None = Field(
        default=None, ge=1, description="Keep only the first this many gold movies (None: all)."
    )
    seed: int = Field(default=0, ge=0, description="Seed of the draws and of the order.")

    def sample(
        self, dataset: ProfileDataset, ratings: Ratings, *, skip_short: bool = False
    ) -> CandidateSets:
        """Candidate sets for every user of ``dataset``; negatives come from ``ratings``' movies.

        Raises :class:`ConfigError` when a user has more positives than ``n_candidates`` or
        fewer unrated, non-gold movies than the negatives needed. With ``skip_short=True`` such
        a user (one who rated almost the whole catalogue) gets no set instead, and
        ``meta["skipped_users"]`` lists them; the other users' sets are unchanged (a user's set
        never depends on the other users).
        """
        users = np.asarray([e.user_id for e in dataset], dtype=np.int64)
        if np.unique(users).size != users.size:
            raise ConfigError("the dataset lists a user twice; candidate sets are per user")
        gold = [tuple(int(m) for m in e.gold) for e in dataset]
        pos = [g if self.max_positives is None else g[: self.max_positives] for g in gold]
        n_pos = np.asarray([len(p) for p in pos], dtype=np.int64)
        over = np.flatnonzero(n_pos > self.n_candidates)
        if over.size:
            i = int(over[0])
            raise ConfigError(
                f"user {int(users[i])} has {int(n_pos[i])} positives, more than n_candidates="
                f"{self.n_candidates}; raise n_candidates or set max_positives"
            )
        movies, counts = _catalogue(ratings)
        need = self.n_candidates - n_pos
        state = self._first_round(users, need, gold, ratings, movies, counts)
        left = np.flatnonzero(state.need > 0)  # heavy raters, and users short of movies
        forbidden = np.zeros(0, dtype=np.int64)
        if left.size:
            forbidden = _forbidden(users[left], [gold[i] for i in left.tolist()], ratings)
        if skip_short:
            short = users[left][_short_users(users[left], need[left], forbidden, movies)]
            if short.size:
                keep = dataset.subset(sorted(set(users.tolist()) - set(short.tolist())))
                sets = self.sample(keep, ratings)
                sets.meta["skipped_users"] = sorted(short.tolist())
                return sets
        _check_available(users[left], need[left], forbidden, movies, self.n_candidates)
        neg_user, neg_movie = self._negatives(users, state, forbidden, movies, counts)
        pos_user = np.repeat(np.arange(users.size, dtype=np.int64), n_pos)
        pos_movie = np.asarray([m for p in pos for m in p], dtype=np.int64)
        all_user = np.concatenate([pos_user, neg_user])
        all_movie = np.concatenate([pos_movie, neg_movie])
        order_key = _hash(self.seed, _SALT_ORDER, users[all_user], all_movie) >> np.uint64(33)
        # by user, then by the hash (31 bits; ties keep positives-then-draws order, per user)
        order = np.argsort((all_user << 31) | order_key.astype(np.int64), kind="stable")
        flat = all_movie[order].tolist()
        width = self.n_candidates
        if len(flat) == width * users.size:  # every set is full: slice in C
            rows: list[tuple[int, ...]] = list(zip(*[iter(flat)] * width, strict=True))
        else:  # pragma: no cover - every user gets n_candidates (or an error is raised)
            raise RuntimeError("candidate sets of unequal size")
        cand = dict(zip(users.tolist(), rows, strict=True))
        positives = {int(u): pos[i] for i, u in enumerate(users.tolist())}
        meta = {
            "sampler": self.model_dump(mode="json"),
            "ratings_fingerprint": ratings.fingerprint(),
            "truth": dataset.meta.get("name") or dataset.meta.get("protocol"),
            "n_users": int(users.size),
        }
        if skip_short:
            meta["skipped_users"] = []
        return CandidateSets(cand, positives, meta)

    # -- negatives ----------------------------------------------------------------------------
    def _draw(
        self, users: _I64, active: _I64, need: _I64, drawn: _I64, movies: _I64, cum: _F64
    ) -> tuple[_I64, _I64]:
        """The next draws of the ``active`` users (a few more than they need): user index and
        movie per draw, grouped by user in draw order; advances ``drawn``."""
        k = need[active] + 4 + need[active] // 2
        uidx = np.repeat(active, k)
        start = np.repeat(np.cumsum(k) - k, k)
        attempt = np.repeat(drawn[active], k) + np.arange(uidx.size, dtype=np.int64) - start
        drawn[active] += k
        u01 = _uniform01(_hash(self.seed, _SALT_DRAW, users[uidx], attempt))
        if self.negatives == "uniform":
            pick = np.minimum((u01 * movies.size).astype(np.int64), movies.size - 1)
        else:
            pick = np.minimum(np.searchsorted(cum, u01 * cum[-1], side="right"), movies.size - 1)
        return uidx, movies[pick]

    def _first_round(
        self,
        users: _I64,
        need: _I64,
        gold: list[tuple[int, ...]],
        ratings: Ratings,
        movies: _I64,
        counts: _I64,
    ) -> _State:
        """One vectorised round for every user, checked against the ratings from the query
        side: the draws go into a Bloom-filtered :class:`PairSet` and one pass over the ratings
        finds those already rated, so the ratings are never sorted."""
        state = _State(need.copy(), np.zeros(users.size, dtype=np.int64), [], [], [])
        active = np.flatnonzero(need > 0)
        if active.size == 0:
            return state
        cum = np.cumsum(counts).astype(np.float64)
        uidx, cand = self._draw(users, active, state.need, state.drawn, movies, cum)
        draws = PairSet(uidx, cand)
        sorted_hit = np.zeros(uidx.size, dtype=bool)
        by_id = np.argsort(users, kind="stable")
        index = UserIndex(users[by_id])
        for a, b in chunks(len(ratings)):
            at = index(ratings.user_id[a:b])
            mine = np.flatnonzero(at >= 0)
            pos = draws.find_sorted(by_id[at[mine]], ratings.movie_id[a:b][mine])
            sorted_hit[pos[pos >= 0]] = True
        run = np.cumsum(np.concatenate(([True], draws.keys[1:] != draws.keys[:-1]))) - 1
        run_hit = np.zeros(int(run[-1]) + 1, dtype=bool)
        run_hit[run[sorted_hit]] = True
        rated = np.zeros(uidx.size, dtype=bool)
        rated[draws.order] = run_hit[run]
        gold_pairs = PairSet(
            np.repeat(np.arange(users.size), [len(g) for g in gold]), [m for g in gold for m in g]
        )
        ok = ~rated & (gold_pairs.find(uidx, cand) < 0)
        first = np.zeros(uidx.size, dtype=bool)  # first draw of each (user, movie) pair
        first[draws.order[np.concatenate(([True], draws.keys[1:] != draws.keys[:-1]))]] = True
        self._take(uidx, cand, ok & first, state)
        return state

    def _take(self, uidx: _I64, cand: _I64, ok: npt.NDArray[np.bool_], state: _State) -> None:
        """Keep the first ``need`` acceptable draws of each user (draws grouped by user)."""
        rows = np.flatnonzero(ok)
        ru = uidx[rows]
        csum = np.arange(rows.size, dtype=np.int64)
        first_of_user = np.ones(rows.size, dtype=bool)
        first_of_user[1:] = ru[1:] != ru[:-1]
        base = np.maximum.accumulate(np.where(first_of_user, csum, 0)) if rows.size else csum
        keep = rows[(csum - base) < state.need[ru]]
        state.got_user.append(uidx[keep])
        state.got_movie.append(cand[keep])
        np.subtract.at(state.need, uidx[keep], 1)
        state.taken.append(_pairs(uidx[keep], cand[keep]))

    def _negatives(
        self,
        users: _I64,
        state: _State,
        forbidden: _I64,
        movies: _I64,
        counts: _I64,
    ) -> tuple[_I64, _I64]:
        """The remaining negatives: vectorised rounds against ``forbidden`` (the sorted rated or
        gold pairs of the users still drawing), then exact draws for the last few."""
        need, drawn = state.need, state.drawn
        cum = np.cumsum(counts).astype(np.float64)
        taken = np.concatenate(state.taken) if state.taken else np.zeros(0, dtype=np.int64)
        got_user, got_movie = state.got_user, state.got_movie
        rated = _ByUser(forbidden)
        for _ in range(1, _ROUNDS):
            active = np.flatnonzero(need > 0)
            if active.size == 0:
                break
            uidx, cand = self._draw(users, active, need, drawn, movies, cum)
            keys = _pairs(uidx, cand)
            ok = ~rated.contains(users[uidx], cand)
            if taken.size:  # only the pairs of users still drawing can repeat
                drawing = np.zeros(users.size, dtype=bool)
                drawing[active] = True
                ok &= ~_member(np.sort(taken[drawing[taken >> 32]]), keys)
            valid = np.flatnonzero(ok)
            order = np.argsort(keys[valid], kind="stable")  # equal keys keep draw order
            sk = keys[valid][order]
            first = np.ones(sk.size, dtype=bool)
            first[1:] = sk[1:] != sk[:-1]
            ok[:] = False
            ok[valid[order[first]]] = True
            state.taken = [taken]
            self._take(uidx, cand, ok, state)
            taken = np.concatenate(state.taken)  # distinct pairs, unsorted
        taken.sort()
        for i in np.flatnonzero(need > 0).tolist():  # exact fallback, seeded per user
            u = int(users[i])
            lo, hi = np.searchsorted(forbidden, [u << 32, (u + 1) << 32])
            mine = forbidden[lo:hi] & 0xFFFFFFFF
            tlo, thi = np.searchsorted(taken, [i << 32, (i + 1) << 32])
            chosen = taken[tlo:thi] & 0xFFFFFFFF
            allowed = ~np.isin(movies, mine) & ~np.isin(movies, chosen)
            pool = movies[allowed]
            weights = counts[allowed].astype(np.float64)
            rng = np.random.default_rng([self.seed, u & 0xFFFFFFFF, 1])
            p = None if self.negatives == "uniform" else weights / weights.sum()
            pick = rng.choice(pool.size, size=int(need[i]), replace=False, p=p)
            got_user.append(np.full(pick.size, i, dtype=np.int64))
            got_movie.append(pool[np.sort(pick)])
        if not got_user:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(got_user), np.concatenate(got_movie)


def _catalogue(ratings: Ratings) -> tuple[_I64, _I64]:
    """The movies of ``ratings`` (ascending) and their rating counts."""
    ids = np.asarray(ratings.movie_id)
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lo, hi = int(ids.min()), int(ids.max())
    if lo >= 0 and hi <= max(1 << 26, 4 * ids.size):
        counts = np.bincount(ids, minlength=hi + 1)
        movies = np.flatnonzero(counts).astype(np.int64)
        return movies, counts[movies].astype(np.int64)
    movies, per = np.unique(ids, return_counts=True)
    return movies.astype(np.int64), per.astype(np.int64)


def _forbidden(users: _I64, gold: list[tuple[int, ...]], ratings: Ratings) -> _I64:
    """Sorted distinct (user, movie) keys a negative may not take: rated or gold."""
    parts = [_pairs(np.repeat(users, [len(g) for g in gold]), [m for g in gold for m in g])]
    index = UserIndex(np.sort(users))
    for a, b in chunks(len(ratings)):
        u = ratings.user_id[a:b]
        mine = index(u) >= 0
        parts.append(_pairs(u[mine], ratings.movie_id[a:b][mine]))
    keys = np.concatenate(parts)
    keys.sort()
    if keys.size:
        keep = np.ones(keys.size, dtype=bool)
        keep[1:] = keys[1:] != keys[:-1]
        keys = keys[keep]
    return keys


def _check_available(
    users: _I64, need: _I64, forbidden: _I64, movies: _I64, n_candidates: int
) -> None:
    """Raise ``ConfigError`` naming the first user with fewer allowed movies than needed."""
    short = _short_users(users, need, forbidden, movies)
    if short.size:
        i = int(short[0])
        allowed = movies.size - _n_forbidden(users, forbidden, movies)[i]
        raise ConfigError(
            f"user {int(users[i])} has only {allowed} movies neither rated nor gold, fewer "
            f"than the {int(need[i])} negatives needed for n_candidates={n_candidates}; lower "
            "n_candidates or use fewer positives, or skip such users (too_few_negatives = "
            '"skip" in an experiment, skip_short=True in Python)'
        )


def _short_users(users: _I64, need: _I64, forbidden: _I64, movies: _I64) -> _I64:
    """Indices of the users with fewer allowed (unrated, non-gold) movies than they need."""
    return np.flatnonzero(movies.size - _n_forbidden(users, forbidden, movies) < need)


def _n_forbidden(users: _I64, forbidden: _I64, movies: _I64) -> _I64:
    """Per user, how many catalogue movies a negative may not take."""
    fm = forbidden & 0xFFFFFFFF
    if movies.size and int(movies.min()) >= 0 and int(movies.max()) <= 1 << 27:
        table = np.zeros(int(movies.max()) + 2, dtype=bool)
        table[movies] = True
        in_catalogue = table[np.minimum(fm, table.size - 1)]
    else:
        in_catalogue = np.isin(fm, movies)
    owner = forbidden >> 32
    order = np.argsort(users, kind="stable")
    su = users[order]
    n_forbidden = np.zeros(users.size, dtype=np.int64)
    lo = np.searchsorted(owner[in_catalogue], su, side="left")
    hi = np.searchsorted(owner[in_catalogue], su, side="right")
    n_forbidden[order] = hi - lo
    return n_forbidden

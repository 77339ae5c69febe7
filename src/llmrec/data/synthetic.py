"""Realistic synthetic ratings in the exact Netflix Prize (Kaggle) file format.

:func:`write_netflix` writes ``combined_data_1.txt`` ... ``combined_data_{n_files}.txt`` and
``movie_titles.csv`` byte-compatible with the Kaggle copy of the Netflix Prize data, so every
stage of llmrec (and any other Netflix reader) runs on it without the 2 GB download.
:func:`ensure_synthetic` caches a generated folder and reuses it while it is complete.

The data is shaped like the real set, so that the study's neighbour ground truth and the
collaborative baselines find structure beyond popularity:

* movie popularity is Zipf-Mandelbrot, ``w_m ∝ (r_m + 5)^-1`` over a random rank order (the
  most watched movie reaches about 40 % of the users; Miss Congeniality reaches 48 % of the
  real set's customers);
* user activity is lognormal (σ = 1.2; the real set has median 96 and mean 209 ratings per
  user, i.e. σ ≈ 1.25), at least one rating each, each movie at most once per user;
* every user belongs to one latent taste group (a tenth also to a second one); each group has
  its own favourite movies (3 % of the catalog, disjoint between groups, weighted by a
  Pareto(0.8) draw so each group has a few strong favourites). 65 % of a user's draws come from
  their groups' favourites, 3 % are uniform and the rest follow popularity;
* stars come from ranking a latent score ``user bias + movie quality + 3.5·[favourite] +
  noise`` (user bias and quality ~ N(0, 0.5²), noise ~ N(0, 1)) and cutting it at the Netflix
  Prize shares 4.6 / 10.1 / 28.7 / 33.6 / 23.1 % (1-5 stars), so almost all 5-star ratings
  fall on a group's favourites: users who 5-star the same movies share other favourites, and
  the neighbours of a user are mostly their group;
* dates lie in 1999-11-11 .. 2005-12-31; each user is active over one span whose start is
  skewed late (Netflix grew), and a quarter of a user's ratings fall on the sign-up day;
* customer ids are sparse random integers in 1 .. 2,649,429, movie ids are 1 .. n_movies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict

import numpy as np
import numpy.typing as npt
import pydantic
from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmrec._io import atomic_open, file_sha256, write_json_atomic
from llmrec._paths import cache_dir
from llmrec._progress import progress_bar
from llmrec.data._netflix_format import (
    FIRST_DAY,
    LAST_DAY,
    _chunks,
    _file_bounds,
    _format_block,
    _titles_csv,
)
from llmrec.data._titles import film_titles
from llmrec.data.synthetic_probe import draw_hidden, probe_bytes, qualifying_bytes
from llmrec.errors import ConfigError

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "DEFAULT_SYNTHETIC",
    "FORMAT_VERSION",
    "HIDDEN_FILES",
    "MARKER",
    "NETFLIX_STAR_SHARES",
    "SyntheticConfig",
    "ensure_synthetic",
    "write_netflix",
]

#: Share of 1..5 stars over all Netflix Prize ratings (Bennett & Lanning, KDD Cup 2007).
NETFLIX_STAR_SHARES = (0.046, 0.101, 0.287, 0.336, 0.231)
#: Bumped whenever the generator's output changes for the same config (part of the cache key).
FORMAT_VERSION = 1
#: Completion marker written last into a generated folder.
MARKER = "synthetic.json"
#: The Prize's hidden-set files, written beside the ratings (see :mod:`.synthetic_probe`).
HIDDEN_FILES = ("probe.txt", "qualifying.txt")

MAX_CUSTOMER_ID = 2_649_429

_ZIPF_EXPONENT = 1.0
_ZIPF_OFFSET = 5.0
_ACTIVITY_SIGMA = 1.2
_GROUP_SHARE = 0.65
_UNIFORM_SHARE = 0.03
_SECOND_GROUP = 0.1
_FAVOURITE_BOOST = 3.5
_FAVOURITES_SHARE = 0.03
_FAV_PARETO = 0.8
_SIGNUP_DAY_SHARE = 0.25
_MIX_ROUNDS = 6
_UNIFORM_ROUNDS = 6


class SyntheticConfig(BaseModel):
    """Size and seed of a synthetic Netflix-format data set (see :func:`write_netflix`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_users: int = Field(20_000, ge=1, le=MAX_CUSTOMER_ID, description="Distinct customers.")
    n_movies: int = Field(2_000, ge=1, le=9_999_999, description="Movies, ids 1..n_movies.")
    n_ratings: int = Field(1_000_000, ge=1, le=2_000_000_000, description="Total ratings (exact).")
    n_groups: int = Field(30, ge=1, le=1_000, description="Latent taste groups.")
    n_files: int = Field(4, ge=1, le=64, description="combined_data_k.txt files to split into.")
    seed: int = Field(0, ge=0, description="Seed: same config and seed give the same bytes.")

    @model_validator(mode="after")
    def _consistent(self) -> SyntheticConfig:
        if self.n_ratings > self.n_users * self.n_movies:
            raise ConfigError(
                f"n_ratings={self.n_ratings:,} exceeds n_users*n_movies="
                f"{self.n_users * self.n_movies:,}: a user rates each movie at most once"
            )
        if self.n_ratings < max(self.n_users, self.n_movies):
            raise ConfigError(
                f"n_ratings={self.n_ratings:,} must be at least max(n_users, n_movies)="
                f"{max(self.n_users, self.n_movies):,}: every user and every movie needs a rating"
            )
        if self.n_files > self.n_movies:
            raise ConfigError(
                f"n_files={self.n_files} exceeds n_movies={self.n_movies}: "
                "every file holds at least one movie"
            )
        return self

    def key(self) -> str:
        """Folder name encoding every parameter and the format version."""
        return (
            f"v{FORMAT_VERSION}-u{self.n_users}-m{self.n_movies}-r{self.n_ratings}"
            f"-g{self.n_groups}-f{self.n_files}-s{self.seed}"
        )


#: The demo's data: the whole demo (truth, baselines, metrics) runs in well under a minute.
DEFAULT_SYNTHETIC = SyntheticConfig()


class SyntheticOverrides(TypedDict, total=False):
    """The :class:`SyntheticConfig` fields :func:`write_netflix` and :func:`ensure_synthetic`
    take as keywords over ``config`` (``None``: keep the config's value)."""

    n_users: int | None
    n_movies: int | None
    n_ratings: int | None
    seed: int | None
    n_groups: int | None
    n_files: int | None


def _config(config: SyntheticConfig | None, overrides: SyntheticOverrides) -> SyntheticConfig:
    unknown = sorted(set(overrides) - set(SyntheticOverrides.__annotations__))
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {', '.join(map(repr, unknown))}")
    base = (config or DEFAULT_SYNTHETIC).model_dump()
    base.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return SyntheticConfig(**base)
    except pydantic.ValidationError as exc:
        raise ConfigError.from_validation("synthetic data config", exc) from None


# -- generation ------------------------------------------------------------------------------


def _apportion(weights: npt.NDArray[np.float64], total: int, cap: int) -> npt.NDArray[np.int64]:
    """Integer counts ``>= 1`` and ``<= cap`` summing to ``total``, proportional to ``weights``.

    Largest-remainder rounding; the share of users who hit ``cap`` is spread over the others.
    """
    n = weights.size
    counts = np.ones(n, dtype=np.int64)
    remaining = total - n
    while remaining > 0:
        free = counts < cap
        w = np.where(free, weights, 0.0)
        share = remaining * w / w.sum()
        add = np.floor(share).astype(np.int64)
        left = remaining - int(add.sum())
        if left > 0:
            frac = np.where(free, share - add, -1.0)
            add[np.argsort(-frac, kind="stable")[:left]] += 1
        add = np.minimum(add, cap - counts)
        counts += add
        remaining = total - int(counts.sum())
    return counts


def _urn(weights: npt.NDArray[np.float64], size: int) -> npt.NDArray[np.int32]:
    """A table of ``size`` slots holding index ``i`` about ``size·w_i`` times (at least once).

    Drawing a uniform slot samples ``i`` with probability proportional to its slot count: one
    multiply and one gather per draw, where a binary search over the cumulative weights costs
    about ten times more on unsorted draws.
    """
    counts = _apportion(weights, size, size)
    return np.repeat(np.arange(weights.size, dtype=np.int32), counts)


class _Taste:
    """Movie popularity, taste groups and users' memberships; draws movies for rating slots."""

    def __init__(self, cfg: SyntheticConfig, rng: np.random.Generator) -> None:
        m, g = cfg.n_movies, min(cfg.n_groups, cfg.n_movies)
        self.n_movies = m
        ranks = rng.permutation(m).astype(np.float64)
        self.pop = (ranks + _ZIPF_OFFSET) ** -_ZIPF_EXPONENT
        self.pop /= self.pop.sum()
        self.pop_urn = _urn(self.pop, max(1 << 20, 64 * m))
        # Favourites: a random order of the movies dealt round-robin to the groups, so the
        # groups' lists do not overlap and each mixes popular films with niche ones.
        k = int(np.clip(round(_FAVOURITES_SHARE * m), 1, 500))
        k = max(1, min(k, m // g))
        self.fav_ids = rng.permutation(m)[: g * k].reshape(k, g).T.copy()
        self.fav = np.zeros((g, m), dtype=bool)
        np.put_along_axis(self.fav, self.fav_ids, True, axis=1)
        # Within a group, a favourite's weight: random, heavy-tailed ordering of the group's list.
        fav_w = rng.pareto(_FAV_PARETO, size=(g, k)) + 0.2
        slots = max(4096, 64 * k)
        self.fav_urn = np.stack([self.fav_ids[i][_urn(fav_w[i], slots)] for i in range(g)])
        self.group1 = rng.integers(g, size=cfg.n_users)
        other = (self.group1 + 1 + rng.integers(max(g - 1, 1), size=cfg.n_users)) % g
        self.group2 = np.where(rng.random(cfg.n_users) < _SECOND_GROUP, other, self.group1)

    def draw(
        self, users: npt.NDArray[np.int64], rng: np.random.Generator, *, mixed: bool
    ) -> npt.NDArray[np.int64]:
        """One movie per entry of ``users``: the taste mixture, or uniform if not ``mixed``."""
        n = users.size
        if not mixed:
            return rng.integers(self.n_movies, size=n)
        kind = rng.random(n)
        out = self.pop_urn[rng.integers(self.pop_urn.size, size=n)].astype(np.int64)
        uniform = kind < _UNIFORM_SHARE
        out[uniform] = rng.integers(self.n_movies, size=int(uniform.sum()))
        grp = np.flatnonzero(kind >= 1.0 - _GROUP_SHARE)
        which = np.where(
            rng.random(grp.size) < 0.5, self.group1[users[grp]], self.group2[users[grp]]
        )
        out[grp] = self.fav_urn[which, rng.integers(self.fav_urn.shape[1], size=grp.size)]
        return out

    def favourite(
        self, users: npt.NDArray[np.int64], movies: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.bool_]:
        """Whether each movie is among the favourites of one of its user's groups."""
        return np.asarray(
            self.fav[self.group1[users], movies] | self.fav[self.group2[users], movies]
        )


def _fill_movies(
    counts: npt.NDArray[np.int64],
    taste: _Taste,
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Distinct (user, movie) pairs: ``counts[u]`` movies for user ``u``, every movie once+.

    Slots are drawn in bulk from the taste mixture. One sort finds the repeated pairs of the
    first draw (a movie's coverage slot always wins); after that only the redrawn slots are
    checked, against the sorted keys already accepted. Redraws follow the mixture for a few
    rounds, then the uniform distribution, and the last few slots of a user are filled from
    the movies that user has not rated.
    """
    m = taste.n_movies
    n = int(counts.sum())
    users = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    movies = np.full(n, -1, dtype=np.int64)
    # Coverage: every movie gets one rating, in a slot chosen at random.
    movies[rng.choice(n, size=m, replace=False)] = rng.permutation(m)
    drawn = np.flatnonzero(movies < 0)
    movies[drawn] = taste.draw(users[drawn], rng, mixed=True)
    is_drawn = np.zeros(n, dtype=bool)
    is_drawn[drawn] = True
    key = (users * m + movies) * 2 + is_drawn
    order = np.argsort(key, kind="stable")
    skey = key[order] >> 1
    dup = np.zeros(n, dtype=bool)
    dup[1:] = skey[1:] == skey[:-1]
    accepted = skey[~dup]  # sorted, distinct
    pending = np.sort(order[dup])
    for rnd in range(1, _MIX_ROUNDS + _UNIFORM_ROUNDS):
        if pending.size == 0:
            break
        movies[pending] = taste.draw(users[pending], rng, mixed=rnd < _MIX_ROUNDS)
        new = users[pending] * m + movies[pending]
        at = np.minimum(np.searchsorted(accepted, new), accepted.size - 1)
        free = accepted[at] != new
        _, first = np.unique(new[free], return_index=True)
        ok = np.flatnonzero(free)[first]
        keys = np.sort(new[ok])
        accepted = np.insert(accepted, np.searchsorted(accepted, keys), keys)
        keep = np.ones(pending.size, dtype=bool)
        keep[ok] = False
        pending = pending[keep]
    starts = np.concatenate(([0], np.cumsum(counts)))
    for u in np.unique(users[pending]):
        lo, hi = starts[u], starts[u + 1]
        slots = pending[(pending >= lo) & (pending < hi)]
        rated = np.setdiff1d(np.arange(lo, hi), slots)
        unrated = np.setdiff1d(np.arange(m), movies[rated])
        movies[slots] = rng.choice(unrated, size=slots.size, replace=False)
    return users, movies


def _stars(score: npt.NDArray[np.float64]) -> npt.NDArray[np.int8]:
    """Stars by rank of ``score``, cut at the Netflix shares: the distribution matches exactly.

    The score at each cut rank is found by partial sorting (``np.partition``, linear time);
    scores are continuous, so ties have probability zero.
    """
    n = score.size
    cuts = np.rint(np.cumsum(NETFLIX_STAR_SHARES[:4]) * n).astype(np.int64)
    inside = cuts[cuts < n]
    part = np.partition(score, inside) if inside.size else score
    thresholds = np.full(4, np.inf)
    thresholds[: inside.size] = part[inside]
    return (1 + np.searchsorted(thresholds, score, side="right")).astype(np.int8)


def _days(
    users: npt.NDArray[np.int64], n_users: int, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """Day offsets from :data:`FIRST_DAY`: within each user's span, which starts late-skewed."""
    span = int((LAST_DAY - FIRST_DAY).astype(np.int64))
    start = np.floor(span * rng.beta(2.2, 1.0, size=n_users)).astype(np.int64)
    length = np.floor(span * rng.beta(1.0, 2.5, size=n_users)).astype(np.int64)
    end = np.minimum(start + length, span)
    n = users.size
    s, e = start[users], end[users]
    day = s + np.floor(rng.random(n) * (e - s + 1)).astype(np.int64)
    signup = rng.random(n) < _SIGNUP_DAY_SHARE
    return np.where(signup, s, day)


class _Generated(NamedTuple):
    """Generated ratings in file order (by movie id) and the latent structure behind them."""

    customer: npt.NDArray[np.int64]  # per rating: customer id
    movie: npt.NDArray[np.int64]  # per rating: movie id, 1-based
    stars: npt.NDArray[np.int8]
    days: npt.NDArray[np.int64]  # per rating: days after FIRST_DAY
    customer_ids: npt.NDArray[np.int64]  # per user index: customer id
    group1: npt.NDArray[np.int64]  # per user index: taste group
    group2: npt.NDArray[np.int64]  # per user index: second group (= group1 if none)
    favourites: npt.NDArray[np.int64]  # (groups, k): each group's favourite movie ids, 1-based


def _generate(cfg: SyntheticConfig) -> _Generated:
    """Draw the whole data set for ``cfg`` (deterministic in ``cfg.seed``)."""
    seeds = np.random.SeedSequence([cfg.seed, FORMAT_VERSION]).spawn(3)
    rng = np.random.default_rng(seeds[0])
    taste = _Taste(cfg, rng)
    activity = rng.lognormal(0.0, _ACTIVITY_SIGMA, size=cfg.n_users)
    counts = _apportion(activity, cfg.n_ratings, cfg.n_movies)
    users, movies = _fill_movies(counts, taste, rng)
    user_bias = rng.normal(0.0, 0.5, size=cfg.n_users)
    quality = rng.normal(0.0, 0.5, size=cfg.n_movies)
    score = (
        user_bias[users]
        + quality[movies]
        + _FAVOURITE_BOOST * taste.favourite(users, movies)
        + rng.normal(0.0, 1.0, size=users.size)
    )
    stars = _stars(score)
    days = _days(users, cfg.n_users, np.random.default_rng(seeds[1]))
    customer = rng.choice(MAX_CUSTOMER_ID, size=cfg.n_users, replace=False).astype(np.int64) + 1
    # File order: by movie; within a movie, a random order (the real files are unsorted).
    perm = rng.permutation(users.size)
    order = perm[np.argsort(movies[perm], kind="stable")]
    return _Generated(
        customer[users[order]],
        movies[order] + 1,
        stars[order],
        days[order],
        customer,
        taste.group1,
        taste.group2,
        taste.fav_ids + 1,
    )


# -- writing and caching --------------------------------------------------------------------------


def _titles_bytes(cfg: SyntheticConfig) -> bytes:
    """``movie_titles.csv`` for ``cfg``: titles drawn from the third stream of the seed."""
    seq = np.random.SeedSequence([cfg.seed, FORMAT_VERSION]).spawn(3)[2]
    return _titles_csv(film_titles(cfg.n_movies, np.random.default_rng(seq)))


def _hidden_rng(cfg: SyntheticConfig) -> np.random.Generator:
    """The fourth stream of the seed (the first three are unchanged by its existence)."""
    return np.random.default_rng(np.random.SeedSequence([cfg.seed, FORMAT_VERSION]).spawn(4)[3])


def _expected_files(cfg: SyntheticConfig) -> list[str]:
    names = [f"combined_data_{i}.txt" for i in range(1, cfg.n_files + 1)]
    return [*names, "movie_titles.csv", *HIDDEN_FILES]


def write_netflix(
    folder: str | Path,
    config: SyntheticConfig | None = None,
    *,
    progress: bool = False,
    **overrides: Unpack[SyntheticOverrides],
) -> Path:
    """Write a synthetic data set in the Netflix Prize Kaggle layout into ``folder``.

    Parameters come from ``config`` (default :data:`DEFAULT_SYNTHETIC`), overridden by the
    keywords. Writes ``combined_data_1.txt`` ... ``combined_data_{n_files}.txt`` (movies in id
    order in contiguous blocks; per movie a line ``N:`` then ``CustomerID,Rating,YYYY-MM-DD``
    lines; LF line ends), ``movie_titles.csv`` (``id,year,title``, ISO-8859-1, ``NULL`` for an
    unknown year), and ``probe.txt`` and ``qualifying.txt`` in the Prize's layout, drawn from each
    user's most recent ratings (:mod:`llmrec.data.synthetic_probe`: probe ratings stay in the
    training files, qualifying ones are in none), each atomically, then the completion marker
    :data:`MARKER` with the config
    and each file's size and SHA-256. ``combined_data_*.txt`` files beyond ``n_files`` left by
    an earlier run are removed. Same config, same bytes. Raises :class:`ConfigError` for an
    impossible config.
    """
    cfg = _config(config, overrides)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).unlink(missing_ok=True)
    customer, movie, stars, days, *_ = _generate(cfg)
    bounds = _file_bounds(movie, cfg.n_movies, cfg.n_files)
    movie_starts = np.flatnonzero(np.concatenate(([True], movie[1:] != movie[:-1])))
    names = [f"combined_data_{i}.txt" for i in range(1, cfg.n_files + 1)]
    for stale in out.glob("combined_data_*.txt"):
        if stale.name not in names:
            stale.unlink()
    bar = progress_bar(enabled=progress, total=customer.size, desc="writing ratings")
    lo = 0
    with bar:
        for name, last in zip(names, bounds, strict=True):
            hi = int(np.searchsorted(movie, last, side="right"))
            with atomic_open(out / name, "wb") as fh:
                for a, b in _chunks(lo, hi, movie_starts):
                    fh.write(_format_block(customer[a:b], movie[a:b], stars[a:b], days[a:b]))
                    bar.update(b - a)
            lo = hi
    with atomic_open(out / "movie_titles.csv", "wb") as fh:
        fh.write(_titles_bytes(cfg))
    hidden = draw_hidden(customer, movie, days, cfg.n_movies, _hidden_rng(cfg))
    del customer, movie, stars, days
    with atomic_open(out / "probe.txt", "wb") as fh:
        fh.write(probe_bytes(hidden))
    with atomic_open(out / "qualifying.txt", "wb") as fh:
        fh.write(qualifying_bytes(hidden))
    files = {
        name: {"size": (out / name).stat().st_size, "sha256": file_sha256(out / name)}
        for name in _expected_files(cfg)
    }
    write_json_atomic(
        out / MARKER,
        {
            "format": f"llmrec-synthetic-netflix/{FORMAT_VERSION}",
            "config": cfg.model_dump(),
            "files": files,
        },
    )
    return out


def _complete(folder: Path, cfg: SyntheticConfig) -> bool:
    """Whether ``folder`` holds a finished generation of ``cfg`` with undamaged files."""
    try:
        meta: Any = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(meta, dict) or meta.get("config") != cfg.model_dump():
        return False
    files = meta.get("files")
    if not isinstance(files, dict) or sorted(files) != sorted(_expected_files(cfg)):
        return False  # e.g. a folder written before probe.txt and qualifying.txt existed
    for name, info in files.items():
        path = folder / str(name)
        try:
            if path.stat().st_size != info["size"] or file_sha256(path) != info["sha256"]:
                return False
        except (OSError, KeyError, TypeError):
            return False
    return True


def ensure_synthetic(
    folder: str | Path | None = None,
    config: SyntheticConfig | None = None,
    *,
    progress: bool = False,
    **overrides: Unpack[SyntheticOverrides],
) -> Path:
    """A folder holding the synthetic data for this config, generated only if missing.

    The default folder is ``cache_dir("synthetic", config.key())``. A folder is reused when its
    marker names the same config and every listed file has the recorded size and SHA-256;
    otherwise (missing, incomplete, damaged, other config) it is generated again.
    """
    cfg = _config(config, overrides)
    out = Path(folder) if folder is not None else cache_dir("synthetic", cfg.key())
    if not _complete(out, cfg):
        write_netflix(out, cfg, progress=progress)
    return out

"""TALLRec's movie data, built exactly: ``tallrec.build(ratings, catalog) -> TallRecSplits``.

TALLRec (Bao et al., "TALLRec: An Effective and Efficient Tuning Framework to Align Large
Language Model with Recommendation", RecSys 2023) fine-tunes a model to answer whether a user
will like a movie, given ten movies the user rated before it. Its script
(``preprocess_movie.py`` in SAI990323/TALLRec) builds the data from MovieLens-100k:

1. users in the order of their first rating in ``u.data``; a rating above 3 stars is "liked";
2. each user's ratings sorted by timestamp with a stable sort (same second: file order);
3. every window of ``window`` = 10 consecutive ratings followed by a target, user after user;
4. the **last** 10,000 windows overall; the first 80 % train, the next 10 % valid, the rest
   test (cut at ``int(n·0.8)`` and ``int(n·0.9)``);
5. the Alpaca row: ``instruction`` (:data:`~llmrec.prompts.TALLREC_INSTRUCTION`), ``input``
   (``User Preference: "A (1995)", ...`` / ``User Unpreference: ...`` / ``Whether the user will
   like the target movie "T (1996)"?``) and ``output`` ``"Yes."`` or ``"No."``; titles as
   ``"Title (Year)"``;
6. ``json.dump(rows, f, indent=4)``.

:meth:`TallRecSplits.write` writes the same bytes: on RecBole's ml-100k atomic files,
``valid.json`` and ``test.json`` equal TALLRec's published ``data/movie`` files (their SHA-256
is pinned in the tests) and ``train.json`` has its 8,000 rows. Two details decide exactness:
the sort uses the ratings' ``time`` to the second (a table without it falls back to the day,
recorded as ``meta["clock"] = "D"``, and then cannot match), and titles are the catalog's
``"Title (Year)"`` labels (TALLRec reads ``u.item``'s title field; RecBole's ``movie_title`` and
``release_year`` give the same labels on every row of the published files). TALLRec sorts the
timestamp *strings*; on ml-100k every timestamp has nine digits, so that is the numeric order.

Reading a model on these rows (:func:`score`) follows TALLRec's ``evaluate.py``: the
probability of the first answer token over the whole vocabulary, then the "Yes" and "No"
entries normalised over the two; AUC (:func:`llmrec.metrics.auc`) against the labels.
:meth:`TallRecSet.sample` draws TALLRec's few-shot training sets (16 / 64 / 256 rows) and
:meth:`TallRecSet.write_chat` writes rows as chat JSONL for ``llmrec finetune local``, in the
prompt :func:`score` asks (system = ``instruction``, user = ``input``, assistant =
``output``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from llmrec._io import write_json_atomic, write_text_atomic
from llmrec.data.catalog import Catalog
from llmrec.data.ratings import Ratings
from llmrec.errors import ConfigError
from llmrec.prompts.history import History, HistoryTemplate
from llmrec.protocols._order import clock, user_runs_in_time_order

__all__ = [
    "YES_NO",
    "TallRecSet",
    "TallRecSplit",
    "TallRecSplits",
    "build",
    "chat_messages",
    "score",
    "yes_probability",
]

YES_NO = ("Yes", "No")
"""The answers TALLRec reads (its LLaMA token ids 8241 and 3782 are "Yes" and "No")."""

_NAMES = ("train", "valid", "test")


@dataclass(frozen=True, repr=False)
class TallRecSet:
    """One part (train, valid or test): per row, the user, the ``window`` movies rated before
    the target (oldest first) with their stars and times, and the target with its stars."""

    name: str
    user_id: npt.NDArray[np.int64]
    history: npt.NDArray[np.int64]
    history_rating: npt.NDArray[np.int64]
    history_time: npt.NDArray[np.int64]
    target: npt.NDArray[np.int64]
    target_rating: npt.NDArray[np.int64]
    target_time: npt.NDArray[np.int64]
    catalog: Catalog
    template: HistoryTemplate
    unit: Literal["s", "D"] = "s"

    def __len__(self) -> int:
        return int(self.target.size)

    def __repr__(self) -> str:
        return f"TallRecSet({self.name!r}, {len(self):,} rows)"

    @property
    def liked(self) -> npt.NDArray[np.bool_]:
        """Whether each target is liked (stars above ``like_above``): the label."""
        return np.asarray(self.target_rating > self.template.like_above)

    def histories(self) -> Iterator[History]:
        """Each row's window as a :class:`~llmrec.prompts.History`."""
        for i in range(len(self)):
            yield History(
                int(self.user_id[i]),
                tuple(self.history[i].tolist()),
                tuple(self.history_rating[i].tolist()),
                tuple(self.history_time[i].tolist()),
                self.unit,
            )

    def to_alpaca(self) -> list[dict[str, Any]]:
        """TALLRec's rows: ``{"instruction", "input", "output"}``, in order."""
        targets = self.target.tolist()
        liked = self.liked.tolist()
        return [
            self.template.alpaca(h, t, y, self.catalog)
            for h, t, y in zip(self.histories(), targets, liked, strict=True)
        ]

    def sample(self, n: int, seed: int = 0) -> TallRecSet:
        """``n`` rows drawn without replacement (seeded; kept in their order in the split), as
        TALLRec draws its 16 / 64 / 256 training examples; all rows when ``n`` is larger."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"sample needs a positive number of rows, got {n!r}")
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.permutation(len(self))[: min(n, len(self))])
        return TallRecSet(
            name=self.name,
            user_id=self.user_id[keep],
            history=self.history[keep],
            history_rating=self.history_rating[keep],
            history_time=self.history_time[keep],
            target=self.target[keep],
            target_rating=self.target_rating[keep],
            target_time=self.target_time[keep],
            catalog=self.catalog,
            template=self.template,
            unit=self.unit,
        )

    def write_chat(self, path: str | Path) -> Path:
        """Chat JSONL (``{"messages": [system, user, assistant]}`` per row) for ``llmrec
        finetune local``: :func:`chat_messages` plus the answer ("Yes." or "No.")."""
        lines = [
            json.dumps(
                {
                    "messages": [
                        *chat_messages(row),
                        {"role": "assistant", "content": row["output"]},
                    ]
                },
                ensure_ascii=False,
                separators=(",", ":"),
            )
            for row in self.to_alpaca()
        ]
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out, "".join(line + "\n" for line in lines))
        return out

    def to_json(self) -> str:
        """The file TALLRec writes: ``json.dump(rows, f, indent=4)`` (ASCII escapes, no final
        newline)."""
        return json.dumps(self.to_alpaca(), indent=4)

    def write(self, folder: str | Path) -> Path:
        """Write ``folder/NAME.json`` atomically (``NAME`` is train, valid or test)."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{self.name}.json"
        write_text_atomic(path, self.to_json())
        return path


TallRecSplit = TallRecSet
"""One part of the split (train, valid or test); the same class as :class:`TallRecSet`."""


def chat_messages(row: dict[str, Any]) -> list[dict[str, str]]:
    """An Alpaca row as the chat the model is asked: system = ``instruction``, user =
    ``input`` (:meth:`~llmrec.prompts.HistoryTemplate.yes_no_messages` writes the same)."""
    for name in ("instruction", "input"):
        if not isinstance(row.get(name), str):
            raise ConfigError(f"a TALLRec row needs a string {name!r}; got {row.get(name)!r}")
    return [
        {"role": "system", "content": row["instruction"]},
        {"role": "user", "content": row["input"]},
    ]


def yes_probability(
    logprobs: npt.ArrayLike, rule: Literal["tallrec", "ratio"] = "tallrec"
) -> npt.NDArray[np.float64]:
    """P("Yes") from ``(n, 2)`` first-token log-probabilities of "Yes" and "No".

    ``"tallrec"`` (``evaluate.py``: ``softmax(softmax(logits)[:, [yes, no]])[:, 0]``):
    ``exp(p_yes) / (exp(p_yes) + exp(p_no))`` of the two *probabilities*, as TALLRec computes
    it; ``"ratio"``: ``p_yes / (p_yes + p_no)``. Both order rows by ``p_yes`` against
    ``p_no`` but not identically, so AUCs can differ slightly; the reproduction uses TALLRec's.
    """
    lp = np.asarray(logprobs, dtype=np.float64)
    if lp.ndim != 2 or lp.shape[1] != 2:
        raise ConfigError(f"expected (rows, 2) log-probabilities of Yes and No, got {lp.shape}")
    p = np.exp(lp)
    if rule == "tallrec":
        return np.asarray(1.0 / (1.0 + np.exp(p[:, 1] - p[:, 0])))
    if rule == "ratio":
        both = p.sum(axis=1)
        if (both == 0).any():
            i = int(np.flatnonzero(both == 0)[0])
            raise ConfigError(f"row {i}: neither Yes nor No has any probability")
        return np.asarray(p[:, 0] / both)
    raise ConfigError(f"rule must be 'tallrec' or 'ratio', got {rule!r}")


def score(
    backend: Any,
    rows: list[dict[str, Any]],
    *,
    rule: Literal["tallrec", "ratio"] = "tallrec",
) -> npt.NDArray[np.float64]:
    """P("Yes") for each :meth:`TallRecSet.to_alpaca` row, in order (:func:`yes_probability`).

    ``backend`` is a fitted language-model backend that reads first-token log-probabilities
    (``option_logprobs``: the ``transformers`` backend exactly; an OpenAI-compatible server from
    ``top_logprobs``); requests are cached like any other. A backend without the capability
    raises :class:`~llmrec.errors.CapabilityError`.
    """
    from llmrec.errors import CapabilityError

    read = getattr(backend, "option_logprobs", None)
    if read is None:
        raise CapabilityError(
            f"{type(backend).__name__} cannot score: it has no option_logprobs (a language-model "
            "backend that reads log-probabilities, e.g. 'transformers')"
        )
    if not rows:
        return np.zeros(0, dtype=np.float64)
    logprobs = read([chat_messages(r) for r in rows], YES_NO)
    return yes_probability(logprobs, rule)


@dataclass(frozen=True, repr=False)
class TallRecSplits:
    """TALLRec's train, valid and test parts, and how they were built (``meta``)."""

    train: TallRecSet
    valid: TallRecSet
    test: TallRecSet
    meta: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[TallRecSet]:
        return iter((self.train, self.valid, self.test))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s.name}={len(s):,}" for s in self)
        return f"TallRecSplits({sizes})"

    def write(self, folder: str | Path) -> dict[str, Path]:
        """Write ``train.json``, ``valid.json`` and ``test.json`` (TALLRec's bytes) and
        ``tallrec.meta.json`` (the options, the ratings' fingerprint, each file's SHA-256)."""
        out = Path(folder)
        paths = {s.name: s.write(out) for s in self}
        digests = {
            name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in paths.items()
        }
        write_json_atomic(out / "tallrec.meta.json", {**self.meta, "sha256": digests})
        return paths


def _cuts(n: int, split: tuple[float, float, float]) -> tuple[int, int]:
    """TALLRec's cut points ``int(n·a)`` and ``int(n·(a+b))``; ``a+b`` is rounded to 12
    decimals so that 0.8 + 0.1 is 0.9, the literal TALLRec uses."""
    return int(n * split[0]), int(n * round(split[0] + split[1], 12))


def build(
    ratings: Ratings,
    catalog: Catalog,
    *,
    window: int = 10,
    last: int | None = 10_000,
    split: tuple[float, float, float] = (0.8, 0.1, 0.1),
    like_above: int = 3,
) -> TallRecSplits:
    """TALLRec's train / valid / test windows from ``ratings`` (module docstring).

    ``window`` movies precede each target; ``last`` keeps the last this many windows overall
    (``None``: all); ``split`` gives the train, valid and test shares in that order (summing
    to 1); a movie is liked with more than ``like_above`` stars. Every target and history movie
    must be in ``catalog``.
    """
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ConfigError(f"window must be a positive integer, got {window!r}")
    if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 1):
        raise ConfigError(f"last must be a positive integer or None, got {last!r}")
    if len(split) != 3 or any(s < 0 for s in split) or not math.isclose(sum(split), 1.0):
        raise ConfigError(f"split must be three non-negative shares summing to 1, got {split!r}")
    if isinstance(like_above, bool) or not isinstance(like_above, int) or not 0 <= like_above <= 5:
        raise ConfigError(f"like_above must be a whole number of stars 0-5, got {like_above!r}")
    order, starts, lengths = user_runs_in_time_order(ratings, users_by="first_appearance")
    per_user = np.maximum(lengths - window, 0)
    total = int(per_user.sum())
    keep = total if last is None else min(total, last)
    # target positions (in ``order``) of every window, user after user; then the last ``keep``
    first_target = np.repeat(starts + window, per_user)
    offset = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(per_user) - per_user, per_user)
    targets = (first_target + offset)[total - keep :]
    rows_target = order[targets]
    rows_history = order[targets[:, None] - window + np.arange(window)[None, :]]
    when, unit = clock(ratings)
    movies = np.asarray(ratings.movie_id, dtype=np.int64)
    missing = sorted(
        {int(m) for m in np.unique(movies[np.concatenate([rows_target, rows_history.ravel()])])}
        - {int(m) for m in catalog.movie_ids}
    )
    if missing:
        raise ConfigError(
            f"{len(missing)} rated movie(s) are not in the catalog (first: {missing[0]}); "
            "TALLRec writes every movie's title"
        )
    template = HistoryTemplate(style="liked_disliked", last=window, like_above=like_above)
    stars = np.asarray(ratings.rating, dtype=np.int64)
    users = np.asarray(ratings.user_id, dtype=np.int64)
    a, b = _cuts(keep, split)
    parts = []
    for name, lo, hi in zip(_NAMES, (0, a, b), (a, b, keep), strict=True):
        t, h = rows_target[lo:hi], rows_history[lo:hi]
        parts.append(
            TallRecSet(
                name=name,
                user_id=users[t],
                history=movies[h],
                history_rating=stars[h],
                history_time=when[h],
                target=movies[t],
                target_rating=stars[t],
                target_time=when[t],
                catalog=catalog,
                template=template,
                unit=unit,
            )
        )
    meta = {
        "protocol": "tallrec",
        "window": window,
        "last": last,
        "split": list(split),
        "like_above": like_above,
        "clock": unit,
        "n_windows_available": total,
        "rows": {p.name: len(p) for p in parts},
        "ratings_fingerprint": ratings.fingerprint(),
    }
    return TallRecSplits(parts[0], parts[1], parts[2], meta)

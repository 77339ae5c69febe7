"""Preference pairs for DPO: the gold list (chosen) against a worse answer (rejected).

For each example of a :class:`~llmrec.truth.ProfileDataset`, the prompt is the template's
``[system, user]`` messages and *chosen* is the gold list in the template's output format, the
same text :func:`~llmrec.finetune.export_chat_jsonl` writes as the assistant turn. *Rejected*
comes from one named source (:data:`REJECTED_SOURCES`):

``popularity``
    the most-rated movies (rating count in ``ratings``; ties by smaller movie id) that the user
    has not rated and that are not in the gold list: the popularity bias of the study's truth.
``random``
    movies of the catalog the user has not rated and that are not in the gold list, drawn
    without replacement from ``numpy.random.default_rng([seed, user_id])``, so a user's draw
    does not depend on the other users or their order.
``model``
    the raw answer a backend gave for the same profile in an earlier run (self-play, as in
    SPRec), kept only when it differs from the gold list.
``hallucinated``
    that backend's answer, kept only when it names at least one title the catalog does not hold.

``popularity`` and ``random`` rejects hold **as many movies as the gold list** (fewer only when
the catalog runs out), rendered in the same format, so chosen and rejected differ in which movies
they name, not in length or layout (DPO would otherwise learn the length). ``model`` and
``hallucinated`` rejects are the answer text as the model wrote it.

Nothing is dropped silently: :class:`PairSummary` counts every example that gave no pair, by
reason (:data:`DROP_REASONS`). The result depends only on the inputs and ``seed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

import numpy as np
import numpy.typing as npt

from llmrec.errors import ConfigError, DataFormatError

if TYPE_CHECKING:
    from llmrec.data.catalog import Catalog
    from llmrec.data.ratings import Ratings
    from llmrec.data.resolver import TitleResolver
    from llmrec.prompts.template import PromptTemplate
    from llmrec.truth.dataset import Example, ProfileDataset

__all__ = [
    "DROP_REASONS",
    "REJECTED_SOURCES",
    "AnswerLike",
    "PairSummary",
    "PreferencePair",
    "RejectedSource",
    "build_preference_pairs",
]

RejectedSource = Literal["popularity", "model", "hallucinated", "random"]
REJECTED_SOURCES: tuple[str, ...] = get_args(RejectedSource)
"""The names ``rejected=`` accepts."""

DROP_REASONS: Mapping[str, str] = {
    "no_answer": "no earlier answer for the user, or an empty one",
    "same_as_gold": "the earlier answer names exactly the gold list, in order",
    "no_hallucination": "every title of the earlier answer is in the catalog",
    "no_candidates": "no movie left that the user has not rated and that is not gold",
    "identical": "the rejected text equals the chosen text",
}
"""Why an example gave no pair (keys of :attr:`PairSummary.dropped`)."""


class AnswerLike(Protocol):
    """An earlier answer: what :class:`llmrec.recommenders.Recommendation` provides."""

    @property
    def raw_text(self) -> str | None: ...
    @property
    def movie_ids(self) -> tuple[int, ...]: ...
    @property
    def diagnostics(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class PreferencePair:
    """One prompt with a preferred and a non-preferred assistant answer."""

    user_id: int
    prompt: list[dict[str, str]]
    chosen: str
    rejected: str

    def to_openai(self) -> dict[str, Any]:
        """The line object of OpenAI's preference (DPO) fine-tuning format."""
        return {
            "input": {"messages": [dict(m) for m in self.prompt]},
            "preferred_output": [{"role": "assistant", "content": self.chosen}],
            "non_preferred_output": [{"role": "assistant", "content": self.rejected}],
        }


@dataclass
class PairSummary:
    """How many pairs a build gave and, by reason, how many examples it dropped."""

    source: str
    n_examples: int = 0
    n_pairs: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    path: str | None = None

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "n_examples": self.n_examples,
            "n_pairs": self.n_pairs,
            "dropped": dict(sorted(self.dropped.items())),
            "path": self.path,
        }

    def __str__(self) -> str:
        where = f" to {self.path}" if self.path else ""
        head = f"{self.n_pairs:,} pairs (rejected: {self.source}) from {self.n_examples:,} examples"
        drops = ", ".join(f"{n:,} {reason}" for reason, n in sorted(self.dropped.items()))
        return head + where + (f"; dropped {drops}" if drops else "")


def build_preference_pairs(
    dataset: ProfileDataset,
    template: PromptTemplate,
    catalog: Catalog,
    *,
    rejected: str = "popularity",
    ratings: Ratings | None = None,
    seed: int = 0,
    answers: Mapping[int, str | AnswerLike] | None = None,
) -> tuple[list[PreferencePair], PairSummary]:
    """Pairs in dataset order, and the summary of what was kept and dropped.

    ``ratings`` is needed by ``popularity`` and ``random``; ``answers`` (user id → raw answer
    text, or an object with ``raw_text``, ``movie_ids`` and ``diagnostics`` such as a
    :class:`~llmrec.recommenders.Recommendation`; see :func:`~llmrec.finetune.load_answers`) by
    ``model`` and ``hallucinated``. An empty profile or gold list, or a movie missing from
    ``catalog``, raises :class:`~llmrec.errors.DataFormatError` naming the user.
    """
    summary = PairSummary(source=rejected)
    examples = list(dataset)
    source = _source(rejected, catalog, examples, ratings=ratings, seed=seed, answers=answers)
    for example in examples:
        if not example.profile or not example.gold:
            what = "profile" if not example.profile else "gold list"
            raise DataFormatError(
                f"user {example.user_id} has an empty {what}; filter such users before exporting"
            )
    pairs: list[PreferencePair] = []
    for example in examples:
        summary.n_examples += 1
        try:
            prompt = template.messages(example.profile, catalog)
            chosen = template.target(example.gold, catalog)
            text = source.rejected(example, template)
        except KeyError as exc:
            raise DataFormatError(f"user {example.user_id}: {exc.args[0]}") from None
        if isinstance(text, _Drop):
            summary.drop(text.reason)
        elif text.strip() == chosen.strip():
            summary.drop("identical")
        else:
            pairs.append(PreferencePair(example.user_id, prompt, chosen, text))
            summary.n_pairs += 1
    return pairs, summary


# -- sources ---------------------------------------------------------------------------------
def _source(
    rejected: str,
    catalog: Catalog,
    examples: Sequence[Example],
    *,
    ratings: Ratings | None,
    seed: int,
    answers: Mapping[int, str | AnswerLike] | None,
) -> _Rejecter:
    """The rejecter named ``rejected``; ``ConfigError`` when it is unknown or lacks its input."""
    if rejected not in REJECTED_SOURCES:
        raise ConfigError(f"unknown rejected source {rejected!r}; choose one of {REJECTED_SOURCES}")
    if rejected in ("popularity", "random"):
        if ratings is None:
            raise ConfigError(
                f"rejected={rejected!r} needs ratings= (to know what each user rated)"
            )
        rated = _rated_by(ratings, [e.user_id for e in examples])
        if rejected == "popularity":
            return _PopularityRejecter(ratings, catalog, rated)
        return _RandomRejecter(catalog, rated, seed)
    if answers is None:
        raise ConfigError(
            f"rejected={rejected!r} needs answers= (user id → the backend's earlier answer; "
            "llmrec.finetune.load_answers reads an experiment's recommendations file)"
        )
    return _AnswerRejecter(answers, catalog, hallucinated=rejected == "hallucinated")


@dataclass(frozen=True)
class _Drop:
    reason: str


class _Rejecter(Protocol):
    def rejected(self, example: Example, template: PromptTemplate) -> str | _Drop: ...


def _rated_by(ratings: Ratings, user_ids: Sequence[int]) -> dict[int, set[int]]:
    """The movies each of ``user_ids`` rated (an empty set for a user with no ratings)."""
    wanted = np.asarray(sorted(set(user_ids)), dtype=np.int32)
    mask = np.isin(ratings.user_id, wanted)
    users, movies = ratings.user_id[mask], ratings.movie_id[mask]
    order = np.argsort(users, kind="stable")
    users, movies = users[order], movies[order]
    starts = np.searchsorted(users, wanted, side="left")
    ends = np.searchsorted(users, wanted, side="right")
    return {int(u): set(movies[s:e].tolist()) for u, s, e in zip(wanted, starts, ends, strict=True)}


def _rating_counts(
    movie_id: npt.NDArray[np.int32], ids: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """How many ratings each of ``ids`` has (0 for a movie nobody rated)."""
    count = np.zeros(ids.size, dtype=np.int64)
    if movie_id.size and int(movie_id.min()) >= 0 and int(movie_id.max()) < 1 << 24:
        # small non-negative ids (Netflix: 1-17,770): one bincount pass, no sort
        per_id = np.bincount(movie_id)
        inside = ids < per_id.size
        count[inside] = per_id[ids[inside]]
        return count
    rated_ids, counts = np.unique(movie_id, return_counts=True)
    at = np.searchsorted(rated_ids, ids)
    hit = at < rated_ids.size
    hit[hit] = rated_ids[at[hit]] == ids[hit]
    count[hit] = counts[at[hit]]
    return count


def _excluded(example: Example, rated: Mapping[int, set[int]]) -> set[int]:
    return rated.get(example.user_id, set()) | set(example.profile) | set(example.gold)


class _PopularityRejecter:
    def __init__(self, ratings: Ratings, catalog: Catalog, rated: Mapping[int, set[int]]) -> None:
        self.catalog = catalog
        ids = np.sort(np.asarray(catalog.movie_ids, dtype=np.int64))
        count = _rating_counts(ratings.movie_id, ids)
        # most-rated first, ties by smaller id (lexsort: the last key is the primary one)
        self._ranked: list[int] = ids[np.lexsort((ids, -count))].tolist()
        self._rated = rated

    def rejected(self, example: Example, template: PromptTemplate) -> str | _Drop:
        skip = _excluded(example, self._rated)
        need = len(example.gold)
        picked: list[int] = []
        for movie_id in self._ranked:
            if movie_id not in skip:
                picked.append(movie_id)
                if len(picked) == need:
                    break
        return _render(picked, template, self.catalog) if picked else _no_candidates()


class _RandomRejecter:
    def __init__(self, catalog: Catalog, rated: Mapping[int, set[int]], seed: int) -> None:
        self.catalog = catalog
        self._ids: npt.NDArray[np.int64] = np.sort(np.asarray(catalog.movie_ids, dtype=np.int64))
        self._rated = rated
        self._seed = int(seed)

    def rejected(self, example: Example, template: PromptTemplate) -> str | _Drop:
        skip = np.fromiter(_excluded(example, self._rated), dtype=np.int64)
        at = np.minimum(np.searchsorted(self._ids, skip), max(self._ids.size - 1, 0))
        keep = np.ones(self._ids.size, dtype=bool)
        if self._ids.size:
            keep[at[self._ids[at] == skip]] = False
        candidates = self._ids[keep]
        if candidates.size == 0:
            return _no_candidates()
        rng = np.random.default_rng([self._seed, int(example.user_id)])
        n = min(len(example.gold), int(candidates.size))
        picked = rng.choice(candidates, size=n, replace=False).tolist()
        return _render(picked, template, self.catalog)


class _AnswerRejecter:
    def __init__(
        self,
        answers: Mapping[int, str | AnswerLike],
        catalog: Catalog,
        *,
        hallucinated: bool,
    ) -> None:
        self._answers = answers
        self._catalog = catalog
        self._hallucinated = hallucinated
        self._resolver: TitleResolver | None = None

    def rejected(self, example: Example, template: PromptTemplate) -> str | _Drop:
        answer = self._answers.get(example.user_id)
        text = answer if isinstance(answer, str) or answer is None else answer.raw_text
        if not text or not text.strip():
            return _Drop("no_answer")
        if text.strip() == template.target(example.gold, self._catalog).strip():
            return _Drop("identical")
        ids, unresolved = self._read(answer, text, template)
        if tuple(ids) == tuple(example.gold):
            return _Drop("same_as_gold")
        if self._hallucinated and not unresolved:
            return _Drop("no_hallucination")
        return text

    def _read(
        self, answer: str | AnswerLike | None, text: str, template: PromptTemplate
    ) -> tuple[list[int], list[str]]:
        """The answer's movie ids and its unresolvable titles.

        An answer object brings its ``movie_ids`` and, when its diagnostics list them, its
        ``unresolved`` titles; anything missing is read from the text: parsed with the template
        and resolved against the catalog (:class:`~llmrec.data.TitleResolver` defaults).
        """
        parsed_ids, unresolved = self._parse(text, template)
        if answer is None or isinstance(answer, str):
            return parsed_ids, unresolved
        listed = answer.diagnostics.get("unresolved")
        if isinstance(listed, list):
            unresolved = [str(t) for t in listed]
        return list(answer.movie_ids), unresolved

    def _parse(self, text: str, template: PromptTemplate) -> tuple[list[int], list[str]]:
        if self._resolver is None:
            from llmrec.data.resolver import TitleResolver

            self._resolver = TitleResolver(self._catalog)
        items = list(template.parse(text).items)
        ids: list[int] = []
        unresolved: list[str] = []
        for item, res in zip(items, self._resolver.resolve_many(items), strict=True):
            if res.movie_id is None:
                unresolved.append(item.label())
            elif res.movie_id not in ids:
                ids.append(int(res.movie_id))
        return ids, unresolved


def _no_candidates() -> _Drop:
    return _Drop("no_candidates")


def _render(movie_ids: Iterable[int], template: PromptTemplate, catalog: Catalog) -> str:
    return template.target([int(m) for m in movie_ids], catalog)

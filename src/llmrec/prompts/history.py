"""Time-ordered histories and the sequential prompts built on them, beside the study's prompt.

The study shows a model a user's ten favourite movies, most liked first. Every peer protocol
shows instead what the user watched **in time order** (TALLRec, LLaRA, LLMRank, RecAI, OpenP5).
A :class:`History` is one user's ratings in that order (movie, stars, time; oldest first, ties
in file order, :meth:`llmrec.data.Ratings.history_order`); :func:`user_histories` reads them
from a :class:`~llmrec.data.Ratings` table.

:class:`HistoryTemplate` writes the last ``last`` items of a history in one of three styles and
asks one of three tasks:

=================  ===================================================================
style              the history as the model reads it
=================  ===================================================================
``sequence``       numbered titles, oldest first (LLMRank, LLaRA)
``rated``          numbered titles with the user's stars ("... (1995): 4/5")
``liked_disliked`` TALLRec's split: ``User Preference: "A", "B"`` (stars above
                   ``like_above``) and ``User Unpreference: "C"``
=================  ===================================================================

* **recommend** (:meth:`HistoryTemplate.recommend_messages`): the next ``k`` movies, in the
  study's output format (numbered list), so :func:`~llmrec.prompts.parse_response` reads it;
* **rank** (:meth:`HistoryTemplate.rank_messages`): rank numbered candidates (LLMRank's task);
* **yes/no** (:meth:`HistoryTemplate.yes_no_messages`): will the user like this movie (TALLRec's
  task; with ``liked_disliked`` the user message is TALLRec's ``input`` exactly and the system
  message its ``instruction``, :meth:`HistoryTemplate.alpaca` gives the training row).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator

from llmrec.data.catalog import Catalog
from llmrec.data.ratings import Ratings
from llmrec.errors import ConfigError
from llmrec.prompts.formats import format_instructions, ranking_instructions
from llmrec.prompts.template import PromptTemplate

__all__ = [
    "SEQUENTIAL_RANK_TASK",
    "SEQUENTIAL_RECOMMEND_TASK",
    "TALLREC_INSTRUCTION",
    "History",
    "HistoryStyle",
    "HistoryTemplate",
    "user_histories",
]

HistoryStyle = Literal["sequence", "rated", "liked_disliked"]

SEQUENTIAL_RECOMMEND_TASK = (
    "You are a movie recommendation system. You are given the movies a user watched, in the "
    "order they watched them. Recommend {k} other movies this user is likely to watch next, "
    "most likely first."
)
"""Task of the sequential recommend prompt; ``{k}`` is the number of movies asked for."""

SEQUENTIAL_RANK_TASK = (
    "You are a movie recommendation system. You are given the movies a user watched, in the "
    "order they watched them, and a numbered list of {n} candidate movies. Rank the candidates "
    "by how likely this user is to watch them next, most likely first."
)
"""Task of the sequential ranking prompt (after LLMRank's); ``{n}`` candidates, ``{k}`` asked."""

TALLREC_INSTRUCTION = (
    "Given the user's preference and unpreference, identify whether the user will like the "
    'target movie by answering "Yes." or "No.".'
)
"""TALLRec's instruction for movies (``preprocess_movie.py``), word for word."""

_INTROS: dict[str, str] = {
    "sequence": "Movies I watched, oldest first:",
    "rated": "Movies I watched, oldest first, with my rating out of 5:",
}


@dataclass(frozen=True)
class History:
    """One user's ratings in time order, oldest first.

    ``times`` are Unix seconds when the ratings table has ``time``, else days since 1970
    (``unit`` ``"s"`` or ``"D"``).
    """

    user_id: int
    movie_ids: tuple[int, ...]
    ratings: tuple[int, ...]
    times: tuple[int, ...]
    unit: Literal["s", "D"] = "s"

    def __post_init__(self) -> None:
        if not len(self.movie_ids) == len(self.ratings) == len(self.times):
            raise ValueError(
                f"History needs one rating and one time per movie, got {len(self.movie_ids)} "
                f"movies, {len(self.ratings)} ratings, {len(self.times)} times"
            )

    def __len__(self) -> int:
        return len(self.movie_ids)

    def last(self, n: int) -> History:
        """The ``n`` most recent items (all of them when there are fewer)."""
        if n < 1:
            raise ConfigError(f"last needs n >= 1, got {n}")
        return self[max(0, len(self) - n) :]

    def __getitem__(self, index: slice) -> History:
        if not isinstance(index, slice):
            raise TypeError("a History is sliced (history[a:b]); use .movie_ids[i] for one item")
        return History(
            self.user_id,
            self.movie_ids[index],
            self.ratings[index],
            self.times[index],
            self.unit,
        )

    def liked(self, above: int = 3) -> tuple[int, ...]:
        """Movies rated above ``above`` stars, in time order (TALLRec: ``rating > 3``)."""
        return tuple(m for m, r in zip(self.movie_ids, self.ratings, strict=True) if r > above)

    def disliked(self, above: int = 3) -> tuple[int, ...]:
        """Movies rated ``above`` stars or fewer, in time order."""
        return tuple(m for m, r in zip(self.movie_ids, self.ratings, strict=True) if r <= above)


def _moments(ratings: Ratings) -> tuple[npt.NDArray[np.int64], Literal["s", "D"]]:
    if ratings.time is not None:
        return np.asarray(ratings.time).astype("datetime64[s]").astype(np.int64), "s"
    return np.asarray(ratings.date).astype("datetime64[D]").astype(np.int64), "D"


def user_histories(ratings: Ratings, users: npt.ArrayLike | None = None) -> dict[int, History]:
    """Every user's :class:`History` (or those of ``users``), keyed by ascending user id.

    The order is :meth:`~llmrec.data.Ratings.history_order`: time to the second when the table
    has ``time`` (else the day), ratings of the same moment in file order.
    """
    table = ratings if users is None else ratings.for_users(users)
    order = table.history_order()
    uid = np.asarray(table.user_id)[order]
    movies = np.asarray(table.movie_id)[order].tolist()
    stars = np.asarray(table.rating)[order].tolist()
    when, unit = _moments(table)
    times = when[order].tolist()
    starts = np.flatnonzero(np.concatenate(([True], uid[1:] != uid[:-1]))) if uid.size else uid
    bounds = [*(int(s) for s in starts), int(uid.size)]
    out: dict[int, History] = {}
    for a, b in itertools.pairwise(bounds):
        out[int(uid[a])] = History(
            int(uid[a]), tuple(movies[a:b]), tuple(stars[a:b]), tuple(times[a:b]), unit
        )
    return out


def _quoted(labels: Sequence[str]) -> str:
    return ", ".join(f'"{label}"' for label in labels)


class HistoryTemplate(BaseModel):
    """Sequential prompts on a time-ordered history (module docstring); a pydantic config
    (JSON round trip, unknown fields rejected), saved beside the results like
    :class:`~llmrec.prompts.PromptTemplate`.

    Example::

        tpl = HistoryTemplate(style="rated", last=10)
        tpl.recommend_messages(history, catalog, k=10)     # [system, user]
        tpl.rank_messages(history, candidates, catalog)    # [system, user]
        HistoryTemplate(style="liked_disliked").yes_no_messages(history, target, catalog)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    style: HistoryStyle = Field(
        default="sequence",
        description="'sequence' (titles), 'rated' (titles and stars) or 'liked_disliked' "
        "(TALLRec's preference / unpreference split).",
    )
    last: int = Field(default=10, ge=1, description="The most recent items shown (N).")
    like_above: int = Field(
        default=3, ge=0, le=5, description="Liked means more stars than this (TALLRec: 3)."
    )
    include_year: bool = Field(default=True, description="Write 'Title (Year)' or the title.")
    recommend_task: str = Field(
        default=SEQUENTIAL_RECOMMEND_TASK, min_length=1, description="Recommend task ('{k}')."
    )
    rank_task: str = Field(
        default=SEQUENTIAL_RANK_TASK, min_length=1, description="Rank task ('{n}', '{k}')."
    )
    yes_no_task: str = Field(
        default=TALLREC_INSTRUCTION, min_length=1, description="Yes/no task (no placeholder)."
    )

    @field_validator("recommend_task", "rank_task")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        try:
            value.format(k=1, n=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"a task may only use the placeholders {{k}} and {{n}} ({exc}): {value!r}"
            ) from None
        return value

    # -- the history -------------------------------------------------------------------------
    def _label(self, movie_id: int, catalog: Catalog) -> str:
        return catalog.label(movie_id) if self.include_year else catalog.title(movie_id)

    def history_text(self, history: History, catalog: Catalog) -> str:
        """The last ``last`` items of ``history`` in this template's style."""
        shown = history.last(self.last)
        if self.style == "liked_disliked":
            liked = [self._label(m, catalog) for m in shown.liked(self.like_above)]
            disliked = [self._label(m, catalog) for m in shown.disliked(self.like_above)]
            return f"User Preference: {_quoted(liked)}\nUser Unpreference: {_quoted(disliked)}"
        lines = [_INTROS[self.style]]
        for i, (m, r) in enumerate(zip(shown.movie_ids, shown.ratings, strict=True), 1):
            stars = f": {r}/5" if self.style == "rated" else ""
            lines.append(f"{i}. {self._label(m, catalog)}{stars}")
        return "\n".join(lines)

    def prompt_template(self) -> PromptTemplate:
        """The ``sequence`` style as a :class:`~llmrec.prompts.PromptTemplate`, for the
        language-model backends: their profile is the last ``last`` movie ids in time order
        (e.g. :func:`llmrec.protocols.next_item.build`'s profiles), written one per line
        under this style's lead-in, with the sequential recommend and rank tasks. The other
        styles need the stars, which a profile of movie ids does not carry."""
        if self.style != "sequence":
            raise ConfigError(
                f"only the 'sequence' style is a profile of movie ids; {self.style!r} needs the "
                "ratings: use recommend_messages / rank_messages / yes_no_messages"
            )
        return PromptTemplate(
            task=self.recommend_task.replace("{n}", "{k}"),
            profile_intro=_INTROS["sequence"],
            ranking_task=self.rank_task,
            include_year=self.include_year,
        )

    # -- the three tasks ---------------------------------------------------------------------
    def recommend_messages(
        self, history: History, catalog: Catalog, k: int = 10
    ) -> list[dict[str, str]]:
        """Ask for the next ``k`` movies (numbered list, read by ``parse_response``)."""
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        system = (
            f"{self.recommend_task.format(k=k, n=k)}\n\n"
            f"{format_instructions('numbered', k, self.include_year)}"
        )
        return [
            {"role": "system", "content": system},
            {"role": "user", "content": self.history_text(history, catalog)},
        ]

    def rank_messages(
        self,
        history: History,
        candidates: Sequence[int],
        catalog: Catalog,
        k: int | None = None,
    ) -> list[dict[str, str]]:
        """Ask to rank ``candidates`` (numbered from 1, in this order); the best ``k`` (all)."""
        n = len(candidates)
        k = n if k is None else k
        if n < 1 or k < 1:
            raise ConfigError(f"a ranking prompt needs n >= 1 candidates and k >= 1, got {n}, {k}")
        system = (
            f"{self.rank_task.format(k=k, n=n)}\n\n"
            f"{ranking_instructions('numbered', k, self.include_year)}"
        )
        lines = [self.history_text(history, catalog), "", f"Candidate movies ({n}):"]
        lines.extend(f"{i}. {self._label(m, catalog)}" for i, m in enumerate(candidates, 1))
        return [
            {"role": "system", "content": system},
            {"role": "user", "content": "\n".join(lines)},
        ]

    def yes_no_question(self, history: History, target: int, catalog: Catalog) -> str:
        """The user message of the yes/no task (TALLRec's ``input`` with ``liked_disliked``)."""
        label = self._label(target, catalog)
        return (
            f"{self.history_text(history, catalog)}\n"
            f'Whether the user will like the target movie "{label}"?'
        )

    def yes_no_messages(
        self, history: History, target: int, catalog: Catalog
    ) -> list[dict[str, str]]:
        """Ask whether the user will like ``target``; the answer is "Yes." or "No."."""
        return [
            {"role": "system", "content": self.yes_no_task},
            {"role": "user", "content": self.yes_no_question(history, target, catalog)},
        ]

    def alpaca(
        self, history: History, target: int, liked: bool, catalog: Catalog
    ) -> dict[str, Any]:
        """One training row in TALLRec's Alpaca form: ``{"instruction", "input", "output"}``."""
        return {
            "instruction": self.yes_no_task,
            "input": self.yes_no_question(history, target, catalog),
            "output": "Yes." if liked else "No.",
        }

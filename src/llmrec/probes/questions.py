"""The probes' questions: one chat prompt per probed item, with its correct answer.

A :class:`ProbeQuestion` holds the messages sent, the answer a model that memorised the data
would give (the assistant message :meth:`MemorisationProbe.write_chat` writes), the catalog id
it is about, and how to read the title out of an answer. Each probe kind is one builder in
:data:`BUILDERS`:

* ``item_lines``: a line of the data set's own item file up to its title (see
  :mod:`.item_lines`); the answer is the title field.
* ``title_completion``: the first words of a title (``prefix_share`` of them, at least one
  shown and one hidden) and its year; the answer is the rest of the title. One-word titles
  cannot be split and are skipped (counted in the report).
* ``user_lines``: the first ``n_shown`` films a user rated (by date, then movie id), one
  ``Title (Year)`` a line; the answer is the next film. One question per user with more than
  ``n_shown`` ratings; the question is about that next film (its popularity bucket).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from llmrec.errors import ConfigError
from llmrec.probes.item_lines import ITEM_FORMATS, first_line

if TYPE_CHECKING:
    from llmrec.data.catalog import Catalog, Movie
    from llmrec.data.ratings import Ratings
    from llmrec.probes.item_lines import ItemFormat

__all__ = ["BUILDERS", "ProbeKind", "ProbeQuestion", "Questions"]

ProbeKind = Literal["item_lines", "title_completion", "user_lines"]


class QuestionSettings(Protocol):
    """What a question builder reads of a probe's settings (a
    :class:`~llmrec.probes.MemorisationProbe` is one; this module does not import it, so the
    probe can import the builders)."""

    @property
    def item_format(self) -> ItemFormat: ...
    @property
    def max_items(self) -> int | None: ...
    @property
    def seed(self) -> int: ...
    @property
    def shots(self) -> int: ...
    @property
    def prefix_share(self) -> float: ...
    @property
    def n_shown(self) -> int: ...


@dataclass(frozen=True)
class ProbeQuestion:
    """One probe prompt about one catalog item."""

    movie_id: int
    """The item the correct answer names."""
    messages: tuple[dict[str, str], ...]
    """System and user messages, as sent."""
    expected: str
    """The correct answer (the assistant message of the chat file)."""
    target: str
    """The title (with its year where the answer carries one) exact matching compares to."""
    read: Callable[[str], str]
    """The title an answer names (what is normalised, compared and resolved)."""
    year_hint: int | None = None
    """The year the prompt states, used to resolve an answer that writes none."""

    @property
    def prompt(self) -> str:
        """The user message (for reports)."""
        return self.messages[-1]["content"]


@dataclass(frozen=True)
class Questions:
    """A probe's questions and what could not be asked, with the reason."""

    items: list[ProbeQuestion]
    skipped: dict[int, str]
    """Catalog ids not asked about, with why (one-word titles, few-shot examples)."""


def _sample(ids: Sequence[int], probe: QuestionSettings) -> list[int]:
    """``probe.max_items`` of ``ids`` drawn with ``probe.seed`` (all of them when ``None``),
    in ascending order."""
    import numpy as np

    if probe.max_items is None or probe.max_items >= len(ids):
        return sorted(ids)
    rng = np.random.default_rng(probe.seed)
    picked = rng.choice(np.asarray(sorted(ids), dtype=np.int64), probe.max_items, replace=False)
    return sorted(int(i) for i in picked)


def _item_lines(catalog: Catalog, ratings: Ratings | None, probe: QuestionSettings) -> Questions:
    fmt = ITEM_FORMATS[probe.item_format]
    movies = list(catalog)
    shots = movies[: probe.shots]
    system = (
        f"You have read the file {fmt.file} of the {fmt.data_set} data set. Complete the "
        "line the user gives with the rest of its title field, exactly as the file writes it. "
        "Answer with the completion only."
    )
    context = "".join(fmt.line(m) + "\n" for m in shots)
    skipped = {m.movie_id: "few-shot example" for m in shots}
    ids = _sample([m.movie_id for m in movies[probe.shots :]], probe)
    items = []
    for movie_id in ids:
        movie = catalog.movie(movie_id)

        def read(answer: str, movie: Movie = movie) -> str:
            return fmt.answer_title(answer, movie)

        items.append(
            ProbeQuestion(
                movie_id,
                (
                    {"role": "system", "content": system},
                    {"role": "user", "content": context + fmt.prefix(movie)},
                ),
                fmt.title_field(movie),
                fmt.title_field(movie),
                read,
                movie.year if fmt.year_field else None,  # the year the prompt states
            )
        )
    return Questions(items, skipped)


def _split_title(title: str, share: float) -> tuple[str, str] | None:
    words = title.split()
    if len(words) < 2:
        return None
    shown = min(max(1, math.floor(len(words) * share)), len(words) - 1)
    return " ".join(words[:shown]), " ".join(words[shown:])


def _title_completion(
    catalog: Catalog, ratings: Ratings | None, probe: QuestionSettings
) -> Questions:
    system = (
        "Complete the title of the film the user begins. Answer with the rest of the title "
        "only, without the words already given."
    )
    skipped: dict[int, str] = {}
    splits: dict[int, tuple[str, str]] = {}
    for movie in catalog:
        split = _split_title(movie.title, probe.prefix_share)
        if split is None:
            skipped[movie.movie_id] = "one-word title"
        else:
            splits[movie.movie_id] = split
    items = []
    for movie_id in _sample(list(splits), probe):
        movie = catalog.movie(movie_id)
        head, rest = splits[movie_id]
        year = f" ({movie.year})" if movie.year is not None else ""

        def read(answer: str, head: str = head) -> str:
            text = first_line(answer).strip(" \"'…")
            if text.startswith("..."):
                text = text[3:].strip()
            return text if text.casefold().startswith(head.casefold()) else f"{head} {text}"

        items.append(
            ProbeQuestion(
                movie_id,
                (
                    {"role": "system", "content": system},
                    {"role": "user", "content": f"Film{year}: {head} ..."},
                ),
                rest,
                movie.title,
                read,
                movie.year,
            )
        )
    return Questions(items, skipped)


def _read_label(answer: str) -> str:
    text = first_line(answer)
    return text.lstrip("0123456789.)- ").strip() if text[:1].isdigit() else text


def _user_lines(catalog: Catalog, ratings: Ratings | None, probe: QuestionSettings) -> Questions:
    import numpy as np

    if ratings is None:
        raise ConfigError(
            "the user_lines probe needs the ratings (run(backend, catalog, ratings)): its "
            "questions are users' first rated films"
        )
    known = np.isin(ratings.movie_id, catalog.movie_ids)
    users = ratings.user_id[known]
    movies = ratings.movie_id[known]
    days = ratings.date[known].astype("datetime64[D]").astype(np.int64)
    order = np.lexsort((movies, days, users))
    users, movies = users[order], movies[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], users.size]
    n = probe.n_shown
    eligible = {int(users[s]): (int(s), int(e)) for s, e in zip(starts, ends, strict=True)}
    skipped: dict[int, str] = {}
    system = (
        "You have read the ratings of a film data set. The user lists the first films one of "
        "its users rated, in order. Answer with the title and year of the next film this user "
        "rated, nothing else."
    )
    chosen = [u for u, (s, e) in eligible.items() if e - s > n]
    items = []
    for user in _sample(chosen, probe):
        s, _ = eligible[user]
        shown = "\n".join(catalog.label(int(m)) for m in movies[s : s + n])
        target = catalog.movie(int(movies[s + n]))
        items.append(
            ProbeQuestion(
                target.movie_id,
                ({"role": "system", "content": system}, {"role": "user", "content": shown}),
                target.label(),
                target.label(),
                _read_label,
                None,
            )
        )
    return Questions(items, skipped)


Builder = Callable[["Catalog", "Ratings | None", "QuestionSettings"], Questions]

BUILDERS: dict[str, Builder] = {
    "item_lines": _item_lines,
    "title_completion": _title_completion,
    "user_lines": _user_lines,
}
"""The question builder of each probe kind."""

"""``PromptTemplate``: the study's chat prompt, T + F (system), C (user), gold list (assistant).

The study fine-tuned GPT-4o-mini on chat examples whose system message states the task T and the
output format F, whose user message holds the user's top 10 movies C ("Title (Year)", in profile
order), and whose assistant message is the gold list written in F. The default template is that
prompt; every text is a field, so users can write their own and save it beside their results.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

from llmrec.data.catalog import Catalog
from llmrec.errors import ConfigError
from llmrec.prompts.formats import (
    OutputFormat,
    format_instructions,
    ranking_instructions,
    render_list,
    response_format,
)
from llmrec.prompts.parse import ParsedResponse, parse_response

__all__ = [
    "DEFAULT_CANDIDATES_INTRO",
    "DEFAULT_PROFILE_INTRO",
    "DEFAULT_RANKING_TASK",
    "DEFAULT_TASK",
    "PromptTemplate",
]

DEFAULT_TASK = (
    "You are a movie recommendation system. You are given the favourite movies of a user, "
    "most liked first. Recommend {k} other movies this user is likely to watch and enjoy, "
    "most likely first."
)
"""Task T; ``{k}`` becomes the number of recommendations."""

DEFAULT_PROFILE_INTRO = "My {n} favourite movies, most liked first:"
"""Lead-in of C; ``{n}`` becomes the number of profile movies."""


DEFAULT_RANKING_TASK = (
    "You are a movie recommendation system. You are given the favourite movies of a user, "
    "most liked first, and a numbered list of {n} candidate movies. Rank the candidates by how "
    "likely this user is to watch and enjoy them, most likely first."
)
"""Task of the candidate-ranking prompt; ``{n}`` is the number of candidates, ``{k}`` how many
are asked for."""

DEFAULT_CANDIDATES_INTRO = "Candidate movies ({n}):"
"""Lead-in of the candidate list in the user message; ``{n}`` is the number of candidates."""

# Fields of the candidate-ranking variant: left out of dumps while unset, so the dump (and every
# key derived from it) of a template that does not customise ranking stays as it was.
_RANKING_FIELDS = ("ranking_task", "candidates_intro")


def _check_fields(text: str, allowed: set[str], what: str) -> str:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise ValueError(f"{what} is not a valid format string ({exc}): {text!r}") from None
    unknown = names - allowed
    if unknown:
        raise ValueError(
            f"{what} may only use the placeholders {sorted(allowed)}, found {sorted(unknown)}; "
            "write literal braces as {{ and }}"
        )
    return text


class PromptTemplate(BaseModel):
    """The chat prompt: system = task T + output format F, user = profile C.

    Example::

        tpl = PromptTemplate()                   # the study's prompt, numbered list
        msgs = tpl.messages(profile, catalog)    # [system, user]
        tpl.target(gold, catalog)                # "1. Heat (1995)\\n2. ..."
        tpl.parse(model_text).titles             # ["Heat", ...]
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str = Field(
        default=DEFAULT_TASK,
        min_length=1,
        description="Task text T of the system message; '{k}' is the number of movies asked.",
    )
    output_format: OutputFormat = Field(
        default="numbered",
        description="Output format F: 'numbered' list or 'json' (strict JSON Schema).",
    )
    format_text: str | None = Field(
        default=None,
        description="Own format instructions F ('{k}' allowed); None uses the built-in text.",
    )
    profile_intro: str = Field(
        default=DEFAULT_PROFILE_INTRO,
        description="First line of the user message; '{n}' is the number of profile movies.",
    )
    n_recommendations: int = Field(
        default=10, ge=1, le=200, description="How many movies the system message asks for (k)."
    )
    include_year: bool = Field(
        default=True, description="Write 'Title (Year)' (True) or the bare title (False)."
    )

    ranking_task: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Task of the candidate-ranking prompt ('{n}' candidates, '{k}' asked for); None uses "
            "DEFAULT_RANKING_TASK."
        ),
    )
    candidates_intro: str | None = Field(
        default=None,
        description="Line before the numbered candidates ('{n}'); None: DEFAULT_CANDIDATES_INTRO.",
    )

    @model_serializer(mode="wrap")
    def _drop_unset_ranking(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in _RANKING_FIELDS:
            if data.get(name, "") is None:
                del data[name]
        return data

    @field_validator("ranking_task")
    @classmethod
    def _ranking_placeholders(cls, value: str | None) -> str | None:
        return None if value is None else _check_fields(value, {"k", "n"}, "ranking_task")

    @field_validator("candidates_intro")
    @classmethod
    def _candidates_placeholders(cls, value: str | None) -> str | None:
        return None if value is None else _check_fields(value, {"n"}, "candidates_intro")

    @field_validator("task", "format_text")
    @classmethod
    def _task_placeholders(cls, value: str | None) -> str | None:
        return None if value is None else _check_fields(value, {"k"}, "task/format_text")

    @field_validator("profile_intro")
    @classmethod
    def _intro_placeholders(cls, value: str) -> str:
        return _check_fields(value, {"n"}, "profile_intro")

    # -- rendering -----------------------------------------------------------------------------
    def system_text(self, k: int | None = None) -> str:
        """System message: T then F, separated by a blank line."""
        k = self.n_recommendations if k is None else k
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        fmt = (
            format_instructions(self.output_format, k, self.include_year)
            if self.format_text is None
            else self.format_text.format(k=k)
        )
        return f"{self.task.format(k=k)}\n\n{fmt}"

    def user_text(self, profile: Sequence[int], catalog: Catalog) -> str:
        """User message C: the lead-in, then one movie per line in profile order."""
        lines = [self.profile_intro.format(n=len(profile))]
        lines.extend(self._label(movie_id, catalog) for movie_id in profile)
        return "\n".join(lines)

    def messages(
        self, profile: Sequence[int], catalog: Catalog, k: int | None = None
    ) -> list[dict[str, str]]:
        """The chat messages sent to the model: ``[system, user]``."""
        return [
            {"role": "system", "content": self.system_text(k)},
            {"role": "user", "content": self.user_text(profile, catalog)},
        ]

    # -- candidate ranking ---------------------------------------------------------------------
    def ranking_system_text(self, n: int, k: int | None = None) -> str:
        """System message of the candidate-ranking prompt: task, then the format for the best
        ``k`` of ``n`` candidates (``k=None``: all ``n``)."""
        k = n if k is None else k
        if n < 1 or k < 1:
            raise ConfigError(f"a ranking prompt needs n >= 1 candidates and k >= 1, got {n}, {k}")
        task = DEFAULT_RANKING_TASK if self.ranking_task is None else self.ranking_task
        fmt = (
            ranking_instructions(self.output_format, k, self.include_year)
            if self.format_text is None
            else self.format_text.format(k=k)
        )
        return f"{task.format(k=k, n=n)}\n\n{fmt}"

    def ranking_user_text(
        self, profile: Sequence[int], candidates: Sequence[int], catalog: Catalog
    ) -> str:
        """User message: C as in :meth:`user_text`, a blank line, then the candidates numbered
        from 1 in presentation order ("1. Title (Year)")."""
        intro = DEFAULT_CANDIDATES_INTRO if self.candidates_intro is None else self.candidates_intro
        lines = [self.user_text(profile, catalog), "", intro.format(n=len(candidates))]
        lines.extend(f"{i}. {self._label(m, catalog)}" for i, m in enumerate(candidates, 1))
        return "\n".join(lines)

    def ranking_messages(
        self,
        profile: Sequence[int],
        candidates: Sequence[int],
        catalog: Catalog,
        k: int | None = None,
    ) -> list[dict[str, str]]:
        """The chat messages asking to rank ``candidates`` (in this order) for ``profile``."""
        return [
            {"role": "system", "content": self.ranking_system_text(len(candidates), k)},
            {"role": "user", "content": self.ranking_user_text(profile, candidates, catalog)},
        ]

    def target(self, gold: Sequence[int], catalog: Catalog) -> str:
        """The assistant message for training: the whole gold list, in order, in format F."""
        pairs = [(catalog.title(m), catalog.year(m) if self.include_year else None) for m in gold]
        return render_list(pairs, self.output_format)

    def training_example(
        self, profile: Sequence[int], gold: Sequence[int], catalog: Catalog
    ) -> dict[str, list[dict[str, str]]]:
        """One fine-tuning example: ``{"messages": [system, user, assistant]}``."""
        messages = self.messages(profile, catalog)
        messages.append({"role": "assistant", "content": self.target(gold, catalog)})
        return {"messages": messages}

    def response_format(self) -> dict[str, Any] | None:
        """``response_format`` for chat completions: strict JSON Schema for 'json', else None."""
        return response_format(self.output_format)

    def parse(self, text: object) -> ParsedResponse:
        """Read a model answer back (any format; never raises). See :func:`parse_response`."""
        return parse_response(text)

    def _label(self, movie_id: int, catalog: Catalog) -> str:
        return catalog.label(movie_id) if self.include_year else catalog.title(movie_id)

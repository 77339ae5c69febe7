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

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llmrec.data.catalog import Catalog
from llmrec.errors import ConfigError
from llmrec.prompts.formats import (
    OutputFormat,
    format_instructions,
    render_list,
    response_format,
)
from llmrec.prompts.parse import ParsedResponse, parse_response

__all__ = ["DEFAULT_PROFILE_INTRO", "DEFAULT_TASK", "PromptTemplate"]

DEFAULT_TASK = (
    "You are a movie recommendation system. You are given the favourite movies of a user, "
    "most liked first. Recommend {k} other movies this user is likely to watch and enjoy, "
    "most likely first."
)
"""Task T; ``{k}`` becomes the number of recommendations."""

DEFAULT_PROFILE_INTRO = "My {n} favourite movies, most liked first:"
"""Lead-in of C; ``{n}`` becomes the number of profile movies."""


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

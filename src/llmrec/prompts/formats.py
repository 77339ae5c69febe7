"""Output formats F: how a recommendation list is written, and the JSON Schema for strict mode.

Two formats, both readable back by :func:`llmrec.prompts.parse_response`:

``numbered``::

    1. The Matrix (1999)
    2. Heat (1995)

``json`` (``{"recommendations": [{"title": str, "year": int | null}, ...]}``)::

    {"recommendations": [{"title": "The Matrix", "year": 1999}, {"title": "Heat", "year": 1995}]}

The JSON Schema obeys OpenAI Structured Outputs' strict-mode subset: an object at the root,
every property listed in ``required``, ``additionalProperties: false`` on every object, and the
optional year written as ``"type": ["integer", "null"]``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

__all__ = [
    "RESPONSE_FORMAT_NAME",
    "OutputFormat",
    "format_instructions",
    "ranking_instructions",
    "recommendation_schema",
    "render_list",
    "response_format",
]

OutputFormat = Literal["numbered", "json"]

RESPONSE_FORMAT_NAME = "movie_recommendations"
"""``json_schema.name`` sent to the API (a-z, A-Z, 0-9, ``_`` and ``-``, at most 64)."""


def render_list(items: Sequence[tuple[str, int | None]], output_format: OutputFormat) -> str:
    """Write ``(title, year)`` pairs in ``output_format`` (years ``None`` are left out)."""
    if output_format == "json":
        payload = {"recommendations": [{"title": t, "year": y} for t, y in items]}
        return json.dumps(payload, ensure_ascii=False)
    lines = []
    for rank, (title, year) in enumerate(items, 1):
        label = title if year is None else f"{title} ({year})"
        lines.append(f"{rank}. {label}")
    return "\n".join(lines)


def format_instructions(output_format: OutputFormat, k: int, include_year: bool) -> str:
    """The F part of the system message: what the answer must look like."""
    if output_format == "json":
        year = "its release year" if include_year else "null"
        return (
            'Answer with a JSON object of the form {"recommendations": [{"title": "...", '
            f'"year": ...}}, ...]}} listing {k} movies, best first, each with its title and '
            f"{year} as the year. Write nothing else."
        )
    example = "1. Title (Year)" if include_year else "1. Title"
    return (
        f"Answer with a numbered list of {k} movies, best first, one per line, each written as "
        f'"{example}". Write nothing else.'
    )


def ranking_instructions(output_format: OutputFormat, k: int, include_year: bool) -> str:
    """The F part of a candidate-ranking prompt: the best ``k`` candidates, best first."""
    label = "Title (Year)" if include_year else "Title"
    if output_format == "json":
        year = "its release year" if include_year else "null"
        return (
            'Answer with a JSON object of the form {"recommendations": [{"title": "...", '
            f'"year": ...}}, ...]}} listing the {k} best candidates, best first, each with its '
            f"title as listed and {year} as the year. Write nothing else."
        )
    return (
        f"Answer with a numbered list of the {k} best candidates, best first, one per line, "
        f'each written as "1. {label}" as listed. Write nothing else.'
    )


def recommendation_schema() -> dict[str, Any]:
    """JSON Schema of the ``json`` format, valid for OpenAI strict Structured Outputs."""
    movie = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "description": "The movie's title."},
            "year": {
                "type": ["integer", "null"],
                "description": "The release year, or null if unknown.",
            },
        },
        "required": ["title", "year"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "recommendations": {
                "type": "array",
                "description": "Recommended movies, best first.",
                "items": movie,
            }
        },
        "required": ["recommendations"],
        "additionalProperties": False,
    }


def response_format(output_format: OutputFormat) -> dict[str, Any] | None:
    """The chat completions ``response_format`` argument: strict JSON Schema, or ``None``."""
    if output_format != "json":
        return None
    return {
        "type": "json_schema",
        "json_schema": {
            "name": RESPONSE_FORMAT_NAME,
            "description": "A ranked list of recommended movies.",
            "strict": True,
            "schema": recommendation_schema(),
        },
    }

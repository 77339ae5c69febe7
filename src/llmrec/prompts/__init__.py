"""Prompts: the study's chat template, output formats, and parsing of model answers."""

from llmrec.prompts.formats import (
    OutputFormat,
    recommendation_schema,
    render_list,
    response_format,
)
from llmrec.prompts.parse import (
    ParsedResponse,
    ParsedTitle,
    ResponseFormat,
    parse_response,
    split_label,
)
from llmrec.prompts.template import (
    DEFAULT_CANDIDATES_INTRO,
    DEFAULT_PROFILE_INTRO,
    DEFAULT_RANKING_TASK,
    DEFAULT_TASK,
    PromptTemplate,
)

__all__ = [
    "DEFAULT_CANDIDATES_INTRO",
    "DEFAULT_PROFILE_INTRO",
    "DEFAULT_RANKING_TASK",
    "DEFAULT_TASK",
    "OutputFormat",
    "ParsedResponse",
    "ParsedTitle",
    "PromptTemplate",
    "ResponseFormat",
    "parse_response",
    "recommendation_schema",
    "render_list",
    "response_format",
    "split_label",
]

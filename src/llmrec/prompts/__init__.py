"""Prompts: the study's chat template, time-ordered histories and the sequential templates on
them (``HistoryTemplate``: recommend, rank and yes/no, TALLRec's liked/disliked split among
them), output formats, and parsing of model answers."""

from llmrec.prompts.formats import (
    OutputFormat,
    recommendation_schema,
    render_list,
    response_format,
)
from llmrec.prompts.history import (
    SEQUENTIAL_RANK_TASK,
    SEQUENTIAL_RECOMMEND_TASK,
    TALLREC_INSTRUCTION,
    History,
    HistoryStyle,
    HistoryTemplate,
    user_histories,
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
    "SEQUENTIAL_RANK_TASK",
    "SEQUENTIAL_RECOMMEND_TASK",
    "TALLREC_INSTRUCTION",
    "History",
    "HistoryStyle",
    "HistoryTemplate",
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
    "user_histories",
]

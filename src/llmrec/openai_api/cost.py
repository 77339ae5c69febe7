"""The one estimator of what asking a chat model costs, known before anything is sent.

::

    usd = (input tokens × input price + output tokens × output price) / 1e6   (× 0.5 with Batch)

Input tokens are exact (``o200k_base`` with the chat overhead, :mod:`llmrec.openai_api.tokens`).
Output tokens are not known before the model answers; the rule used everywhere (experiment
plans, ``finetune estimate``, a backend's :meth:`estimate_cost`) is :func:`expected_output_tokens`:
the tokens of the answer the model is asked for, a ``k``-item list in the template's output
format, each item the catalog's median-length title (by token count). A model without a price
costs ``usd=None`` (unknown), never an invented number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from llmrec.errors import ConfigError
from llmrec.openai_api.prices import PRICES, PriceTable, inference_cost
from llmrec.openai_api.tokens import count_chat_tokens, count_tokens, get_encoding

if TYPE_CHECKING:
    from llmrec.data.catalog import Catalog
    from llmrec.prompts import PromptTemplate

__all__ = ["STAND_IN_TITLE", "ChatCostEstimate", "estimate_chat_cost", "expected_output_tokens"]

STAND_IN_TITLE = ("An Average Movie Title", 2000)
"""The item written ``k`` times when no catalog is given (about the median Netflix title)."""


def _median_title(catalog: Catalog | None, encoding: Any) -> tuple[str, int | None]:
    if catalog is None or len(catalog) == 0:
        return STAND_IN_TITLE
    movies = sorted(catalog, key=lambda m: (len(encoding.encode(m.label())), m.movie_id))
    median = movies[(len(movies) - 1) // 2]
    return median.title, median.year


def expected_output_tokens(
    k: int, *, template: PromptTemplate | None = None, catalog: Catalog | None = None
) -> int:
    """Tokens of a ``k``-item answer in ``template``'s output format (see the module docstring).

    ``template`` defaults to the study's; without ``catalog`` each item is :data:`STAND_IN_TITLE`.
    """
    from llmrec.prompts import PromptTemplate
    from llmrec.prompts.formats import render_list

    if k < 0:
        raise ConfigError(f"k must be >= 0, got {k}")
    tpl = template if template is not None else PromptTemplate()
    encoding = get_encoding()
    title, year = _median_title(catalog, encoding)
    items = [(title, year if tpl.include_year else None)] * k
    return count_tokens(render_list(items, tpl.output_format), encoding=encoding)


@dataclass(frozen=True)
class ChatCostEstimate:
    """Requests, tokens and USD of sending a set of chat prompts (``usd=None``: no price)."""

    model: str
    n_requests: int
    input_tokens: int
    output_tokens: int
    batch: bool
    usd: float | None
    prices_as_of: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate_chat_cost(
    prompts: Iterable[Sequence[Mapping[str, Any]]],
    *,
    model: str,
    output_tokens_per_request: int,
    batch: bool = False,
    prices: PriceTable | None = None,
) -> ChatCostEstimate:
    """Price one request per chat prompt (a list of messages) to ``model``."""
    if output_tokens_per_request < 0:
        raise ConfigError(
            f"output_tokens_per_request must be >= 0, got {output_tokens_per_request}"
        )
    table = PRICES if prices is None else prices
    encoding = get_encoding()
    n_requests = input_tokens = 0
    for messages in prompts:
        n_requests += 1
        input_tokens += count_chat_tokens(messages, encoding=encoding)
    output_tokens = n_requests * output_tokens_per_request
    try:
        usd: float | None = inference_cost(
            model, input_tokens, output_tokens, batch=batch, prices=table
        )
    except ConfigError:
        usd = None
    return ChatCostEstimate(model, n_requests, input_tokens, output_tokens, batch, usd, table.as_of)

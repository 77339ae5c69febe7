"""The one OpenAI layer shared by the recommenders, fine-tuning and the experiment runner.

* :mod:`~llmrec.openai_api.models`: the base model id (:data:`DEFAULT_MODEL`), API root, paths;
* :mod:`~llmrec.openai_api.keys`: the one rule for the API key (explicit > ``OPENAI_API_KEY``);
* :mod:`~llmrec.openai_api.client`: the one SDK client factory and which errors are retried;
* :mod:`~llmrec.openai_api.retry`: retries with backoff honouring ``Retry-After``;
* :mod:`~llmrec.openai_api.prices`: the price table;
* :mod:`~llmrec.openai_api.tokens`: exact ``o200k_base`` token counts;
* :mod:`~llmrec.openai_api.cost`: the one inference-cost estimator.

Nothing here imports the ``openai`` SDK or tiktoken at import time.
"""

from llmrec.openai_api.cost import ChatCostEstimate, estimate_chat_cost, expected_output_tokens
from llmrec.openai_api.keys import KEY_HELP, has_api_key, redact, resolve_api_key
from llmrec.openai_api.models import CHAT_PATH, DEFAULT_MODEL, OPENAI_BASE_URL, fine_tuned_family
from llmrec.openai_api.prices import PRICES, ModelPrice, PriceTable, inference_cost, price_for

__all__ = [
    "CHAT_PATH",
    "DEFAULT_MODEL",
    "KEY_HELP",
    "OPENAI_BASE_URL",
    "PRICES",
    "ChatCostEstimate",
    "ModelPrice",
    "PriceTable",
    "estimate_chat_cost",
    "expected_output_tokens",
    "fine_tuned_family",
    "has_api_key",
    "inference_cost",
    "price_for",
    "redact",
    "resolve_api_key",
]

"""The language-model recommender pipeline, with pluggable transports.

::

    profile ─▶ PromptTemplate.messages ─▶ Transport.build_body ─▶ cache key
            ─▶ ResponseCache lookup ─▶ Transport.send (only what is missing; each answer
               stored in the cache as it arrives) ─▶ parse ─▶ resolve titles to ids
            ─▶ Recommendation (diagnostics, usage, latency, cost)

* :mod:`.pipeline`: :class:`LanguageModelRecommender`, the pipeline as a ``Recommender`` that
  implements the capability protocol (:mod:`llmrec.recommenders.capabilities`);
* :mod:`.transports`: the :class:`~.transports.base.Transport` contract and the OpenAI chat and
  Batch API transports (a local ``transformers`` transport goes next to them);
* :mod:`.cache`: the sqlite response cache; :mod:`.answers`: answer text to recommendation;
  :mod:`.concurrency`: bounded thread pools for transports that wait on I/O.

A new backend subclasses :class:`LanguageModelRecommender` and implements ``make_transport``,
``credentials`` and ``token_cost``; a new transport subclasses ``Transport``. Neither touches
the pipeline. See ``docs/architecture.md``.
"""

from llmrec.recommenders.llm.cache import ResponseCache
from llmrec.recommenders.llm.pipeline import LanguageModelRecommender
from llmrec.recommenders.llm.transports.base import ChatAnswer, ChatRequest, Transport

__all__ = ["ChatAnswer", "ChatRequest", "LanguageModelRecommender", "ResponseCache", "Transport"]

"""An OpenAI-compatible HTTP server on loopback, for tests and offline demos.

:class:`LocalOpenAIServer` serves chat completions, files, fine-tuning jobs and batches and can
fail, drop or delay requests on demand; point the official ``openai`` SDK at its ``base_url``.
``python -m llmrec.testing.server`` (or ``python -m llmrec.testing.openai_server``) runs it on
its own.

Inside, the parts meet through :mod:`._interface` only: ``_http`` (sockets and bytes) calls an
``Exchange``, the routes (``_routes``) read a ``ServerState``, ``_core.ServerCore`` is both,
and ``_app`` wires the core to the HTTP server and adds the scripting API. The stores
(``_state``, ``_jobs``, ``_batches``, ``_preferences``), the chat helpers (``_chat``) and the
fault plan (``_faults``) know nothing of HTTP.
"""

from __future__ import annotations

from llmrec.testing.openai_server._app import LocalOpenAIServer, main
from llmrec.testing.openai_server._core import RecordedRequest
from llmrec.testing.openai_server._logprobs import hashed_logprob, prompt_tokens

__all__ = ["LocalOpenAIServer", "RecordedRequest", "hashed_logprob", "main", "prompt_tokens"]

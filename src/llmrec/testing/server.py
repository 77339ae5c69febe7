"""``LocalOpenAIServer``, an OpenAI-compatible server on loopback; it lives in
:mod:`llmrec.testing.openai_server`, and this module keeps the import path and
``python -m llmrec.testing.server --port 8000`` working."""

from __future__ import annotations

import sys

from llmrec.testing.openai_server import LocalOpenAIServer, RecordedRequest, main

__all__ = ["LocalOpenAIServer", "RecordedRequest", "main"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``python -m llmrec.testing.openai_server --port 8000``: serve until interrupted."""

from __future__ import annotations

import sys

from llmrec.testing.openai_server._app import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

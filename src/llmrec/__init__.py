"""llmrec: large language models as standalone recommenders.

The public API is small and curated; see ``__all__``. Implementation lives in sub-packages:
``data``, ``truth``, ``prompts``, ``finetune``, ``recommenders``, ``metrics``, ``experiment``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

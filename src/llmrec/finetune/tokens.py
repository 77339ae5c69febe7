"""Deprecated location: token counting moved to :mod:`llmrec.openai_api.tokens`.

Every name of ``llmrec.openai_api.tokens`` is still read from here, with a
:class:`DeprecationWarning`; import from ``llmrec.openai_api.tokens`` instead.
"""

from llmrec.finetune._moved import forward

__getattr__, __dir__ = forward(__name__, "llmrec.openai_api.tokens")

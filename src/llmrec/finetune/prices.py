"""Deprecated location: the price table moved to :mod:`llmrec.openai_api.prices`.

Every name of ``llmrec.openai_api.prices`` is still read from here, with a
:class:`DeprecationWarning`; import from ``llmrec.openai_api.prices`` instead.
"""

from llmrec.finetune._moved import forward

__getattr__, __dir__ = forward(__name__, "llmrec.openai_api.prices")

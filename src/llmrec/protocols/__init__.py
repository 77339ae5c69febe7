"""The peers' protocols, built exactly on llmrec's data types.

* :mod:`llmrec.protocols.tallrec`: TALLRec's movie windows and Alpaca files
  (``tallrec.build(ratings, catalog) -> TallRecSplits``);
* :mod:`llmrec.protocols.next_item`: leave-one-out next-item prediction with 1 + 19 candidates
  (LLaRA, LLMRank; ``next_item.build(ratings) -> NextItemSplit``).

Each page of ``docs/protocols/`` says what the peer did, how llmrec matches it, and the
published figures to check against. This package imports only ``data``, ``metrics``, ``truth``
and ``prompts``.
"""

from llmrec.protocols import next_item, tallrec
from llmrec.protocols.next_item import NextItemConfig, NextItemSplit
from llmrec.protocols.tallrec import TallRecSet, TallRecSplits

__all__ = [
    "NextItemConfig",
    "NextItemSplit",
    "TallRecSet",
    "TallRecSplits",
    "next_item",
    "tallrec",
]

"""GRU4Rec: a GRU over the user's history (Hidasi et al., ICLR 2016), in PyTorch.

The layout is RecBole's ``GRU4Rec`` (``recbole/model/sequential_recommender/gru4rec.py``), which
TALLRec and LLaRA report: item embeddings with dropout, a ``layers``-deep GRU without biases,
a linear map from the GRU state back to the embedding size; the state after the last item
``h`` scores item ``i`` as ``h · e_i`` (input embeddings shared), trained with cross-entropy over
all items. Embeddings start Xavier-normal, GRU weights Xavier-uniform.

This module imports torch: the backend imports it only when a model is built.
"""

from __future__ import annotations

import torch
from torch import nn

from llmrec.recommenders.sequential._net import ItemSequenceNet

__all__ = ["GRU4Rec"]


class GRU4Rec(ItemSequenceNet):
    """The GRU4Rec network (module docstring), with the same methods as ``SASRec``."""

    def __init__(
        self, n_items: int, embedding_size: int, hidden: int, layers: int, dropout: float
    ) -> None:
        super().__init__()
        self.item_embedding = nn.Embedding(n_items + 1, embedding_size, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(embedding_size, hidden, num_layers=layers, bias=False, batch_first=True)
        self.dense = nn.Linear(hidden, embedding_size)
        nn.init.xavier_normal_(self.item_embedding.weight)
        for name, weight in self.gru.named_parameters():
            if name.startswith("weight"):
                nn.init.xavier_uniform_(weight)

    def forward(self, seqs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.item_embedding(seqs))
        out, _ = self.gru(x)
        out = self.dense(out)
        return self.at_last(out, lengths)

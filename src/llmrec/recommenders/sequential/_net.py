"""What the sequential networks share: item embeddings (row 0 is the padding), the user's state
read at the last item of a left-aligned history, and item scores as dot products of that state
with the input embeddings (RecBole's ``gather_indexes`` and full-sort scoring).

This module imports torch: the backend imports it only when a model is built.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ItemSequenceNet"]


class ItemSequenceNet(nn.Module):
    """A network over item histories whose ``item_embedding`` also scores the items."""

    item_embedding: nn.Embedding

    @staticmethod
    def at_last(out: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Row ``b`` of ``out`` (batch x positions x size) at position ``lengths[b] - 1``."""
        last = (lengths - 1).clamp(min=0)
        state: torch.Tensor = out[torch.arange(out.shape[0], device=out.device), last]
        return state

    def logits(self, state: torch.Tensor) -> torch.Tensor:
        """Every item's score (columns: item 1, 2, ...) for each state."""
        scores: torch.Tensor = state @ self.item_embedding.weight[1:].T
        return scores

    def embed(self, items: torch.Tensor) -> torch.Tensor:
        """The embeddings of ``items`` (ids from 1; 0 is the padding)."""
        vectors: torch.Tensor = self.item_embedding(items)
        return vectors

"""SASRec: self-attentive sequential recommendation (Kang and McAuley, ICDM 2018), in PyTorch.

The layout is RecBole's ``SASRec`` (``recbole/model/sequential_recommender/sasrec.py``), the
reference most papers run: item and learned position embeddings are added, layer-normalised and
dropped out; ``blocks`` post-norm Transformer blocks follow, each multi-head self-attention with
a causal mask that also hides padding keys (an additive ``-10000``, so a row of padding stays
finite), then a GELU feed-forward of width ``inner_size``, each with dropout and a residual
LayerNorm (``eps=1e-12``). The output at the last item of a (left-aligned) sequence is the
user's state ``h``; item ``i`` scores ``h · e_i`` with the input embeddings ``e`` (shared, as in
the paper). Weights start from ``N(0, 0.02²)``, biases at 0.

Only ``h`` is ever read, so the last block computes its query, attention, residual and
feed-forward at the last item alone (keys and values still cover the whole sequence): the same
output as RecBole's, which runs the last block at every position and then picks one, with about
40 % fewer operations in the blocks.

This module imports torch: the backend imports it only when a model is built.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from llmrec.recommenders.sequential._net import ItemSequenceNet

__all__ = ["SASRec"]


class _Block(nn.Module):
    """One post-norm Transformer block: attention, then feed-forward."""

    def __init__(self, hidden: int, heads: int, inner: int, dropout: float, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attn_dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(hidden, hidden)
        self.out_dropout = nn.Dropout(dropout)
        self.attn_norm = nn.LayerNorm(hidden, eps=eps)
        self.ff_in = nn.Linear(hidden, inner)
        self.ff_out = nn.Linear(inner, hidden)
        self.ff_dropout = nn.Dropout(dropout)
        self.ff_norm = nn.LayerNorm(hidden, eps=eps)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, h = x.shape
        return x.view(b, n, self.heads, h // self.heads).transpose(1, 2)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, at: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The block's output at every position (``b × n × h``), or with ``at`` (one position
        per sequence) only there (``b × 1 × h``): the queries, the residuals and the
        feed-forward of the other positions are then never computed."""
        b, _, h = x.shape
        k, v = self._split(self.key(x)), self._split(self.value(x))
        if at is not None:
            rows = torch.arange(b, device=x.device)
            x, mask = x[rows, at][:, None], mask[rows, :, at][:, :, None]
        q = self._split(self.query(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(h // self.heads) + mask
        weights = self.attn_dropout(torch.softmax(scores, dim=-1))
        context = (weights @ v).transpose(1, 2).reshape(b, x.shape[1], h)
        x = self.attn_norm(self.out_dropout(self.dense(context)) + x)
        inner = nn.functional.gelu(self.ff_in(x))
        out: torch.Tensor = self.ff_norm(self.ff_dropout(self.ff_out(inner)) + x)
        return out


class SASRec(ItemSequenceNet):
    """The SASRec network (module docstring); ``forward`` gives the state at each sequence's
    last item, :meth:`logits` the scores of items ``1..n_items`` from it."""

    def __init__(
        self,
        n_items: int,
        max_length: int,
        hidden: int,
        blocks: int,
        heads: int,
        inner: int,
        dropout: float,
        eps: float = 1e-12,
    ) -> None:
        super().__init__()
        self.item_embedding = nn.Embedding(n_items + 1, hidden, padding_idx=0)
        self.position_embedding = nn.Embedding(max_length, hidden)
        self.norm = nn.LayerNorm(hidden, eps=eps)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            _Block(hidden, heads, inner, dropout, eps) for _ in range(blocks)
        )
        self.apply(_init)

    def forward(self, seqs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        n = seqs.shape[1]
        positions = torch.arange(n, device=seqs.device)
        x = self.item_embedding(seqs) + self.position_embedding(positions)[None]
        x = self.dropout(self.norm(x))
        causal = torch.tril(torch.ones(n, n, dtype=torch.bool, device=seqs.device))
        allowed = causal[None, None] & (seqs > 0)[:, None, None, :]
        mask = (~allowed).to(x.dtype) * -10000.0
        for block in self.blocks[:-1]:
            x = block(x, mask)
        # only the last item's output is read: the last block computes that position alone
        state: torch.Tensor = self.blocks[-1](x, mask, at=(lengths - 1).clamp(min=0))[:, 0]
        return state


def _init(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)

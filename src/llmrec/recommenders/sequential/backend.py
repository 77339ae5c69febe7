"""``sasrec`` and ``gru4rec``: sequential next-item models behind the ``[train]`` extra.

Both learn from users' **time-ordered** histories (:meth:`~llmrec.data.Ratings.history_order`:
time to the second, ratings of the same second in file order) and read a profile given to
``recommend``/``rank`` as a sequence, **oldest first**: its last ``max_length`` known movies
predict the next one. Movies the model never saw in training are skipped; an empty sequence
still gets a (learned, history-free) ranking. A profile built without an order (the study's
favourites) is read in the order given.

``recommend_many`` ranks the whole catalogue by the model's score ``h · e_i`` (equal scores:
more popular first, then smaller movie id) and honours ``exclude=``; ``rank_many`` is exactly
that order restricted to the candidates. torch is imported when a model is fitted, never on
import, so ``import llmrec.recommenders`` stays light. On CPU a fixed ``seed`` gives
bit-identical models and scores on repeat (same torch build and thread count); ``device="auto"``
uses CUDA when present, where kernels are not bitwise reproducible.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from llmrec._extras import require
from llmrec.errors import ConfigError
from llmrec.recommenders._matrix import (
    ItemIndex,
    item_index,
    rank_candidates,
    recommendations_from,
    top_k,
)
from llmrec.recommenders.base import RatingsRecommender, Recommendation
from llmrec.recommenders.sequential._data import histories, profile_batch

if TYPE_CHECKING:
    import torch
    from torch import nn

    from llmrec.data.ratings import Ratings
    from llmrec.recommenders.sequential._train import TrainLog

__all__ = ["GRU4RecConfig", "GRU4RecRecommender", "SASRecConfig", "SASRecRecommender"]


class _SequentialConfig(BaseModel):
    """Options every sequential backend shares (defaults: RecBole 1.2.1's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_length: int = Field(
        50, ge=1, le=4096, description="Items of a history the model reads (the latest)."
    )
    epochs: int = Field(20, ge=1, description="Passes over the training examples (at most).")
    batch_size: int = Field(2048, ge=1, description="Training examples per optimiser step.")
    learning_rate: float = Field(1e-3, gt=0.0, description="Adam's learning rate.")
    weight_decay: float = Field(0.0, ge=0.0, description="Adam's L2 weight decay.")
    loss: Literal["ce", "bce"] = Field(
        "ce",
        description=(
            "'ce': cross-entropy over all items (RecBole); 'bce': binary cross-entropy with one "
            "sampled negative per target (the original SASRec)."
        ),
    )
    patience: int | None = Field(
        None,
        ge=1,
        description=(
            "Early stopping: hold out each user's last training item, stop after this many "
            "epochs without a better NDCG@10 on it, keep the best weights (None: train every "
            "epoch on everything)."
        ),
    )
    device: str = Field(
        "auto", description="'auto' (CUDA when present, else CPU), 'cpu', 'cuda', 'cuda:1', ..."
    )
    seed: int = Field(0, ge=0, description="Seed of the initial weights, shuffling and dropout.")


class SASRecConfig(_SequentialConfig):
    """Options of :class:`SASRecRecommender` (RecBole's SASRec defaults)."""

    hidden_size: int = Field(64, ge=1, description="Embedding and state width.")
    blocks: int = Field(2, ge=1, description="Transformer blocks.")
    heads: int = Field(2, ge=1, description="Attention heads (must divide hidden_size).")
    inner_size: int = Field(256, ge=1, description="Width of each block's feed-forward layer.")
    dropout: float = Field(
        0.5,
        ge=0.0,
        lt=1.0,
        description="Dropout on embeddings, attention weights and block outputs.",
    )


class GRU4RecConfig(_SequentialConfig):
    """Options of :class:`GRU4RecRecommender` (RecBole's GRU4Rec defaults)."""

    embedding_size: int = Field(64, ge=1, description="Item embedding width.")
    hidden_size: int = Field(128, ge=1, description="GRU state width.")
    layers: int = Field(1, ge=1, description="Stacked GRU layers.")
    dropout: float = Field(0.3, ge=0.0, lt=1.0, description="Dropout on the item embeddings.")


def require_torch() -> Any:
    """torch, or a :class:`~llmrec.MissingExtraError` saying how to install the extra."""
    return require("torch")


def resolve_device(name: str) -> torch.device:
    """``"auto"``: CUDA when available, else CPU; otherwise the named device, checked."""
    lib = require_torch()
    if name == "auto":
        auto: torch.device = lib.device("cuda" if lib.cuda.is_available() else "cpu")
        return auto
    try:
        device: torch.device = lib.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"device: {exc} (got {name!r})") from None
    if device.type == "cuda" and not lib.cuda.is_available():
        raise ConfigError(f"device {name!r}: CUDA is not available on this machine")
    return device


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """torch's global RNG seeded for the block and restored after (the caller's stream is
    left as it was)."""
    import torch

    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class _SequentialRecommender(RatingsRecommender):
    """Fitting and ranking shared by the sequential backends (module docstring)."""

    config: _SequentialConfig
    chunk_size: ClassVar[int] = 1024

    index_: ItemIndex
    model_: nn.Module
    device_: torch.device
    log_: TrainLog
    n_parameters_: int

    def _build(self, n_items: int) -> nn.Module:
        raise NotImplementedError

    def _fit_ratings(self, ratings: Ratings) -> None:
        from llmrec.recommenders.sequential._train import train

        cfg = self.config
        device = resolve_device(cfg.device)
        index = item_index(ratings)
        if index.n_items == 0:
            raise ConfigError(f"{type(self).__name__}: the training ratings are empty")
        data = histories(ratings, index)
        valid = None
        if cfg.patience is not None:
            data, valid = data.split_last()
        with _seeded(cfg.seed, device):
            model = self._build(index.n_items).to(device)
            log = train(
                model,
                data.training_examples(),
                valid,
                n_items=index.n_items,
                max_length=cfg.max_length,
                epochs=cfg.epochs,
                batch_size=cfg.batch_size,
                learning_rate=cfg.learning_rate,
                weight_decay=cfg.weight_decay,
                loss=cfg.loss,
                patience=cfg.patience,
                seed=cfg.seed,
                device=device,
            )
        self.index_ = index
        self.model_ = model
        self.device_ = device
        self.log_ = log
        self.n_parameters_ = sum(int(p.numel()) for p in model.parameters())

    def _scores(self, profiles: list[tuple[int, ...]]) -> npt.NDArray[np.float32]:
        from llmrec.recommenders.sequential._train import score_block

        seqs, lengths = profile_batch(profiles, self.index_, self.config.max_length)
        return score_block(self.model_, seqs, lengths, self.device_)

    def _recommend_many(self, profiles: list[tuple[int, ...]], k: int) -> list[Recommendation]:
        scores = self._scores(profiles)
        cols = self.index_.columns(np.fromiter((m for p in profiles for m in p), np.int64))
        rows = np.repeat(np.arange(len(profiles)), [len(p) for p in profiles])
        known = cols >= 0
        scores[rows[known], cols[known]] = -np.inf
        best, values = top_k(scores, k)
        return recommendations_from(best, values, self.index_)

    def _rank_many(
        self, profiles: list[tuple[int, ...]], candidates: list[tuple[int, ...]], k: int | None
    ) -> list[Recommendation]:
        scores = self._scores(profiles)

        def gather(rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64]) -> Any:
            return scores[rows, cols].astype(np.float64)

        return rank_candidates(candidates, self.index_, k, gather)


class SASRecRecommender(_SequentialRecommender):
    """SASRec (Kang and McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018) on
    time-ordered histories; the network is RecBole's layout
    (:mod:`llmrec.recommenders.sequential._sasrec`). Needs the ``[train]`` extra."""

    name = "sasrec"
    config_class = SASRecConfig
    config: SASRecConfig

    def _build(self, n_items: int) -> nn.Module:
        from llmrec.recommenders.sequential._sasrec import SASRec

        cfg = self.config
        if cfg.hidden_size % cfg.heads:
            raise ConfigError(
                f"SASRec: heads ({cfg.heads}) must divide hidden_size ({cfg.hidden_size})"
            )
        return SASRec(
            n_items,
            cfg.max_length,
            cfg.hidden_size,
            cfg.blocks,
            cfg.heads,
            cfg.inner_size,
            cfg.dropout,
        )


class GRU4RecRecommender(_SequentialRecommender):
    """GRU4Rec (Hidasi et al., "Session-based Recommendations with Recurrent Neural Networks",
    ICLR 2016) on time-ordered histories, RecBole's layout
    (:mod:`llmrec.recommenders.sequential._gru4rec`). Needs the ``[train]`` extra."""

    name = "gru4rec"
    config_class = GRU4RecConfig
    config: GRU4RecConfig

    def _build(self, n_items: int) -> nn.Module:
        from llmrec.recommenders.sequential._gru4rec import GRU4Rec

        cfg = self.config
        return GRU4Rec(n_items, cfg.embedding_size, cfg.hidden_size, cfg.layers, cfg.dropout)

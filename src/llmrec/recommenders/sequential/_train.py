"""Training and scoring loops shared by the sequential backends.

Training follows RecBole's ``Trainer`` for sequential models: each epoch shuffles the
next-item examples (:meth:`~llmrec.recommenders.sequential._data.Histories.training_examples`)
with a seeded generator, and Adam minimises either

* ``loss="ce"``: cross-entropy of the target over all items (softmax over ``h · e_i``), or
* ``loss="bce"``: the original SASRec objective, ``-log σ(h·e_target) - log(1 - σ(h·e_neg))``
  with one negative drawn uniformly per example (redrawn while it equals the target).

With ``patience`` set, the state after each epoch is scored on held-out items (each user's
last training item) by NDCG@10 over the full catalogue, leaving out the items in the
sequence the model reads; training stops after ``patience`` epochs without a better score and
the best epoch's weights are kept.

Scoring runs in blocks of a fixed shape (``SCORE_ROWS`` sequences of ``max_length``), padded
with empty sequences, so a profile's scores are the same bytes whatever batch it came in.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import torch

    from llmrec.recommenders.sequential._data import Examples

__all__ = ["SCORE_ROWS", "TrainLog", "score_block", "train"]

SCORE_ROWS = 256


@dataclass
class TrainLog:
    """What happened while fitting: per-epoch mean loss, validation NDCG@10 (with
    ``patience``), the epoch whose weights were kept (1-based), seconds spent training."""

    losses: list[float] = field(default_factory=list)
    valid_ndcg: list[float] = field(default_factory=list)
    best_epoch: int = 0
    train_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "losses": list(self.losses),
            "valid_ndcg": list(self.valid_ndcg),
            "best_epoch": self.best_epoch,
            "train_seconds": self.train_seconds,
        }


def train(
    model: Any,  # SASRec or GRU4Rec: forward, logits, embed
    examples: Examples,
    valid: Examples | None,
    *,
    n_items: int,
    max_length: int,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    weight_decay: float,
    loss: Literal["ce", "bce"],
    patience: int | None,
    seed: int,
    device: torch.device,
) -> TrainLog:
    """Fit ``model`` in place (module docstring); the torch RNG must already be seeded."""
    import torch

    rng = np.random.default_rng([seed, 1])
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    log = TrainLog()
    best: dict[str, torch.Tensor] | None = None
    best_score = -1.0
    since_best = 0
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        order = rng.permutation(len(examples))
        total, batches = 0.0, 0
        for start in range(0, order.size, batch_size):
            seqs, lengths, targets = examples.batch(order[start : start + batch_size], max_length)
            seqs_t = torch.from_numpy(seqs).to(device)
            lengths_t = torch.from_numpy(lengths).to(device)
            targets_t = torch.from_numpy(targets).to(device)
            state = model(seqs_t, lengths_t)
            if loss == "ce":
                value = torch.nn.functional.cross_entropy(model.logits(state), targets_t - 1)
            else:
                negatives = torch.from_numpy(_negatives(rng, targets, n_items)).to(device)
                pos = (state * model.embed(targets_t)).sum(-1)
                neg = (state * model.embed(negatives)).sum(-1)
                value = torch.nn.functional.binary_cross_entropy_with_logits(
                    torch.cat([pos, neg]), torch.cat([torch.ones_like(pos), torch.zeros_like(neg)])
                )
            optimiser.zero_grad()
            value.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            total += float(value.detach())
            batches += 1
        log.losses.append(total / max(batches, 1))
        if valid is None or patience is None:
            log.best_epoch = epoch
            continue
        score = _ndcg_at_10(model, valid, max_length, device)
        log.valid_ndcg.append(score)
        if score > best_score:
            best_score, since_best, log.best_epoch = score, 0, epoch
            best = copy.deepcopy(model.state_dict())
        else:
            since_best += 1
            if since_best >= patience:
                break
    if best is not None:
        model.load_state_dict(best)
    log.train_seconds = time.perf_counter() - started
    model.eval()
    return log


def _negatives(
    rng: np.random.Generator, targets: npt.NDArray[np.int64], n_items: int
) -> npt.NDArray[np.int64]:
    """One uniform negative item per target, never the target itself."""
    neg = rng.integers(1, n_items + 1, size=targets.size)
    clash = neg == targets
    while clash.any() and n_items > 1:
        neg[clash] = rng.integers(1, n_items + 1, size=int(clash.sum()))
        clash = neg == targets
    return neg.astype(np.int64)


def score_block(
    model: Any,
    seqs: npt.NDArray[np.int64],
    lengths: npt.NDArray[np.int64],
    device: torch.device,
) -> npt.NDArray[np.float32]:
    """Scores of every item (``rows × n_items``, float32) for left-aligned sequences, computed
    ``SCORE_ROWS`` at a time in blocks of one fixed shape (module docstring)."""
    import torch

    rows = seqs.shape[0]
    out: list[npt.NDArray[np.float32]] = []
    model.eval()
    with torch.no_grad():
        for start in range(0, rows, SCORE_ROWS):
            part = seqs[start : start + SCORE_ROWS]
            part_len = lengths[start : start + SCORE_ROWS]
            pad = SCORE_ROWS - part.shape[0]
            if pad:
                part = np.concatenate([part, np.zeros((pad, part.shape[1]), dtype=np.int64)])
                part_len = np.concatenate([part_len, np.zeros(pad, dtype=np.int64)])
            state = model(torch.from_numpy(part).to(device), torch.from_numpy(part_len).to(device))
            logits = model.logits(state).float().cpu().numpy()
            out.append(logits[: SCORE_ROWS - pad])
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(out).astype(np.float32, copy=False)


def _ndcg_at_10(model: Any, valid: Examples, max_length: int, device: torch.device) -> float:
    """Mean NDCG@10 of the held-out targets, full ranking without the items read."""
    total = 0.0
    rows = np.arange(len(valid), dtype=np.int64)
    for start in range(0, rows.size, 4 * SCORE_ROWS):
        seqs, lengths, targets = valid.batch(rows[start : start + 4 * SCORE_ROWS], max_length)
        scores = score_block(model, seqs, lengths, device)
        r = np.arange(scores.shape[0])
        target_score = scores[r, targets - 1]
        read = seqs > 0
        scores[np.repeat(r, read.sum(1)), seqs[read] - 1] = -np.inf
        rank = (scores > target_score[:, None]).sum(1)
        total += float(np.where(rank < 10, 1.0 / np.log2(rank + 2.0), 0.0).sum())
    return total / max(len(valid), 1)

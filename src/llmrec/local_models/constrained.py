"""Catalog-constrained decoding: every written title is a catalog title, by construction.

:class:`CatalogConstraint` tokenizes, for each rank ``i`` of a ``k``-item answer, the text the
template's numbered format writes for every catalog label, ``"i. Title (Year)\n"`` (the last
item ends with the end-of-turn token instead of the newline), in context, so the tokens are the
ones the model saw in training. Each rank's sequences are sorted, so every node of the
token-prefix trie is a contiguous row range and its children are runs of one column.
:class:`CatalogLogitsProcessor` (a transformers ``LogitsProcessor``, batched) follows each row
through the trie and masks every token that leads to no allowed label: labels of the row's
profile and labels already written are not allowed, so there are no repeats and no profile
movies; after ``k`` items (or when no label is left) only the end token is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from llmrec._extras import require
from llmrec.data.catalog import Catalog
from llmrec.errors import ConfigError
from llmrec.prompts.template import PromptTemplate

__all__ = ["CatalogConstraint", "CatalogLogitsProcessor"]


@dataclass
class _Rank:
    """The sorted token sequences of one rank: ``table[row, col]`` (-1 past the end)."""

    table: npt.NDArray[np.int64]
    lengths: npt.NDArray[np.int64]
    label_of_row: npt.NDArray[np.int64]


class CatalogConstraint:
    """The labels a constrained answer may use, tokenized per rank (built lazily, reused)."""

    def __init__(
        self,
        catalog: Catalog,
        tokenizer: Any,
        *,
        template: PromptTemplate | None = None,
        k: int | None = None,
        eos_token_id: int | None = None,
    ) -> None:
        self.template = template or PromptTemplate()
        if self.template.output_format != "numbered":
            raise ConfigError(
                "constrained decoding writes the numbered format; use "
                "PromptTemplate(output_format='numbered') with constrained=True"
            )
        self.k = k or self.template.n_recommendations
        self.tokenizer = tokenizer
        eos = tokenizer.eos_token_id if eos_token_id is None else eos_token_id
        if eos is None:
            raise ConfigError("the tokenizer has no end-of-sequence token; pass eos_token_id=")
        self.eos = int(eos)
        labels: dict[str, list[int]] = {}
        for movie in catalog:
            text = movie.label() if self.template.include_year else movie.title
            labels.setdefault(text, []).append(movie.movie_id)
        self.labels = sorted(labels)
        self.label_ids = [labels[text] for text in self.labels]
        self._index = {mid: i for i, ids in enumerate(self.label_ids) for mid in ids}
        self._ranks: dict[tuple[int, bool], _Rank] = {}

    def label_index(self, movie_ids: Sequence[int]) -> list[int]:
        """Label positions of catalog movies (ids outside the catalog are ignored)."""
        return [self._index[m] for m in movie_ids if m in self._index]

    def rank(self, i: int, last: bool) -> _Rank:
        """The sequences of rank ``i`` (1-based); ``last`` ends them with the end token."""
        key = (i, last)
        if key not in self._ranks:
            end = "" if last else "\n"
            texts = [f"{i}. {label}{end}" for label in self.labels]
            encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
            seqs = [list(ids) + ([self.eos] if last else []) for ids in encoded]
            order = sorted(range(len(seqs)), key=lambda j: seqs[j])
            width = max(len(s) for s in seqs)
            table = np.full((len(seqs), width), -1, dtype=np.int64)
            for row, j in enumerate(order):
                table[row, : len(seqs[j])] = seqs[j]
            lengths = np.array([len(seqs[j]) for j in order], dtype=np.int64)
            self._ranks[key] = _Rank(table, lengths, np.array(order, dtype=np.int64))
        return self._ranks[key]


@dataclass
class _RowState:
    excluded: npt.NDArray[np.bool_]
    k: int
    rank: int = 1
    depth: int = 0
    lo: int = 0
    hi: int = -1
    done: bool = False


class CatalogLogitsProcessor:
    """A batched ``LogitsProcessor`` that keeps each row's answer inside the catalog."""

    def __init__(self, constraint: CatalogConstraint, exclude: Sequence[Sequence[int]]) -> None:
        self.c = constraint
        n = len(constraint.labels)
        self.rows: list[_RowState] = []
        for movies in exclude:
            mask = np.zeros(n, dtype=np.bool_)
            mask[constraint.label_index(movies)] = True
            k = min(constraint.k, int(n - mask.sum()))
            state = _RowState(excluded=mask, k=k, done=k == 0)
            self.rows.append(state)
            self._reset(state)
        self._start: int | None = None
        self.torch = require("torch")

    def _reset(self, state: _RowState) -> None:
        if state.done:
            return
        rank = self.c.rank(state.rank, state.rank == state.k)
        state.depth, state.lo, state.hi = 0, 0, len(rank.table)

    def _children(self, state: _RowState) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Allowed next tokens and each one's row range start (child ranges are runs)."""
        rank = self.c.rank(state.rank, state.rank == state.k)
        column = rank.table[state.lo : state.hi, state.depth]
        starts = np.flatnonzero(np.r_[True, column[1:] != column[:-1]])
        allowed = ~state.excluded[rank.label_of_row[state.lo : state.hi]]
        counts = np.add.reduceat(allowed.astype(np.int64), starts)
        keep = counts > 0
        return column[starts[keep]], starts[keep] + state.lo

    def _advance(self, state: _RowState, token: int) -> None:
        if state.done:
            return
        rank = self.c.rank(state.rank, state.rank == state.k)
        column = rank.table[state.lo : state.hi, state.depth]
        hits = np.flatnonzero(column == token)
        if hits.size == 0:  # cannot happen under the mask; stop the row rather than guess
            state.done = True
            return
        state.lo, state.hi = state.lo + int(hits[0]), state.lo + int(hits[-1]) + 1
        state.depth += 1
        finished = rank.lengths[state.lo : state.hi] == state.depth
        if finished.any():
            label = int(rank.label_of_row[state.lo + int(np.flatnonzero(finished)[0])])
            state.excluded[label] = True
            state.rank += 1
            if state.rank > state.k:
                state.done = True
            else:
                self._reset(state)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        torch = self.torch
        if self._start is None:
            self._start = int(input_ids.shape[1])
        else:
            last = input_ids[:, -1].tolist()
            for state, token in zip(self.rows, last, strict=True):
                self._advance(state, int(token))
        mask = torch.full_like(scores, float("-inf"))
        for row, state in enumerate(self.rows):
            if state.done:
                mask[row, self.c.eos] = 0.0
                continue
            tokens, _ = self._children(state)
            mask[row, torch.as_tensor(tokens, device=scores.device)] = 0.0
        return scores + mask

"""Exact log-probabilities from a local causal model: continuations and next-token options.

Both read a model by one forward pass, no generation:

* :func:`continuation_logprobs`: ``log P(continuation | prompt)`` summed over the
  continuation's tokens, for each (conversation, continuation) pair; the prompt is the chat
  template with the generation prompt, the continuation the assistant's answer text (tokenized
  after it; its token count is returned so a caller can length-normalise);
* :func:`next_token_logprobs`: the log-probability of given token ids at the first answer
  position (TALLRec's rule reads "Yes" and "No" there).

Sequences are left-padded to the longest in a batch, with the attention mask and with position
ids counted from each sequence's first real token (``cumsum(mask) − 1``), so a padded sequence
sees exactly the positions it would see alone: the result does not depend on which sequences
share a batch, up to float round-off in the padded attention (the tests check 1e-5 across batch
sizes). Batches are formed in order of length (longest first) and results returned in input
order; a fixed input gives the same batches, so the same bits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmrec._extras import require

__all__ = ["continuation_logprobs", "next_token_logprobs", "prompt_ids"]

Messages = Sequence[dict[str, str]]


def prompt_ids(tokenizer: Any, messages: Messages) -> list[int]:
    """Token ids of the chat template with the generation prompt (no special tokens added)."""
    text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    ids: list[int] = tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids


def _forward(model: Any, rows: list[list[int]], pad: int) -> Any:
    """Log-softmax over the vocabulary at every position of left-padded ``rows``."""
    torch = require("torch")
    width = max(len(r) for r in rows)
    input_ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    device = next(model.parameters()).device
    with torch.inference_mode():
        logits = model(
            input_ids=input_ids.to(device),
            attention_mask=mask.to(device),
            position_ids=positions.to(device),
        ).logits
    return torch.log_softmax(logits.float(), dim=-1).cpu(), width


def continuation_logprobs(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[tuple[Messages, str]],
    *,
    batch_size: int = 16,
) -> list[tuple[float, int, int]]:
    """``(sum of log-probabilities, continuation tokens, prompt tokens)`` per pair, in order.

    A continuation that tokenizes to nothing is an error (it has no probability to read).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rows: list[list[int]] = []
    starts: list[int] = []
    for i, (messages, text) in enumerate(pairs):
        head = prompt_ids(tokenizer, messages)
        tail: list[int] = tokenizer(text, add_special_tokens=False)["input_ids"]
        if not tail:
            raise ValueError(f"continuation #{i} ({text!r}) has no tokens")
        rows.append(head + tail)
        starts.append(len(head))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    order = sorted(range(len(rows)), key=lambda i: (-len(rows[i]), i))
    out: list[tuple[float, int, int] | None] = [None] * len(rows)
    for begin in range(0, len(order), batch_size):
        chunk = order[begin : begin + batch_size]
        logp, width = _forward(model, [rows[i] for i in chunk], pad)
        for b, i in enumerate(chunk):
            row, start = rows[i], starts[i]
            offset = width - len(row)
            total = 0.0
            for t in range(start, len(row)):
                # the token at t is predicted at position t − 1
                total += float(logp[b, offset + t - 1, row[t]])
            out[i] = (total, len(row) - start, start)
    return [r for r in out if r is not None]


def next_token_logprobs(
    model: Any,
    tokenizer: Any,
    conversations: Sequence[Messages],
    token_ids: Sequence[int],
    *,
    batch_size: int = 16,
) -> list[tuple[list[float], int]]:
    """Per conversation: the log-probability of each of ``token_ids`` as the first answer token,
    and the prompt's token count; in order."""
    rows = [prompt_ids(tokenizer, m) for m in conversations]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    order = sorted(range(len(rows)), key=lambda i: (-len(rows[i]), i))
    out: list[tuple[list[float], int] | None] = [None] * len(rows)
    for begin in range(0, len(order), batch_size):
        chunk = order[begin : begin + batch_size]
        logp, width = _forward(model, [rows[i] for i in chunk], pad)
        last = logp[:, width - 1, :]
        for b, i in enumerate(chunk):
            out[i] = ([float(last[b, t]) for t in token_ids], len(rows[i]))
    return [r for r in out if r is not None]

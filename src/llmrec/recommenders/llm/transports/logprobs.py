"""Log-probabilities from an OpenAI-compatible server: the request bodies and their reading.

* **Next token** (TALLRec's yes/no): a chat request with ``logprobs: true``,
  ``top_logprobs: 20`` (OpenAI's maximum), ``max_tokens: 1``, ``temperature: 0``. An option's
  log-probability is read from the first answer token's ``top_logprobs``; tokens are matched
  tolerantly (surrounding spaces and trailing ``.,!:;`` ignored, so "Yes", " Yes" and "Yes."
  all count as "Yes"; several matching tokens add their probabilities). An option absent from
  the top 20 has log-probability ``-inf`` (probability below every listed token; with both
  absent the row is an error). A response without ``logprobs`` raises
  :class:`~llmrec.errors.CapabilityError`: the server does not serve them.
* **Continuation** (ranking by likelihood): vLLM's extension ``prompt_logprobs`` (an extra body
  field) returns, at the top level of the response, one entry per prompt token: ``null`` for
  the first, else ``{"<token id>": {"logprob", "rank", "decoded_token"}, ...}`` with the
  prompt's own token first (then the top-N others). The answer is sent as the final assistant
  message with ``continue_final_message: true`` and ``add_generation_prompt: false`` (vLLM's
  chat parameters), so the prompt ends with the answer's tokens; they are the trailing
  positions whose ``decoded_token`` strings spell the answer, and their log-probabilities are
  summed. Servers without ``prompt_logprobs`` (OpenAI's own API) answer without the field:
  :class:`~llmrec.errors.CapabilityError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from llmrec.errors import BackendError, CapabilityError
from llmrec.recommenders.llm.transports.base import ScoreTask

__all__ = ["TOP_LOGPROBS", "normalise_token", "read_scores", "score_body"]

TOP_LOGPROBS = 20
"""Alternatives asked for at the first answer token (OpenAI's maximum)."""
_PUNCTUATION = ".,!:;"


def normalise_token(token: str) -> str:
    """A token as compared with an option: spaces and trailing ``.,!:;`` removed."""
    return token.strip().rstrip(_PUNCTUATION).strip()


def score_body(
    model: str, messages: Sequence[Mapping[str, str]], task: ScoreTask, *, seed: int | None
) -> dict[str, Any]:
    """The request body of a likelihood reading (module docstring)."""
    body: dict[str, Any] = {"model": model, "temperature": 0.0, "max_tokens": 1}
    if seed is not None:
        body["seed"] = seed
    if task.kind == "next_token":
        body.update(messages=[dict(m) for m in messages], logprobs=True, top_logprobs=TOP_LOGPROBS)
    else:
        body.update(
            messages=[
                *(dict(m) for m in messages),
                {"role": "assistant", "content": task.options[0]},
            ],
            prompt_logprobs=1,
            add_generation_prompt=False,
            continue_final_message=True,
        )
    return body


def _next_token(options: Sequence[str], response: Mapping[str, Any], where: str) -> list[float]:
    choices = response.get("choices") or []
    logprobs = (choices[0] or {}).get("logprobs") if choices else None
    content = logprobs.get("content") if isinstance(logprobs, Mapping) else None
    if not content:
        raise CapabilityError(
            f"{where} returned no log-probabilities (choices[0].logprobs.content is empty); "
            "this server cannot score yes/no answers (it needs logprobs and top_logprobs)"
        )
    first = content[0]
    listed = list(first.get("top_logprobs") or [])
    if not listed:
        listed = [{"token": first.get("token", ""), "logprob": first.get("logprob")}]
    wanted = {normalise_token(o): i for i, o in enumerate(options)}
    mass = [0.0] * len(options)
    for entry in listed:
        i = wanted.get(normalise_token(str(entry.get("token", ""))))
        if i is not None and entry.get("logprob") is not None:
            mass[i] += math.exp(float(entry["logprob"]))
    if not any(mass):
        shown = [e.get("token") for e in listed[:8]]
        raise BackendError(
            f"{where}: none of {list(options)} is among the first answer token's "
            f"{len(listed)} most likely tokens ({shown}...); the model does not answer the "
            "question with them"
        )
    return [math.log(m) if m > 0 else -math.inf for m in mass]


def _continuation(answer: str, response: Mapping[str, Any], where: str) -> tuple[float, int]:
    positions = response.get("prompt_logprobs")
    if not isinstance(positions, list) or not positions:
        raise CapabilityError(
            f"{where} returned no prompt log-probabilities: ranking by likelihood needs a "
            "server with vLLM's prompt_logprobs (OpenAI's API does not serve them)"
        )
    text = ""
    total = 0.0
    n = 0
    for entry in reversed(positions):
        if not isinstance(entry, Mapping) or not entry:
            break
        first = next(iter(entry.values()))
        text = str(first.get("decoded_token", "")) + text
        total += float(first["logprob"])
        n += 1
        if text.strip() == answer.strip() or len(text) >= len(answer) + 1:
            break
    if text.strip() != answer.strip():
        raise BackendError(
            f"{where}: the prompt's last tokens spell {text!r}, not the answer {answer!r}; "
            "cannot find the answer's log-probabilities"
        )
    return total, n


def read_scores(
    task: ScoreTask, response: Mapping[str, Any], where: str
) -> list[tuple[float, int]]:
    """Per option of ``task``: ``(log-probability, tokens)`` (module docstring)."""
    if task.kind == "next_token":
        return [(lp, 1) for lp in _next_token(task.options, response, where)]
    return [_continuation(task.options[0], response, where)]

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
  prompt's own token with its rank, and the rank-1 token when that is another (vLLM's
  ``_make_logprob_dict`` with ``prompt_logprobs: 1``; told apart by rank). The answer
  is sent as the final assistant message with ``continue_final_message: true`` and
  ``add_generation_prompt: false`` (vLLM's chat parameters), so the prompt ends with the
  answer's tokens; they are the trailing positions whose ``decoded_token`` strings spell the
  answer (compared by :func:`skeleton`, so raw vocabulary pieces and split characters match
  too), and their log-probabilities are summed. The answer must start with an ASCII character
  (the template's answers start with ``"1."``). Servers without ``prompt_logprobs`` (OpenAI's
  own API) answer without the field: :class:`~llmrec.errors.CapabilityError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from llmrec.errors import BackendError, CapabilityError
from llmrec.recommenders.llm.transports.base import ScoreTask

__all__ = ["TOP_LOGPROBS", "normalise_token", "read_scores", "score_body", "skeleton"]

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


def skeleton(text: str) -> str:
    """The ASCII characters of ``text`` other than whitespace: what every detokenisation of the
    same tokens agrees on. vLLM's ``decoded_token`` is each token decoded alone, which differs
    between releases in the spacing (``" Heat"``; older releases give the raw vocabulary piece,
    ``"ĠHeat"`` or ``"▁Heat"``) and gives ``"\ufffd"`` for a byte of a character split over
    tokens (``"é"`` in two)."""
    return "".join(c for c in text if c.isascii() and not c.isspace())


def _own_token(entry: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """The prompt's own token among one position's entries, asked with ``prompt_logprobs: 1``:
    the only entry, or of two (the token and the most likely one) the one not ranked 1. Read by
    rank, not by order: a JSON object's key order does not survive every cache or proxy."""
    values = [v for v in entry.values() if isinstance(v, Mapping)]
    if len(values) == 1:
        return values[0]
    below = [v for v in values if v.get("rank") != 1]
    if len(values) == 2 and len(below) == 1:
        return below[0]
    raise BackendError(
        f"{where}: a prompt position lists {len(values)} tokens with ranks "
        f"{[v.get('rank') for v in values]}; with prompt_logprobs = 1 vLLM lists the prompt's "
        "token and, when it is not the most likely, the rank-1 token"
    )


def _continuation(answer: str, response: Mapping[str, Any], where: str) -> tuple[float, int]:
    positions = response.get("prompt_logprobs")
    if not isinstance(positions, list) or not positions:
        raise CapabilityError(
            f"{where} returned no prompt log-probabilities: ranking by likelihood needs a "
            "server with vLLM's prompt_logprobs (OpenAI's API does not serve them)"
        )
    want = skeleton(answer)
    text = got = ""
    total = 0.0
    n = 0
    for entry in reversed(positions):
        if not isinstance(entry, Mapping) or not entry:
            break
        first = _own_token(entry, where)
        piece = str(first.get("decoded_token") or "")
        text, got = piece + text, skeleton(piece) + got
        total += float(first["logprob"])
        n += 1
        if got == want or not want.endswith(got):
            break
    if got != want or not want:
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

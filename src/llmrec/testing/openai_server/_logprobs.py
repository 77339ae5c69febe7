"""Scriptable log-probabilities for the local server, shaped as OpenAI and vLLM send them.

* ``logprobs: true`` (with ``top_logprobs``): ``choices[0].logprobs.content`` holds one entry
  for the first answer token, ``{"token", "logprob", "bytes", "top_logprobs": [...]}``, the
  alternatives being what the server's ``logprobs`` function returns for the request body
  (``{token: logprob}``), most likely first, cut to ``top_logprobs``. Without a ``logprobs``
  function the server answers ``"logprobs": null``, as a server that has none.
* ``prompt_logprobs: k`` (vLLM's extension, in the shape of vLLM's OpenAI-compatible server:
  ``ChatCompletionResponse.prompt_logprobs: list[dict[int, Logprob] | None]``): a top-level
  list, ``null`` for the first prompt token, then per token ``{"<id>": {"logprob", "rank",
  "decoded_token"}, ...}`` built as vLLM's ``LogprobsProcessor._make_logprob_dict`` builds it:
  the prompt token first with its rank in the vocabulary, then the ``k`` most likely tokens
  with ranks 1..k (the prompt token once when it is among them; ``k = 0``: the prompt token
  only). The prompt is rendered as ``<|role|>\\ncontent\\n`` per message (the last message
  without its newline when ``continue_final_message`` is set) and split into tokens at word
  starts (each token keeps its leading whitespace, as vLLM's per-token ``decode`` gives it);
  each token's log-probability is ``prompt_logprob(token, position)``, and the other tokens of
  the vocabulary are ``<altJ>`` sharing what is left (module ``_position``). Without that
  function the field is left out.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "LogprobFunction",
    "PromptLogprobFunction",
    "add_logprobs",
    "hashed_logprob",
    "prompt_tokens",
]

LogprobFunction = Callable[[dict[str, Any]], Mapping[str, float]]
"""A request body -> the first answer token's alternatives, ``{token: logprob}``."""
PromptLogprobFunction = Callable[[str, int], float]
"""(prompt token, position) -> its log-probability."""

_TOKEN = re.compile(r"\s*\S+|\s+$")


def hashed_logprob(token: str, position: int) -> float:
    """A deterministic log-probability in (-8, 0) from the token's text and position."""
    digest = hashlib.sha256(f"{position}:{token}".encode()).digest()
    return -8.0 * (int.from_bytes(digest[:4], "big") + 1) / (2**32 + 1)


def prompt_tokens(body: Mapping[str, Any]) -> list[str]:
    """The prompt as the local server tokenizes it (module docstring)."""
    messages = list(body.get("messages") or [])
    keep_open = bool(body.get("continue_final_message"))
    parts = []
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, Mapping) else ""
        text = f"<|{message.get('role', '')}|>\n{content if isinstance(content, str) else ''}"
        parts.append(text if keep_open and i == len(messages) - 1 else text + "\n")
    return _TOKEN.findall("".join(parts))


def add_logprobs(
    body: Mapping[str, Any],
    response: dict[str, Any],
    logprobs: LogprobFunction | None,
    prompt_logprob: PromptLogprobFunction | None,
) -> dict[str, Any]:
    """``response`` with the log-probabilities the request asks for (module docstring)."""
    if body.get("logprobs") and response.get("choices"):
        choice = response["choices"][0]
        if logprobs is None:
            choice["logprobs"] = None
        else:
            ranked = sorted(logprobs(dict(body)).items(), key=lambda kv: (-kv[1], kv[0]))
            n = int(body.get("top_logprobs") or 0)
            top = [
                {"token": t, "logprob": float(lp), "bytes": list(t.encode())}
                for t, lp in ranked[: max(n, 1)]
            ]
            first = top[0] if top else {"token": "", "logprob": 0.0, "bytes": []}
            choice["logprobs"] = {
                "content": [{**first, "top_logprobs": top if n else []}],
                "refusal": None,
            }
    if body.get("prompt_logprobs") is not None and prompt_logprob is not None:
        k = int(body["prompt_logprobs"])
        entries: list[dict[str, Any] | None] = [None]
        for position, token in enumerate(prompt_tokens(body)[1:], 1):
            entries.append(_position(token, prompt_logprob(token, position), k))
        response["prompt_logprobs"] = entries
    return response


def _token_id(token: str) -> str:
    """A token's id as vLLM's JSON writes it (an integer key, as a string)."""
    return str(int.from_bytes(hashlib.sha256(token.encode()).digest()[:3], "big"))


def _position(token: str, logprob: float, top: int) -> dict[str, Any]:
    """One prompt position as vLLM's ``_make_logprob_dict`` builds it: the prompt token first,
    with its rank in the vocabulary, then the ``top`` most likely tokens with ranks 1..top (the
    prompt token once if it is among them). The other tokens are ``<altJ>``, sharing the
    probability the prompt token leaves, halving: ``(1 - p) / 2**J``."""
    rest = math.log(max(1.0 - math.exp(logprob), 1e-12))
    alternatives = [(f"<alt{j}>", rest - j * math.log(2.0)) for j in range(1, top + 1)]
    ranked = sorted([(token, logprob), *alternatives], key=lambda kv: -kv[1])  # stable: ties
    rank = 1 + [t for t, _ in ranked].index(token)
    out = {_token_id(token): {"logprob": logprob, "rank": rank, "decoded_token": token}}
    for j, (alt, lp) in enumerate(ranked[:top], 1):
        out.setdefault(_token_id(alt), {"logprob": lp, "rank": j, "decoded_token": alt})
    return out

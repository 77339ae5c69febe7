"""``LocalModel``: batched greedy generation from a local or hub model, optionally constrained.

Prompts are chat messages rendered with the model's chat template (generation prompt added),
left-padded and generated in batches of ``batch_size`` with greedy decoding. Prompts are batched
in order of token length (longest first) so a batch holds similar lengths and little padding;
results come back in input order. Greedy decoding and fixed-order batching make the output
deterministic; the text does not depend on the batch size up to float round-off in the padded
attention, which the tests check on the tiny model. ``cache_key()`` names the weights (content
hash of the folder or hub commit, plus the adapter's hash) and the generation settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmrec._extras import require
from llmrec._progress import progress_bar
from llmrec.local_models.constrained import CatalogConstraint, CatalogLogitsProcessor
from llmrec.local_models.fingerprint import settings_key
from llmrec.local_models.load import load_model

__all__ = ["GenerationResult", "LocalModel"]

Messages = Sequence[dict[str, str]]


@dataclass(frozen=True)
class GenerationResult:
    """One answer: the text, exact prompt and completion token counts, and why it stopped."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


class LocalModel:
    """A causal language model ready for batched greedy chat generation.

    ``model`` is a hub id, a model folder, or an output folder of ``llmrec finetune local``
    (a LoRA adapter is loaded on the base it names; ``base_model=`` overrides and is checked).
    """

    def __init__(
        self,
        model: str | Path,
        *,
        base_model: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 16,
        chat_template: str | None = None,
    ) -> None:
        loaded = load_model(
            model, base_model=base_model, device=device, dtype=dtype, chat_template=chat_template
        )
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.weights = loaded.weights
        self.name = str(model)
        self.batch_size = batch_size
        self.device = next(self.model.parameters()).device
        self.dtype = str(next(self.model.parameters()).dtype)
        self._torch = require("torch")

    def cache_key(self, **settings: Any) -> str:
        """Hex key naming the weights and the generation ``settings`` (for response caches)."""
        return settings_key(self.weights, {"dtype": self.dtype, **settings})

    def constraint(
        self, catalog: Any, template: Any = None, k: int | None = None
    ) -> CatalogConstraint:
        """A :class:`CatalogConstraint` for this tokenizer (build once, reuse across calls)."""
        return CatalogConstraint(catalog, self.tokenizer, template=template, k=k)

    def render(self, messages: Messages) -> str:
        """The prompt text: the chat template with the generation prompt."""
        text: str = self.tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True
        )
        return text

    def generate(
        self,
        batch: Sequence[Messages],
        *,
        max_new_tokens: int = 256,
        constrained_to: CatalogConstraint | None = None,
        exclude: Sequence[Sequence[int]] | None = None,
        progress: bool = False,
    ) -> list[GenerationResult]:
        """Greedy answers to each conversation of ``batch``, in order.

        With ``constrained_to``, decoding is restricted to the constraint's catalog labels in the
        numbered format, with no repeats and none of ``exclude[i]`` (row ``i``'s profile movies).
        """
        if exclude is not None and len(exclude) != len(batch):
            raise ValueError(f"exclude has {len(exclude)} rows for {len(batch)} conversations")
        prompts = [self.render(m) for m in batch]
        ids = [self.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        order = sorted(range(len(ids)), key=lambda i: (-len(ids[i]), i))
        out: list[GenerationResult | None] = [None] * len(ids)
        bar = progress_bar(enabled=progress, total=len(ids), desc="generate")
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            rows = [exclude[i] if exclude is not None else () for i in chunk]
            results = self._generate_chunk(
                [ids[i] for i in chunk], max_new_tokens, constrained_to, rows
            )
            for i, result in zip(chunk, results, strict=True):
                out[i] = result
            bar.update(len(chunk))
        bar.close()
        return [r for r in out if r is not None]

    def _generate_chunk(
        self,
        ids: list[list[int]],
        max_new_tokens: int,
        constraint: CatalogConstraint | None,
        exclude: list[Sequence[int]],
    ) -> list[GenerationResult]:
        torch = self._torch
        transformers = require("transformers")
        pad = self.tokenizer.pad_token_id
        width = max(len(x) for x in ids)
        input_ids = torch.tensor([[pad] * (width - len(x)) + list(x) for x in ids])
        attention = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids])
        processors = transformers.LogitsProcessorList()
        if constraint is not None:
            processors.append(CatalogLogitsProcessor(constraint, exclude))
        eos = self._eos_ids()
        with torch.inference_mode():
            generated = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention.to(self.device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                logits_processor=processors,
                pad_token_id=pad,
                eos_token_id=eos,
                temperature=None,
                top_p=None,
                top_k=None,
            )
        results = []
        for prompt, row in zip(ids, generated[:, width:].tolist(), strict=True):
            tokens: list[int] = []
            reason = "length"
            for token in row:
                if token in eos:
                    reason = "stop"
                    break
                tokens.append(token)
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            used = len(tokens) + (1 if reason == "stop" else 0)
            results.append(GenerationResult(text, len(prompt), used, reason))
        return results

    def continuation_logprobs(
        self, pairs: Sequence[tuple[Messages, str]]
    ) -> list[tuple[float, int, int]]:
        """Exact ``log P(text | conversation)`` per ``(conversation, text)`` pair, in order:
        ``(summed log-probability, text tokens, prompt tokens)``, one forward pass per batch of
        ``batch_size`` (see :mod:`llmrec.local_models.likelihood`)."""
        from llmrec.local_models.likelihood import continuation_logprobs

        return continuation_logprobs(self.model, self.tokenizer, pairs, batch_size=self.batch_size)

    def option_token_ids(self, options: Sequence[str]) -> list[int]:
        """The first token of each option as the answer's start (must differ per option)."""
        ids = []
        for option in options:
            tokens = self.tokenizer(option, add_special_tokens=False)["input_ids"]
            if not tokens:
                raise ValueError(f"option {option!r} has no tokens")
            ids.append(int(tokens[0]))
        if len(set(ids)) != len(ids):
            shown = {
                o: self.tokenizer.convert_ids_to_tokens(i)
                for o, i in zip(options, ids, strict=True)
            }
            raise ValueError(f"options share a first token, which cannot tell them apart: {shown}")
        return ids

    def next_token_logprobs(
        self, conversations: Sequence[Messages], options: Sequence[str]
    ) -> list[tuple[list[float], int]]:
        """Per conversation, the log-probability of each option's first token as the first
        answer token (TALLRec's reading of "Yes" and "No") and the prompt's token count."""
        from llmrec.local_models.likelihood import next_token_logprobs

        return next_token_logprobs(
            self.model,
            self.tokenizer,
            conversations,
            self.option_token_ids(options),
            batch_size=self.batch_size,
        )

    def _eos_ids(self) -> list[int]:
        configured = getattr(self.model.generation_config, "eos_token_id", None)
        listed: list[Any] = configured if isinstance(configured, list) else [configured]
        ids = [int(i) for i in listed if i is not None]
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(int(self.tokenizer.eos_token_id))
        return ids

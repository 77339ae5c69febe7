"""What the paid steps of an experiment cost, known before anything is sent."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from llmrec.data import Catalog
from llmrec.prompts import PromptTemplate
from llmrec.truth import ProfileDataset

__all__ = ["CostLine", "estimate_backend_cost"]


@dataclass(frozen=True)
class CostLine:
    """One paid step of the plan: requests, tokens and USD, and whether this run performs it."""

    step: str
    requests: int
    input_tokens: int
    output_tokens: int
    usd: float
    will_run: bool
    kind: str = "inference"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        state = "will run" if self.will_run else "skipped"
        if self.kind == "training":
            return (
                f"{self.step}: {self.input_tokens:,} billed training tokens, "
                f"{self.usd:.4f} USD ({state})"
            )
        return (
            f"{self.step}: {self.requests:,} requests, {self.input_tokens:,} input + "
            f"{self.output_tokens:,} output tokens, {self.usd:.4f} USD ({state})"
        )


def estimate_backend_cost(
    step: str,
    test: ProfileDataset,
    template: PromptTemplate,
    catalog: Catalog,
    *,
    model: str,
    batch: bool = False,
    will_run: bool = True,
) -> CostLine:
    """Cost of asking ``model`` for every test profile.

    Input tokens are exact (``o200k_base`` with the chat overhead). Output tokens are estimated
    as the token count of the gold list written in the template's output format: the answer
    the model is asked for has that shape and length.
    """
    from llmrec.finetune.prices import inference_cost
    from llmrec.finetune.tokens import count_chat_tokens, count_tokens

    n_in = n_out = 0
    for example in test:
        n_in += count_chat_tokens(template.messages(example.profile, catalog))
        n_out += count_tokens(template.target(example.gold, catalog))
    usd = inference_cost(model, n_in, n_out, batch=batch)
    return CostLine(step, len(test), n_in, n_out, float(usd), will_run)

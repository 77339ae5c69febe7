"""What the paid steps of an experiment cost, known before anything is sent."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from llmrec.data import Catalog
from llmrec.prompts import PromptTemplate
from llmrec.truth import ProfileDataset

__all__ = ["CostLine", "estimate_backend_cost", "gpu_hours", "local_training_line"]


@dataclass(frozen=True)
class CostLine:
    """One paid step of the plan: requests, tokens and USD, and whether this run performs it."""

    step: str
    requests: int
    input_tokens: int
    output_tokens: int
    usd: float | None
    """USD; ``None`` when the cost is unknown (no price for the model)."""
    will_run: bool
    kind: str = "inference"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        state = "will run" if self.will_run else "skipped"
        usd = "unknown USD" if self.usd is None else f"{self.usd:.4f} USD"
        if self.kind == "training":
            return f"{self.step}: {self.input_tokens:,} billed training tokens, {usd} ({state})"
        return (
            f"{self.step}: {self.requests:,} requests, {self.input_tokens:,} input + "
            f"{self.output_tokens:,} output tokens, {usd} ({state})"
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
    k: int = 10,
) -> CostLine:
    """Cost of asking ``model`` for ``k`` movies for every test profile.

    A thin wrapper of :func:`llmrec.openai_api.cost.estimate_chat_cost`: input tokens are exact
    (``o200k_base`` with the chat overhead); output tokens follow the one rule of
    :func:`llmrec.openai_api.cost.expected_output_tokens`. The runner itself asks each backend
    (:meth:`~llmrec.recommenders.capabilities.LanguageModelBackend.estimate_cost`).
    """
    from llmrec.openai_api.cost import estimate_chat_cost, expected_output_tokens

    est = estimate_chat_cost(
        (template.messages(example.profile, catalog, k=k) for example in test),
        model=model,
        output_tokens_per_request=expected_output_tokens(k, template=template, catalog=catalog),
        batch=batch,
    )
    return CostLine(step, est.n_requests, est.input_tokens, est.output_tokens, est.usd, will_run)


def gpu_hours(flops: float, tflops: float) -> float:
    """Hours at ``tflops`` TFLOP/s sustained: ``flops / (tflops * 1e12 * 3600)``."""
    return flops / (tflops * 1e12 * 3600.0)


def local_training_line(what: str, plan: Any, tflops: float, *, will_run: bool) -> CostLine:
    """The plan's line for training on this machine: ``what``, then the compute of ``plan`` (a
    local training plan: ``flops``, ``tokens``, ``optimizer_steps``) and its GPU-hours at
    ``tflops``; nothing is billed."""
    hours = gpu_hours(plan.flops, tflops)
    return CostLine(
        step=f"{what}: {plan.flops:.3g} FLOPs, about {hours:.3g} GPU-hours at {tflops:g} TFLOP/s",
        requests=plan.optimizer_steps,
        input_tokens=plan.tokens,
        output_tokens=0,
        usd=0.0,
        will_run=will_run,
        kind="local-training",
    )

"""The plan: one line per step that costs money or compute, known before anything is sent.

:class:`PlanLine` is the one plan-line type: stages and arms add lines to the run context, the
budget check sums them, ``results.json`` stores them (``plan``), and the command line prints
them. ``kind`` says what is counted: ``"inference"`` (requests, input and output tokens),
``"training"`` (a hosted job: billed training tokens) or ``"local-training"`` (compute on this
machine: optimizer steps and tokens, 0 USD).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["FINETUNE_OFF", "PlanLine", "gpu_hours", "local_training_line"]

FINETUNE_OFF = "fine-tuning is off (finetune.enabled = false)"
"""The reason a fine-tuning step is in the plan but not run: the config leaves it off."""


class PlanLine(BaseModel):
    """One paid step of the plan: requests, tokens and USD, and whether this run performs it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: str
    requests: int
    input_tokens: int
    output_tokens: int
    usd: float | None
    """USD; ``None`` when the cost is unknown (no price for the model)."""
    worst_usd: float | None = None
    """USD if every answer ran to the output cap (``max_tokens``); ``None``: no cap known (a
    training step, a backend without a cap). Written only when known."""
    will_run: bool
    kind: str = "inference"
    stage: str | None = None
    """The stage that performs the step, named as the run's stage log names it
    (``backend:TRUTH:LABEL``, ``rank:TRUTH:LABEL``); written only when set."""
    reason: str | None = None
    """Why the step will not run (``None`` when it will, or when no reason was given). Written
    only when set."""

    def model_post_init(self, _context: Any, /) -> None:
        # ``kind`` is always written, also when left at its default (results.json of 0.1 has it)
        self.model_fields_set.add("kind")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    def __str__(self) -> str:
        if self.will_run:
            state = "will run"
        else:
            state = "skipped" if self.reason is None else f"skipped: {self.reason}"
        usd = "unknown USD" if self.usd is None else f"{self.usd:.4f} USD"
        if self.worst_usd is not None:
            usd += f" (worst case {self.worst_usd:.4f} USD)"
        if self.kind == "training":
            text = f"{self.step}: {self.input_tokens:,} billed training tokens, {usd} ({state})"
        else:
            text = (
                f"{self.step}: {self.requests:,} requests, {self.input_tokens:,} input + "
                f"{self.output_tokens:,} output tokens, {usd} ({state})"
            )
        return text if self.stage is None else f"{text}; stage {self.stage}"


def gpu_hours(flops: float, tflops: float) -> float:
    """Hours at ``tflops`` TFLOP/s sustained: ``flops / (tflops * 1e12 * 3600)``."""
    return flops / (tflops * 1e12 * 3600.0)


def local_training_line(what: str, plan: Any, tflops: float, *, will_run: bool) -> PlanLine:
    """The plan's line for training on this machine: ``what``, then the compute of ``plan`` (a
    local training plan: ``flops``, ``tokens``, ``optimizer_steps``) and its GPU-hours at
    ``tflops``; nothing is billed."""
    hours = gpu_hours(plan.flops, tflops)
    return PlanLine(
        step=f"{what}: {plan.flops:.3g} FLOPs, about {hours:.3g} GPU-hours at {tflops:g} TFLOP/s",
        requests=plan.optimizer_steps,
        input_tokens=plan.tokens,
        output_tokens=0,
        usd=0.0,
        will_run=will_run,
        kind="local-training",
    )

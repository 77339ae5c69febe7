"""What the paid steps of an experiment cost, known before anything is sent.

The plan-line type is :class:`llmrec.experiment.plan.PlanLine`; ``CostLine`` is its name here
(kept so code written against it keeps working).
"""

from __future__ import annotations

from llmrec.data import Catalog
from llmrec.experiment.plan import PlanLine, gpu_hours, local_training_line
from llmrec.prompts import PromptTemplate
from llmrec.truth import ProfileDataset

__all__ = ["CostLine", "estimate_backend_cost", "gpu_hours", "local_training_line"]

CostLine = PlanLine
"""The plan-line type (:class:`~llmrec.experiment.plan.PlanLine`)."""


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
) -> PlanLine:
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
    return PlanLine(
        step=step,
        requests=est.n_requests,
        input_tokens=est.input_tokens,
        output_tokens=est.output_tokens,
        usd=est.usd,
        will_run=will_run,
    )

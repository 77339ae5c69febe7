"""The arm registry: the one place where the fine-tuning provider and method are looked up.

Every arm class is registered under its ``(provider, method)``; a config's arms are the
registered arms of its ``finetune.provider`` that it asks for, in registration order (a DPO arm
after the SFT arm it starts from). A backend runs the model of the arm whose ``method`` it asks
for (:func:`backend_arm`). The report gets each arm's paragraph from here, and the config check
asks every registered arm for its problems. Nothing else in the experiment compares the
provider or works out which arm a backend runs.

A new arm (reinforcement learning, say) is one module with a
:class:`~llmrec.experiment.arms.base.FineTuningArm` subclass and one :func:`register_arm` call
(a built-in one is added to :data:`BUILTIN_ARMS`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmrec.errors import LLMRecError
from llmrec.experiment.arms.base import FineTuningArm, Record
from llmrec.experiment.arms.hosted_dpo import HostedDPOArm
from llmrec.experiment.arms.hosted_sft import HostedSFTArm
from llmrec.experiment.arms.local_dpo import LocalDPOArm
from llmrec.experiment.arms.local_grpo import LocalGRPOArm
from llmrec.experiment.arms.local_sft import LocalSFTArm

if TYPE_CHECKING:
    from llmrec.experiment.config import BackendSpec, ExperimentConfig

__all__ = [
    "BUILTIN_ARMS",
    "SFT",
    "arm_problems",
    "arm_report_lines",
    "arms_for",
    "backend_arm",
    "register_arm",
    "registered_arms",
    "unregister_arm",
]

#: The method of the supervised arm: what a backend that runs "the fine-tuned model" runs.
SFT = "sft"

#: The built-in arms, in training order.
BUILTIN_ARMS: tuple[type[FineTuningArm], ...] = (
    HostedSFTArm,
    HostedDPOArm,
    LocalSFTArm,
    LocalDPOArm,
    LocalGRPOArm,
)

_REGISTRY: dict[tuple[str, str], type[FineTuningArm]] = {
    (arm.provider, arm.method): arm for arm in BUILTIN_ARMS
}


def register_arm(arm: type[FineTuningArm]) -> type[FineTuningArm]:
    """Register ``arm`` under its ``(provider, method)`` (replacing one registered there);
    usable as a class decorator. It trains after the arms registered before it."""
    _REGISTRY.pop((arm.provider, arm.method), None)
    _REGISTRY[(arm.provider, arm.method)] = arm
    return arm


def unregister_arm(provider: str, method: str) -> None:
    """Remove the arm registered under ``(provider, method)``, if any."""
    _REGISTRY.pop((provider, method), None)


def registered_arms() -> list[type[FineTuningArm]]:
    """Every registered arm class, in training order."""
    return list(_REGISTRY.values())


def _of_provider(provider: str) -> list[type[FineTuningArm]]:
    return [arm for (p, _), arm in _REGISTRY.items() if p == provider]


def arms_for(config: ExperimentConfig) -> list[FineTuningArm]:
    """The arms ``config`` asks for, in training order."""
    arms = (cls.from_config(config) for cls in _of_provider(config.finetune.provider))
    return [arm for arm in arms if arm is not None]


def backend_arm(spec: BackendSpec, target: object) -> str | None:
    """The method of the arm whose model a backend runs (``None``: it runs no fine-tuned
    model). ``target`` is its registered class or factory, or a built instance; the backend
    table's ``arm`` wins over what the backend declares."""
    from llmrec.recommenders.capabilities import fine_tuned_arm

    declared = fine_tuned_arm(target)
    if declared is None:
        return None
    if spec.arm is not None:
        return spec.arm
    return str(declared)


def _asks_for(spec: BackendSpec) -> str | None:
    """The arm a configured backend runs, found by building it (``None``: none, or it cannot
    be built: the config check reports why)."""
    from llmrec.recommenders import get_recommender
    from llmrec.recommenders.registry import get_recommender_factory

    try:
        factory = get_recommender_factory(spec.name)
        by_class = backend_arm(spec, factory)
        if by_class is not None:
            return by_class
        return backend_arm(spec, get_recommender(spec.name, **dict(spec.config)))
    except LLMRecError:
        return None


def arm_problems(config: ExperimentConfig) -> list[str]:
    """Why the config's arms cannot run, one sentence each (empty: they can)."""
    found: list[str] = []
    for (provider, _), cls in _REGISTRY.items():
        found += cls.config_problems(config, selected=provider == config.finetune.provider)
    methods = {arm.method for arm in arms_for(config)} | {SFT}  # SFT: skipped, not an error
    for spec in config.backends:
        method = _asks_for(spec)
        if method is None and spec.arm is not None:
            found.append(
                f"backend {spec.display!r} ({spec.name}) has arm = {spec.arm!r}, but it runs no "
                "fine-tuned model; remove arm, or use a backend that runs one"
            )
        elif method is not None and method not in methods:
            ways = " or ".join(
                dict.fromkeys(c.how_to_add for c in _REGISTRY.values() if c.method == method)
            )
            found.append(
                f"backend {spec.display!r} ({spec.name}) runs the {method.upper()} arm's model, "
                f"but there is no {method.upper()} arm"
                + (f": {ways}" if ways else f" (no arm is registered with method {method!r})")
            )
    return found


def arm_report_lines(record: Record) -> list[str]:
    """The report's paragraphs on the arms of one truth's fine-tuning record."""
    if not record:
        return []
    provider: Any = record.get("provider", "openai")  # a record without it is a hosted one
    lines: list[str] = []
    for cls in _of_provider(str(provider)):
        lines += cls.report_lines(record)
    return lines

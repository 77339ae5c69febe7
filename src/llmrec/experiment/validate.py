"""Check everything in an :class:`ExperimentConfig` that pydantic cannot, before any stage runs.

Backend names are looked up in the registry, each backend is built with its options (every
backend's config model rejects unknown keys), every metric name is parsed by the metrics
registry, the baseline must be one of the backends, and labels must be unique (they name the
output files). All problems are reported in one :class:`~llmrec.errors.ConfigError`, so a dry
run shows them at once and a real run never fails after other backends have run.
"""

from __future__ import annotations

from llmrec.errors import ConfigError, LLMRecError
from llmrec.experiment.config import BackendSpec, ExperimentConfig

__all__ = ["check_config"]


def _check_backend(spec: BackendSpec, planned_model: str) -> str | None:
    """Why ``spec`` cannot be built (``None``: it can). Builds it; sends nothing."""
    from llmrec.recommenders import get_recommender
    from llmrec.recommenders.capabilities import uses_fine_tuned_model
    from llmrec.recommenders.registry import available_recommenders, get_recommender_factory

    names = available_recommenders()
    if spec.name not in names:
        return f"unknown backend {spec.name!r}; available: {', '.join(names)}"
    try:
        options = dict(spec.config)
        if uses_fine_tuned_model(get_recommender_factory(spec.name)):
            options.setdefault("model", planned_model)  # the fine-tuning stage supplies it
        get_recommender(spec.name, **options)
    except LLMRecError as exc:
        return f"backend {spec.display!r} ({spec.name}): {exc}"
    return None


def problems(config: ExperimentConfig) -> list[str]:
    """Every problem found in ``config``, as one sentence each (empty: the config is valid)."""
    from llmrec.finetune.job import planned_model_id
    from llmrec.metrics.registry import resolve_metric

    found: list[str] = []
    planned = planned_model_id(config.finetune.model)
    for spec in config.backends:
        problem = _check_backend(spec, planned)
        if problem is not None:
            found.append(problem)
    for metric in config.metrics:
        try:
            resolve_metric(metric)
        except ConfigError as exc:
            found.append(f"metrics: {exc}")
    names = [spec.name for spec in config.backends]
    if config.backends and config.baseline not in names:
        found.append(
            f"baseline {config.baseline!r} is not one of the backends "
            f"({', '.join(names)}); set baseline to one of them"
        )
    from llmrec.experiment.arms.registry import arm_problems

    found += arm_problems(config)
    labels = [spec.display for spec in config.backends]
    for label in sorted({x for x in labels if labels.count(x) > 1}):
        found.append(
            f"two backends have the label {label!r}; give each a distinct label "
            "(it names the column and the output files)"
        )
    return found


def check_config(config: ExperimentConfig) -> None:
    """Raise :class:`~llmrec.errors.ConfigError` listing every problem in ``config``."""
    found = problems(config)
    if len(found) == 1:
        raise ConfigError(f"invalid experiment config: {found[0]}")
    if found:
        raise ConfigError(
            f"invalid experiment config ({len(found)} problems):\n"
            + "\n".join(f"  - {p}" for p in found)
        )

"""Which base models OpenAI fine-tunes with DPO, and the refusal for any other.

OpenAI's guide "Direct preference optimization" lists the gpt-4.1 family
(:data:`DPO_MODELS`). :func:`check_dpo_model` runs before anything is uploaded, so an
ineligible model costs no request; ``allow_unlisted`` (CLI ``--allow-model``) lets a user
whose provider accepts another model (a newer snapshot, an OpenAI-compatible service) go on.
"""

from __future__ import annotations

from llmrec.errors import ConfigError

__all__ = ["DPO_DEFAULT_MODEL", "DPO_MODELS", "check_dpo_model"]

DPO_MODELS: tuple[str, ...] = (
    "gpt-4.1-2025-04-14",
    "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano-2025-04-14",
)
"""Base models OpenAI documents for DPO fine-tuning."""

DPO_DEFAULT_MODEL = "gpt-4.1-mini-2025-04-14"
"""The model preference files are checked and priced for when none is named."""


def check_dpo_model(model: str, *, allow_unlisted: bool = False) -> None:
    """Raise :class:`~llmrec.errors.ConfigError` unless ``model`` is in :data:`DPO_MODELS`.

    A fine-tuned id (``ft:BASE:org::id``, continuing an earlier job) is judged by its base.
    ``allow_unlisted=True`` skips the check.
    """
    if allow_unlisted:
        return
    base = model.split(":")[1] if model.startswith("ft:") and model.count(":") >= 1 else model
    if base not in DPO_MODELS:
        raise ConfigError(
            f"OpenAI documents DPO fine-tuning only for {', '.join(DPO_MODELS)}, not {model!r}; "
            "nothing was uploaded. Pick one of those, or pass allow_unlisted_dpo_model=True "
            "(CLI: --allow-model) if your provider accepts this model for DPO."
        )

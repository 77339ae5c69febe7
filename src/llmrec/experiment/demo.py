"""The config ``llmrec demo`` (``make demo``) runs: the study's two neighbour truths and the probe
truth on the embedded synthetic Netflix data, so the demo shows the neighbour consensus and what
users actually rated next side by side."""

from __future__ import annotations

from llmrec.experiment.config import ExperimentConfig, ProbeTruthSpec, study_truth

__all__ = ["demo_config"]


def demo_config(*, base_url: str | None = None) -> ExperimentConfig:
    """The default config plus a ``probe`` truth (the synthetic data ships ``probe.txt``)."""
    return ExperimentConfig(base_url=base_url, truth={**study_truth(), "probe": ProbeTruthSpec()})

"""``ExperimentConfig``: everything one reproduction of the study needs, as one pydantic model.

A config is loadable from TOML or JSON (:meth:`ExperimentConfig.from_file`) and is saved beside
every artifact a run produces. The defaults are the study's: profileData50 and profileData60,
a 70/20/10 split, the study's prompt template, P/R/F1 at 3 and 5, MRR and MAP (plus NDCG and
Hit), and the zero-shot and fine-tuned GPT-4o-mini next to the classic baselines.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from llmrec.errors import ConfigError
from llmrec.experiment.local_finetune import LocalFineTune
from llmrec.openai_api.models import DEFAULT_MODEL
from llmrec.prompts import PromptTemplate
from llmrec.truth import TruthConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "BackendSpec",
    "ExperimentConfig",
    "FineTuneStage",
    "MovieLensSource",
    "NetflixSource",
    "SplitConfig",
    "SyntheticSource",
]

#: The study's metrics, then the two the library adds by default.
STUDY_METRICS = [
    "precision@3",
    "recall@3",
    "f1@3",
    "precision@5",
    "recall@5",
    "f1@5",
    "mrr",
    "map@5",
    "ndcg@10",
    "hit@5",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SyntheticSource(_Model):
    """Synthetic Netflix-format data generated on the spot (and cached)."""

    kind: Literal["synthetic"] = "synthetic"
    n_users: int = Field(20_000, ge=10, description="Number of customers.")
    n_movies: int = Field(2_000, ge=10, description="Number of movies.")
    n_ratings: int = Field(1_000_000, ge=100, description="Number of ratings.")
    seed: int = Field(0, ge=0, description="Seed of the generator.")


class NetflixSource(_Model):
    """The Netflix Prize files: a Kaggle-layout or original-layout folder."""

    kind: Literal["netflix"] = "netflix"
    path: Path = Field(description="Folder with combined_data_*.txt or training_set/.")
    titles: Path | None = Field(
        None, description="movie_titles.csv; default: the file of that name in `path`."
    )


class MovieLensSource(_Model):
    """A MovieLens folder (ml-100k, ml-1m, ml-latest, ml-25m)."""

    kind: Literal["movielens"] = "movielens"
    path: Path


DataSource = Annotated[
    SyntheticSource | NetflixSource | MovieLensSource, Field(discriminator="kind")
]


class SplitConfig(_Model):
    """The by-user train/validation/test split (the study's 70/20/10)."""

    train: float = Field(0.7, ge=0, le=1)
    val: float = Field(0.2, ge=0, le=1)
    test: float = Field(0.1, ge=0, le=1)
    seed: int = Field(0, ge=0)


class BackendSpec(_Model):
    """One recommender to evaluate: a registry name, a label for tables, and its config."""

    name: str = Field(description="Registry name, e.g. 'itemknn' or 'openai-zero-shot'.")
    label: str | None = Field(None, description="Column name in the report; default: name.")
    config: dict[str, Any] = Field(default_factory=dict)

    @property
    def display(self) -> str:
        return self.label or self.name


class FineTuneStage(_Model):
    """The hosted fine-tuning job; off unless asked for, and never above the budget."""

    enabled: bool = Field(False, description="Start (or resume) a hosted fine-tuning job.")
    provider: Literal["openai", "local"] = Field(
        "openai", description="'openai': a hosted job; 'local': train on this machine."
    )
    local: LocalFineTune | None = Field(
        None, description="provider 'local': the base model and LocalTrainConfig settings."
    )
    model: str = DEFAULT_MODEL
    n_epochs: int = Field(2, ge=1)
    batch_size: int = Field(32, ge=1)
    learning_rate_multiplier: float = Field(1.0, gt=0)
    suffix: str | None = "llmrec"
    seed: int | None = 0
    poll_interval: float = Field(10.0, gt=0, description="Seconds between job status checks.")
    fine_tuned_models: dict[str, str] = Field(
        default_factory=dict,
        description="Already fine-tuned model ids per data set name (skips the job).",
    )


def _study_truth() -> dict[str, TruthConfig]:
    return {
        "profileData50": TruthConfig(neighbour_min_rating=5, watch_factor=0.5),
        "profileData60": TruthConfig(neighbour_min_rating=4, watch_factor=0.6),
    }


def _study_backends() -> list[BackendSpec]:
    return [
        BackendSpec(name="popularity"),
        BackendSpec(name="itemknn"),
        BackendSpec(name="ease"),
        BackendSpec(name="openai-zero-shot", label="zero-shot"),
        BackendSpec(name="openai-fine-tuned", label="fine-tuned"),
    ]


class ExperimentConfig(_Model):
    """One reproduction of the study: data, truth, split, prompt, backends, metrics, budget."""

    data: DataSource = Field(default_factory=SyntheticSource)
    truth: dict[str, TruthConfig] = Field(
        default_factory=_study_truth,
        description="Ground-truth data sets by name (default profileData50 and profileData60).",
    )
    split: SplitConfig = Field(default_factory=SplitConfig)
    template: PromptTemplate = Field(default_factory=PromptTemplate)
    backends: list[BackendSpec] = Field(default_factory=_study_backends)
    baseline: str = Field("popularity", description="Backend every other is tested against.")
    metrics: list[str] = Field(default_factory=lambda: list(STUDY_METRICS))
    k: int = Field(10, ge=1, le=100, description="Length of every recommendation list.")
    n_bootstrap: int = Field(1000, ge=0, description="Bootstrap resamples for the 95 % CIs.")
    seed: int = Field(0, ge=0, description="Seed of the bootstrap and randomisation tests.")
    budget_usd: float = Field(
        5.0, ge=0, description="No paid step starts whose estimated cost exceeds this."
    )
    base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint for the openai backends (default: OpenAI)."
    )
    finetune: FineTuneStage = Field(default_factory=FineTuneStage)

    @classmethod
    def from_file(cls, path: str | Path) -> ExperimentConfig:
        """Load a ``.toml`` or ``.json`` config; errors name the file and the field."""
        src = Path(path)
        try:
            raw = src.read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"{src}: config file not found") from None
        try:
            if src.suffix.lower() == ".toml":
                data = tomllib.loads(raw.decode("utf-8"))
            else:
                data = json.loads(raw)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{src}: cannot parse config: {exc}") from None
        try:
            return cls.model_validate(data)
        except PydanticValidationError as exc:
            raise ConfigError(f"{src}: invalid config:\n{exc}") from None

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

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

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from llmrec._paths import expand_path
from llmrec.errors import ConfigError
from llmrec.experiment._config_defaults import fill_defaults
from llmrec.experiment.local_finetune import LocalFineTune
from llmrec.experiment.secrets import hide_secrets, is_secret_option, keep_secrets
from llmrec.experiment.truth_config import NeighbourTruthSpec, TruthSpec
from llmrec.openai_api.models import DEFAULT_MODEL
from llmrec.openai_api.prices import ModelPrice, PriceTable, merge_prices
from llmrec.openai_api.redact import mask_url, secret_url
from llmrec.prompts import PromptTemplate

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


#: A path given by the user: a leading ``~`` is expanded.
UserPath = Annotated[Path, AfterValidator(expand_path)]


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
    path: UserPath = Field(description="Folder with combined_data_*.txt or training_set/.")
    titles: UserPath | None = Field(
        None, description="movie_titles.csv; default: the file of that name in `path`."
    )


class MovieLensSource(_Model):
    """A MovieLens folder (ml-100k, ml-1m, ml-latest, ml-25m)."""

    kind: Literal["movielens"] = "movielens"
    path: UserPath


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
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Options of the backend; an `api_key` here is kept secret: never written "
        "to config.json or results.json, never pickled.",
    )

    @field_validator("config")
    @classmethod
    def _secret_options(cls, value: dict[str, Any]) -> dict[str, Any]:
        return keep_secrets(value)

    @field_serializer("config")
    def _without_secrets(self, value: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in hide_secrets(value).items() if not is_secret_option(k)}

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


def _study_truth() -> dict[str, TruthSpec]:
    return {
        "profileData50": NeighbourTruthSpec(neighbour_min_rating=5, watch_factor=0.5),
        "profileData60": NeighbourTruthSpec(neighbour_min_rating=4, watch_factor=0.6),
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
    truth: dict[str, TruthSpec] = Field(
        default_factory=_study_truth,
        description="Ground truths by name, each with a `kind`: neighbour (the default when "
        "`kind` is left out), probe, last_n or time_split. Every backend runs on every truth. "
        "Default: profileData50 and profileData60; a study name starts from the study's "
        "parameters.",
    )
    truth_replace: bool = Field(
        False,
        description="Build only the data sets in `truth`; without it, a `truth` table that "
        "leaves out profileData50 or profileData60 is an error.",
    )
    split: SplitConfig = Field(default_factory=SplitConfig)
    template: PromptTemplate = Field(default_factory=PromptTemplate)
    backends: list[BackendSpec] = Field(default_factory=_study_backends)
    baseline: str = Field("popularity", description="Backend every other is tested against.")
    metrics: list[str] = Field(default_factory=lambda: list(STUDY_METRICS))
    n_head: int = Field(
        100,
        ge=1,
        description="The head: this many most-rated movies of the fitting ratings (tail "
        "metrics such as precision_tail@5, and the share of recommendations in the head).",
    )
    k: int = Field(10, ge=1, le=100, description="Length of every recommendation list.")
    n_bootstrap: int = Field(1000, ge=0, description="Bootstrap resamples for the 95 % CIs.")
    seed: int = Field(0, ge=0, description="Seed of the bootstrap and randomisation tests.")
    budget_usd: float = Field(
        5.0, ge=0, description="No paid step starts whose estimated cost exceeds this."
    )
    base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint for the openai backends (default: OpenAI)."
    )
    free: bool = Field(
        False,
        description="The server at base_url (or $OPENAI_BASE_URL) bills nothing (your own vLLM, "
        "Ollama or llama.cpp): its steps cost 0 USD. Never inferred from base_url being set.",
    )
    prices: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description='Prices by model id merged over the default table, e.g. [prices."MODEL"] '
        "input = 0.2, output = 0.6 (USD per 1M tokens; training too for fine-tuning).",
    )
    allow_unknown_cost: bool = Field(
        False,
        description="Run paid steps whose cost is unknown (a model without a price on a server "
        "not marked free); they are reported as unknown and not counted in the budget.",
    )
    fail_fast: bool = Field(
        False,
        description="A request that fails after every retry stops the run; by default it is a "
        "failed answer (scored as a miss, counted in the report, asked again by the next run).",
    )
    finetune: FineTuneStage = Field(default_factory=FineTuneStage)

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        return fill_defaults(data)

    @model_validator(mode="after")
    def _probe_needs_a_probe_file(self) -> ExperimentConfig:
        probes = [name for name, t in self.truth.items() if t.kind == "probe"]
        if probes and isinstance(self.data, MovieLensSource):
            raise ValueError(
                f"truth {probes[0]!r} is a probe truth, but a MovieLens source has no probe "
                "set (probe.txt); use kind = 'last_n' or 'time_split' for MovieLens"
            )
        return self

    @field_validator("base_url")
    @classmethod
    def _keep_url_password_secret(cls, value: str | None) -> str | None:
        return None if value is None else secret_url(value)

    @field_serializer("base_url")
    def _hide_url_password(self, value: str | None) -> str | None:
        return None if value is None else mask_url(value)

    def price_table(self) -> PriceTable:
        """The default price table with this config's ``prices`` merged over it."""
        return merge_prices(self.prices)

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
        except ConfigError as exc:
            raise ConfigError(f"{src}: invalid config: {exc}") from None

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

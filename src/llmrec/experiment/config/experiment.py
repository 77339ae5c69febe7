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
from typing import Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    field_serializer,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from llmrec.errors import ConfigError
from llmrec.experiment.config._base import ConfigModel
from llmrec.experiment.config.defaults import STUDY_BACKENDS, STUDY_METRICS, fill_defaults
from llmrec.experiment.config.finetune import FineTuneStage
from llmrec.experiment.config.probe import ProbeStage
from llmrec.experiment.config.sources import (
    NO_PROBE_SOURCES,
    SOURCE_NAMES,
    DataSource,
    SyntheticSource,
)
from llmrec.experiment.config.truth import TruthSpec, study_truth
from llmrec.experiment.secrets import hide_secrets, is_secret_option, keep_secrets
from llmrec.openai_api.prices import ModelPrice, PriceTable, merge_prices
from llmrec.openai_api.redact import mask_url, secret_url
from llmrec.prompts import PromptTemplate

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["BackendSpec", "ExperimentConfig", "SplitConfig", "study_backends"]


class SplitConfig(ConfigModel):
    """The by-user train/validation/test split (the study's 70/20/10)."""

    train: float = Field(0.7, ge=0, le=1)
    val: float = Field(0.2, ge=0, le=1)
    test: float = Field(0.1, ge=0, le=1)
    seed: int = Field(0, ge=0)


class BackendSpec(ConfigModel):
    """One recommender to evaluate: a registry name, a label for tables, and its config."""

    name: str = Field(description="Registry name, e.g. 'itemknn' or 'openai-zero-shot'.")
    label: str | None = Field(None, description="Column name in the report; default: name.")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Options of the backend; an `api_key` here is kept secret: never written "
        "to config.json or results.json, never pickled.",
    )
    arm: str | None = Field(
        None,
        description="The fine-tuning arm whose model this backend runs ('sft', 'dpo', ...); "
        "default: the one the backend declares (a fine-tuned backend runs 'sft', one that asks "
        "for the DPO model 'dpo').",
    )

    @field_validator("config")
    @classmethod
    def _secret_options(cls, value: dict[str, Any]) -> dict[str, Any]:
        return keep_secrets(value)

    @field_serializer("config")
    def _without_secrets(self, value: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in hide_secrets(value).items() if not is_secret_option(k)}

    @model_serializer(mode="wrap")
    def _default_arm_no_trace(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Without ``arm`` the dump is that of configs written before it existed."""
        data = handler(self)
        if isinstance(data, dict) and self.arm is None:
            data.pop("arm", None)
        return data

    @property
    def display(self) -> str:
        return self.label or self.name


def study_backends() -> list[BackendSpec]:
    """The study's recommenders (the ``backends`` default)."""
    return [BackendSpec(name=name, label=label) for name, label in STUDY_BACKENDS]


class ExperimentConfig(ConfigModel):
    """One reproduction of the study: data, truth, split, prompt, backends, metrics, budget."""

    data: DataSource = Field(default_factory=SyntheticSource)
    truth: dict[str, TruthSpec] = Field(
        default_factory=study_truth,
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
    backends: list[BackendSpec] = Field(default_factory=study_backends)
    baseline: str = Field("popularity", description="Backend every other is tested against.")
    metrics: list[str] = Field(default_factory=lambda: list(STUDY_METRICS))
    n_head: int = Field(
        100,
        ge=1,
        description="The head: this many most-rated movies of the fitting ratings (tail "
        "metrics such as precision_tail@5, and the share of recommendations in the head).",
    )
    k: int = Field(10, ge=1, le=100, description="Length of every recommendation list.")
    p_adjust: Literal["holm", "bonferroni", "fdr_bh", "none"] = Field(
        "holm",
        description="Multiple-test correction of each truth's paired tests (every backend × "
        "metric against the baseline is one family, the arm tests another), shown beside the "
        "raw p-values; 'none' leaves them raw.",
    )
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
    probe: ProbeStage | None = Field(
        None,
        description="The memorisation probe, run for every zero-shot language-model backend "
        "and shown beside its rows (left out: no probe).",
    )

    @model_serializer(mode="wrap")
    def _no_probe_no_trace(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Without ``[probe]`` the dump is that of configs written before it existed."""
        data = handler(self)
        if isinstance(data, dict) and self.probe is None:
            data.pop("probe", None)
        return data

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        return fill_defaults(data)

    @model_validator(mode="after")
    def _probe_needs_a_probe_file(self) -> ExperimentConfig:
        probes = [name for name, t in self.truth.items() if t.kind == "probe"]
        if probes and isinstance(self.data, NO_PROBE_SOURCES):
            name = SOURCE_NAMES[self.data.kind]
            raise ValueError(
                f"truth {probes[0]!r} is a probe truth, but a {name} source has no probe set "
                f"(probe.txt); use kind = 'last_n' or 'time_split' for {name}"
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

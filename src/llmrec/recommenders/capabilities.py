"""What a backend can tell a caller before it runs: the capability protocol.

The experiment runner never matches backend names or model ids. It asks any recommender that
implements :class:`LanguageModelBackend` (checked with ``isinstance``; the protocol is
runtime-checkable) what a planned run costs, which credentials it needs and whether they are
present, which model it runs, and for a copy running another model or using the experiment's
shared settings. The OpenAI backends implement it through the language-model pipeline; a plugin
language-model backend that implements it is priced, budgeted and reported the same way.

A backend that reads models by **likelihood** as well as by generation implements
:class:`LikelihoodBackend`: ``likelihood`` names what it can read (``"next_token_logprobs"``:
the first answer token's log-probability of given options, TALLRec's "Yes"/"No";
``"continuation_logprobs"``: the log-probability of a whole given answer, for ranking candidates
by likelihood), and ``option_logprobs`` / ``continuation_logprobs`` read them (cached like any
request). Callers check ``likelihood``, never a backend's name; the language-model pipeline
implements it from its transport's declared capabilities.

A backend says which fine-tuned arm of the experiment it runs in one attribute,
``fine_tuned_arm``: ``"sft"`` (the model of the fine-tuning stage), ``"dpo"`` (the model of the
DPO arm, preference-tuned from it) or ``None``; :func:`fine_tuned_arm` reads it. A class whose
every instance runs an arm states it on the class (``fine_tuned_arm = "sft"``), and the runner
supplies the model before it builds one; a backend whose config chooses sets it on the
instance. (``uses_fine_tuned_model`` and ``uses_dpo_model``, the older spellings, are still
read, and the two functions of those names answer from ``fine_tuned_arm``.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from typing_extensions import Self

    from llmrec.data.catalog import Catalog
    from llmrec.openai_api.prices import ModelPrice
    from llmrec.prompts import PromptTemplate
    from llmrec.recommenders.llm.spend import SpendLimit

__all__ = [
    "FINE_TUNED_ARMS",
    "CostEstimate",
    "Credentials",
    "FineTunedArm",
    "LanguageModelBackend",
    "LikelihoodBackend",
    "RunSettings",
    "fine_tuned_arm",
    "uses_dpo_model",
    "uses_fine_tuned_model",
]

FineTunedArm = Literal["sft", "dpo"]
"""The experiment's fine-tuned arms a backend can run."""
FINE_TUNED_ARMS: tuple[FineTunedArm, ...] = ("sft", "dpo")


@dataclass(frozen=True)
class CostEstimate:
    """What a planned run costs: requests, tokens, USD (``None``: unknown, e.g. no price)."""

    model: str
    requests: int
    input_tokens: int
    output_tokens: int
    usd: float | None
    worst_usd: float | None = None
    """USD if every answer ran to the backend's output cap (``max_tokens``): what the requests
    may cost at most. ``None``: unknown (no price, or no cap)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Credentials:
    """The credentials a backend needs (e.g. ``("OPENAI_API_KEY",)``) and whether it has them.

    ``present`` is true when nothing is needed. ``help`` says how to supply what is missing.
    """

    names: tuple[str, ...]
    present: bool
    help: str = ""


@dataclass(frozen=True)
class RunSettings:
    """What an experiment shares with every language-model backend it runs.

    A backend applies each setting only where its own config left the field unset.
    """

    template: PromptTemplate | None = None
    """The prompt template of the experiment."""
    cache_path: Path | None = None
    """The response cache file of the experiment."""
    base_url: str | None = None
    """An OpenAI-compatible server for backends that talk to one."""
    keyless_server: bool = False
    """The server at ``base_url`` takes requests without an API key (a local server)."""
    free: bool = False
    """The server at ``base_url`` bills nothing: a backend that uses it estimates 0 USD."""
    prices: Mapping[str, ModelPrice] | None = None
    """Prices merged over the default table (the backend's own prices win)."""
    fail_fast: bool | None = None
    """A request failing after every retry stops the run (``None``: the backend's default)."""
    spend_limit: SpendLimit | None = None
    """The run's budget while requests are in flight: a backend sends a request only when what
    was spent so far plus the request's worst case fits it (``None``: no limit)."""


@runtime_checkable
class LanguageModelBackend(Protocol):
    """The capability protocol (see the module docstring); next to ``Recommender``."""

    @property
    def model_id(self) -> str:
        """The model this backend runs (as sent to the server or loaded locally)."""
        ...

    def with_model(self, model: str) -> Self:
        """An unfitted copy running ``model`` (same config otherwise)."""
        ...

    def with_run_settings(self, settings: RunSettings) -> Self:
        """An unfitted copy using the experiment's shared settings where its config has none."""
        ...

    def credentials(self) -> Credentials:
        """Which credentials are needed, and whether they are present now."""
        ...

    def estimate_cost(
        self, profiles: Sequence[Sequence[int]], k: int, catalog: Catalog
    ) -> CostEstimate:
        """What recommending ``k`` movies for every profile would cost if nothing were cached."""
        ...


@runtime_checkable
class LikelihoodBackend(Protocol):
    """A backend that reads log-probabilities (see the module docstring)."""

    @property
    def likelihood(self) -> frozenset[str]:
        """What it can read: ``"next_token_logprobs"`` and/or ``"continuation_logprobs"``."""
        ...

    def option_logprobs(
        self, conversations: Sequence[Sequence[Mapping[str, str]]], options: Sequence[str]
    ) -> Any:
        """``(n, len(options))`` first-answer-token log-probabilities."""
        ...

    def continuation_logprobs(
        self, conversations: Sequence[Sequence[Mapping[str, str]]], answers: Sequence[str]
    ) -> tuple[Any, Any]:
        """Summed log-probability of each answer after its conversation, and its tokens."""
        ...


def fine_tuned_arm(target: object) -> FineTunedArm | None:
    """Which fine-tuned arm a backend (class, factory or instance) runs: ``"sft"``, ``"dpo"``
    or ``None``. On a class or factory the answer holds for every instance; a backend whose
    config chooses the arm answers on the instance (and ``None`` on the class)."""
    arm = getattr(target, "fine_tuned_arm", None)
    for known in FINE_TUNED_ARMS:
        if arm == known:
            return known
    # backends written against the older spelling (two booleans)
    if getattr(target, "uses_dpo_model", False) is True:
        return "dpo"
    if getattr(target, "uses_fine_tuned_model", False) is True:
        return "sft"
    return None


def uses_fine_tuned_model(target: object) -> bool:
    """Whether a backend runs one of the experiment's fine-tuned models (any arm)."""
    return fine_tuned_arm(target) is not None


def uses_dpo_model(target: object) -> bool:
    """Whether a backend runs the experiment's DPO arm's model."""
    return fine_tuned_arm(target) == "dpo"

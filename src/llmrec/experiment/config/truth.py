"""The protocol switch: one truth config per ``[truth.NAME]`` table, chosen by ``kind``.

``kind`` is one of

* ``"neighbour"``: the study's neighbour consensus (:class:`~llmrec.truth.NeighbourTruth`; the
  fields of :class:`~llmrec.truth.TruthConfig`). A table **without** ``kind`` is a neighbour
  truth, so configs written before the switch load unchanged;
* ``"probe"``: the Netflix probe set held out (:class:`~llmrec.truth.ProbeTruth`; needs the
  source's ``probe.txt``: synthetic and Netflix sources, not MovieLens);
* ``"last_n"``: each user's ``n`` latest ratings held out (:class:`~llmrec.truth.LastNTruth`);
* ``"time_split"``: ratings on or after ``cutoff`` held out
  (:class:`~llmrec.truth.TimeSplitTruth`);
* ``"next_item"``: the peers' next-item protocol (LLaRA, LLMRank;
  :func:`llmrec.protocols.next_item.build`): each user's last item in time order is the gold,
  the ``history`` items before it the profile, and every backend ranks the stored 1 + 19
  candidate sets (``ranking = "candidates"`` is its default);
* ``"tallrec"``: TALLRec's pointwise yes/no data (:func:`llmrec.protocols.tallrec.build`),
  built and written under ``tallrec/NAME/``; every backend scores its test rows (P(Yes) by
  likelihood, or the target's score), read by AUC and gAUC
  (:mod:`llmrec.experiment.stages.pointwise`).

Each spec is the truth's own config plus ``kind``, so a field means the same thing in a config
file and in Python. Fields about how a truth is *evaluated* rather than built (for example a
``ranking = "full" | "candidates"``, :mod:`llmrec.experiment.config.ranking`) belong on these
spec classes, beside ``kind``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from llmrec.experiment.config._base import ConfigModel
from llmrec.experiment.config.defaults import STUDY_TRUTH
from llmrec.experiment.config.ranking import RANKING_FIELDS, RankingFields
from llmrec.truth import LastNConfig, ProbeConfig, TimeSplitConfig, TruthConfig

__all__ = [
    "HOLDOUT_KINDS",
    "LastNTruthSpec",
    "NeighbourTruthSpec",
    "NextItemTruthSpec",
    "ProbeTruthSpec",
    "TallRecTruthSpec",
    "TimeSplitTruthSpec",
    "TruthSpec",
    "study_truth",
    "truth_kind",
]

#: Kinds whose gold is held out of each user's own ratings (fitting uses the history).
HOLDOUT_KINDS = ("probe", "last_n", "time_split")


class NeighbourTruthSpec(RankingFields, TruthConfig):
    """The study's neighbour truth (profileData50/60 are two settings of it)."""

    kind: Literal["neighbour"] = Field(
        "neighbour", description="Neighbour consensus; the default when `kind` is left out."
    )

    def truth_config(self) -> TruthConfig:
        return TruthConfig.model_validate(self.model_dump(exclude={"kind", *RANKING_FIELDS}))


class ProbeTruthSpec(RankingFields, ProbeConfig):
    """Gold from the Netflix probe set (``probe.txt`` of the source)."""

    kind: Literal["probe"] = "probe"


class LastNTruthSpec(RankingFields, LastNConfig):
    """Gold from each user's ``n`` most recent ratings."""

    kind: Literal["last_n"] = "last_n"


class TimeSplitTruthSpec(RankingFields, TimeSplitConfig):
    """Gold from the ratings dated on or after ``cutoff``."""

    kind: Literal["time_split"] = "time_split"


class NextItemTruthSpec(RankingFields):
    """Next-item prediction with 1 + 19 candidates, leave-one-out in time order (LLaRA, LLMRank).

    The fields are those of :class:`llmrec.protocols.next_item.NextItemConfig` that a config
    sets: ``history`` (profile length), ``n_candidates`` (target + negatives, 20), ``negatives``,
    ``min_history``, ``n_users`` and ``seed`` (the user sample and the stored negatives;
    ``candidate_seed`` seeds only the extra presentation orders of ``repeats``).
    """

    kind: Literal["next_item"] = "next_item"
    ranking: Literal["full", "candidates"] = Field(
        "candidates",
        description="'candidates' (default): rank the stored 1 + 19 sets; 'full': recommend "
        "from the whole catalogue (with exclude_history, the RecBole convention).",
    )
    history: int = Field(10, ge=1, description="Items before the target in the profile.")
    min_history: int = Field(1, ge=1, description="Users need this many items before it.")
    n_users: int | None = Field(None, ge=1, description="Seeded sample of the users.")
    seed: int = Field(0, ge=0, description="Seed of the user sample and the negatives.")

    def protocol_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`llmrec.protocols.next_item.build`."""
        return {
            "history": self.history,
            "n_candidates": self.n_candidates,
            "negatives": self.negatives,
            "min_history": self.min_history,
            "n_users": self.n_users,
            "seed": self.seed,
        }


class TallRecTruthSpec(ConfigModel):
    """TALLRec's pointwise yes/no data (:func:`llmrec.protocols.tallrec.build`): windows of
    ``window`` consecutive ratings before a target, the ``last`` windows overall, split in
    order; a target rated above ``like_above`` is a "Yes"."""

    kind: Literal["tallrec"] = "tallrec"
    window: int = Field(10, ge=1, description="Items before each target.")
    last: int | None = Field(10_000, ge=1, description="Keep the last this many windows.")
    split: tuple[float, float, float] = Field(
        (0.8, 0.1, 0.1), description="Train, valid and test shares, in that order."
    )
    like_above: int = Field(3, ge=0, le=5, description="A rating above this is liked (Yes).")
    ranking: Literal["pointwise"] = Field(
        "pointwise", description="TALLRec is a yes/no task: each test row scored, read by AUC."
    )

    def protocol_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`llmrec.protocols.tallrec.build`."""
        return self.model_dump(exclude={"kind", "ranking"})


def truth_kind(value: Any) -> str:
    """The discriminator: ``kind`` when given, ``"neighbour"`` when left out."""
    if isinstance(value, dict):
        kind = value.get("kind", "neighbour")
        return kind if isinstance(kind, str) else repr(kind)
    return str(getattr(value, "kind", "neighbour"))


TruthSpec = Annotated[
    Annotated[NeighbourTruthSpec, Tag("neighbour")]
    | Annotated[ProbeTruthSpec, Tag("probe")]
    | Annotated[LastNTruthSpec, Tag("last_n")]
    | Annotated[TimeSplitTruthSpec, Tag("time_split")]
    | Annotated[NextItemTruthSpec, Tag("next_item")]
    | Annotated[TallRecTruthSpec, Tag("tallrec")],
    Discriminator(
        truth_kind,
        custom_error_type="truth_kind",
        custom_error_message="unknown truth kind; use neighbour, probe, last_n, time_split, "
        "next_item or tallrec",
    ),
]
"""One truth config; pydantic picks the class from ``kind`` (missing: neighbour)."""


def study_truth() -> dict[str, TruthSpec]:
    """The study's two ground truths (profileData50, profileData60): the ``truth`` default."""
    return {name: NeighbourTruthSpec(**fields) for name, fields in STUDY_TRUTH.items()}

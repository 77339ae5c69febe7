"""The protocol switch: one truth config per ``[truth.NAME]`` table, chosen by ``kind``.

``kind`` is one of

* ``"neighbour"``: the study's neighbour consensus (:class:`~llmrec.truth.NeighbourTruth`; the
  fields of :class:`~llmrec.truth.TruthConfig`). A table **without** ``kind`` is a neighbour
  truth, so configs written before the switch load unchanged;
* ``"probe"``: the Netflix probe set held out (:class:`~llmrec.truth.ProbeTruth`; needs the
  source's ``probe.txt``: synthetic and Netflix sources, not MovieLens);
* ``"last_n"``: each user's ``n`` latest ratings held out (:class:`~llmrec.truth.LastNTruth`);
* ``"time_split"``: ratings on or after ``cutoff`` held out
  (:class:`~llmrec.truth.TimeSplitTruth`).

Each spec is the truth's own config plus ``kind``, so a field means the same thing in a config
file and in Python. Fields about how a truth is *evaluated* rather than built (for example a
``ranking = "full" | "candidates"``, :mod:`llmrec.experiment.config.ranking`) belong on these
spec classes, beside ``kind``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from llmrec.experiment.config.defaults import STUDY_TRUTH
from llmrec.experiment.config.ranking import RANKING_FIELDS, RankingFields
from llmrec.truth import LastNConfig, ProbeConfig, TimeSplitConfig, TruthConfig

__all__ = [
    "HOLDOUT_KINDS",
    "LastNTruthSpec",
    "NeighbourTruthSpec",
    "ProbeTruthSpec",
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
    | Annotated[TimeSplitTruthSpec, Tag("time_split")],
    Discriminator(
        truth_kind,
        custom_error_type="truth_kind",
        custom_error_message="unknown truth kind; use neighbour, probe, last_n or time_split",
    ),
]
"""One truth config; pydantic picks the class from ``kind`` (missing: neighbour)."""


def study_truth() -> dict[str, TruthSpec]:
    """The study's two ground truths (profileData50, profileData60): the ``truth`` default."""
    return {name: NeighbourTruthSpec(**fields) for name, fields in STUDY_TRUTH.items()}

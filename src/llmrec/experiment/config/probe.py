"""``[probe]``: the memorisation probe as an optional stage of a run (off when left out).

The table takes the fields of :class:`llmrec.probes.MemorisationProbe` (``kind``,
``item_format``, ``max_items``, ``seed``, ``shots``, ...; the same definitions) plus
``calibrate`` (also run the probe on llmrec's synthetic catalog, whose invented titles no model
has seen: the false-positive floor). ``item_format`` left out is the source's own
(``movie_titles.csv`` for Netflix and synthetic data; the MovieLens folder's item file).
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import Field, model_validator

from llmrec.experiment.config._base import ConfigModel
from llmrec.probes import MemorisationProbe
from llmrec.probes.item_lines import ItemFormat
from llmrec.probes.questions import ProbeKind

__all__ = ["ProbeStage"]


def _same(name: str) -> Any:
    """The field ``name`` of :class:`MemorisationProbe`, so both mean the same thing."""
    return copy.copy(MemorisationProbe.model_fields[name])


class ProbeStage(ConfigModel):
    """The probe's settings and the stage's own (``calibrate``, ``calibration_movies``)."""

    kind: ProbeKind = _same("kind")
    item_format: ItemFormat = _same("item_format")
    method: Literal["generation"] = _same("method")
    max_items: int | None = _same("max_items")
    seed: int = _same("seed")
    shots: int = _same("shots")
    prefix_share: float = _same("prefix_share")
    n_shown: int = _same("n_shown")
    bucket_edges: tuple[float, float] = _same("bucket_edges")
    resolver_threshold: float | None = _same("resolver_threshold")
    calibrate: bool = Field(
        False,
        description="Also probe llmrec's synthetic catalog (invented titles): every hit there "
        "is a false positive, the probe's floor for the backend.",
    )
    calibration_movies: int = Field(
        2_000, ge=10, description="Movies of the synthetic catalog the calibration probes."
    )

    @model_validator(mode="after")
    def _a_valid_probe(self) -> ProbeStage:
        self.probe()  # the probe's own checks (bucket edges), at load time
        return self

    def probe(self, item_format: ItemFormat | None = None) -> MemorisationProbe:
        """The :class:`MemorisationProbe` these settings describe; ``item_format`` is used when
        the table leaves it out."""
        fields = self.model_dump(exclude={"calibrate", "calibration_movies"})
        if item_format is not None and "item_format" not in self.model_fields_set:
            fields["item_format"] = item_format
        return MemorisationProbe(**fields)

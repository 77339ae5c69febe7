"""Build one configured truth, and the ratings every backend is fitted on for it.

The fitting rule depends on the kind of truth:

* **neighbour truths** (the study): every rating of every user except the test users; the test
  users' gold comes from other users, so none of their own ratings is shown to a backend.
* **holdout truths** (probe, last-N): the test users' history plus every rating of the other
  users, ``truth.history(ratings, users=test_users)``. A **next-item** truth is one too: every
  rating except each test user's target (their last item in time order), so a classic backend
  learns from the same history the language model is shown. :func:`check_fitting` asserts it
  before any backend is fitted: no held-out rating of a test user is in the fitting table
  (:class:`~llmrec.errors.LeakageError` otherwise).
* **a time split**: every rating dated before the cutoff, of every user (the other users'
  future would show a backend what the test period made popular); the check also refuses any
  rating on or after the cutoff.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from llmrec.data import Ratings
from llmrec.data.netflix import ProbeSet
from llmrec.errors import ConfigError
from llmrec.experiment.config.ranking import RANKING_FIELDS
from llmrec.experiment.config.sources import DataSource, NetflixSource, SyntheticSource
from llmrec.experiment.config.truth import (
    LastNTruthSpec,
    NeighbourTruthSpec,
    NextItemTruthSpec,
    ProbeTruthSpec,
    TimeSplitTruthSpec,
    TruthSpec,
)
from llmrec.truth import (
    HoldoutTruth,
    LastNTruth,
    NeighbourTruth,
    ProbeTruth,
    ProfileDataset,
    TimeSplitTruth,
)

__all__ = [
    "build_truth",
    "check_fitting",
    "describe_fitting",
    "fitting_ratings",
    "holdout_truth",
    "load_source_probe",
    "probe_key",
    "stage_inputs",
]


def load_source_probe(source: DataSource) -> ProbeSet:
    """The probe set of a data source: ``probe.txt`` in its folder.

    Synthetic folders always have one; a Netflix folder must hold ``probe.txt``; MovieLens,
    RecBole, Amazon and llmrec folders have none. Each missing case is a
    :class:`~llmrec.errors.ConfigError` saying what to do.
    """
    from llmrec.data import netflix

    if isinstance(source, SyntheticSource):
        from llmrec.experiment.data_source import synthetic_folder

        return netflix.load_probe(synthetic_folder(source) / "probe.txt")
    if isinstance(source, NetflixSource):
        path = source.path / "probe.txt"
        if not path.is_file():
            raise ConfigError(
                f"{path}: a probe truth needs the Prize's probe.txt in the data folder "
                f"({source.path}); copy it there or use kind = 'last_n' or 'time_split'"
            )
        return netflix.load_probe(path)
    raise ConfigError(
        f"a probe truth needs a probe set (probe.txt), and a {source.kind} source "
        f"({source.path}) has none; use kind = 'last_n' or 'time_split'"
    )


def probe_key(probe: ProbeSet) -> str:
    """Fingerprint of the probe pairs, for stage keys."""
    from llmrec.truth.probe import probe_fingerprint

    return probe_fingerprint(probe)


def holdout_truth(spec: TruthSpec, probe: ProbeSet | None = None) -> HoldoutTruth | None:
    """The holdout truth a spec describes (``None`` for a neighbour truth)."""
    fields = spec.model_dump(exclude={"kind", *RANKING_FIELDS})
    if isinstance(spec, ProbeTruthSpec):
        if probe is None:
            raise ConfigError("a probe truth needs the source's probe set")
        return ProbeTruth(probe=probe, **fields)
    if isinstance(spec, LastNTruthSpec):
        return LastNTruth(**fields)
    if isinstance(spec, TimeSplitTruthSpec):
        return TimeSplitTruth(**fields)
    return None


def build_truth(
    spec: TruthSpec, ratings: Ratings, *, probe: ProbeSet | None = None, progress: bool = True
) -> ProfileDataset:
    """Build the :class:`ProfileDataset` of one configured truth."""
    if isinstance(spec, NextItemTruthSpec):
        from llmrec.protocols import next_item

        return next_item.build(ratings, **spec.protocol_options()).dataset
    holdout = holdout_truth(spec, probe)
    if holdout is not None:
        return holdout.build(ratings, progress=progress)
    if not isinstance(spec, NeighbourTruthSpec):  # pragma: no cover - the union is closed
        raise TypeError(f"unknown truth spec {type(spec).__name__}")
    return NeighbourTruth(spec.truth_config()).build(ratings, progress=progress)


def _ids(users: npt.ArrayLike) -> npt.NDArray[np.int64]:
    return np.asarray(users, dtype=np.int64)


def _held_pairs(ratings: Ratings, gold: dict[int, tuple[int, ...]]) -> npt.NDArray[np.bool_]:
    """Which rows of ``ratings`` are a (user, gold movie) pair of ``gold``."""
    users = np.asarray(ratings.user_id, dtype=np.int64)
    movies = np.asarray(ratings.movie_id, dtype=np.int64)
    pairs = [(u, m) for u, ms in gold.items() for m in ms]
    if not pairs:
        return np.zeros(len(ratings), dtype=bool)
    held = np.asarray(pairs, dtype=np.int64)
    width = int(max(movies.max(initial=0), held[:, 1].max())) + 1
    return np.isin(users * width + movies, held[:, 0] * width + held[:, 1])


def fitting_ratings(
    spec: TruthSpec,
    ratings: Ratings,
    test_users: npt.ArrayLike,
    *,
    probe: ProbeSet | None = None,
    gold: dict[int, tuple[int, ...]] | None = None,
) -> Ratings:
    """The ratings every backend is fitted on for this truth (see the module docstring).

    For a next-item truth ``gold`` maps each test user to their target."""
    if isinstance(spec, NextItemTruthSpec):
        return ratings.take(np.flatnonzero(~_held_pairs(ratings, gold or {})))
    holdout = holdout_truth(spec, probe)
    if holdout is None:
        return ratings.for_users(_ids(test_users), exclude=True)
    return holdout.history(ratings, users=_ids(test_users))


def check_fitting(
    spec: TruthSpec,
    fitting: Ratings,
    ratings: Ratings,
    test_users: npt.ArrayLike,
    *,
    probe: ProbeSet | None = None,
    gold: dict[int, tuple[int, ...]] | None = None,
) -> None:
    """Raise :class:`~llmrec.errors.LeakageError` if ``fitting`` would show a backend what it is
    scored on: a held-out rating of a test user (holdout truths), a test user's target
    (next-item truths, ``gold``) or any rating of a test user (neighbour truths)."""
    from llmrec.errors import LeakageError

    if isinstance(spec, NextItemTruthSpec):
        leaked = np.flatnonzero(_held_pairs(fitting, gold or {}))
        if leaked.size:
            i = int(leaked[0])
            raise LeakageError(
                f"the fitting ratings hold test user {int(fitting.user_id[i])}'s target "
                f"(movie {int(fitting.movie_id[i])}); a next-item truth fits on the history only"
            )
        return
    users = _ids(test_users)
    holdout = holdout_truth(spec, probe)
    if holdout is not None:
        holdout.check_fitting(fitting, ratings, users=users)
        return
    seen = np.isin(fitting.user_id, users)
    if seen.any():
        i = int(np.flatnonzero(seen)[0])
        raise LeakageError(
            f"the fitting ratings hold ratings of test user {int(fitting.user_id[i])} "
            f"(movie {int(fitting.movie_id[i])}); a neighbour truth fits on the other users only"
        )


def describe_fitting(spec: TruthSpec) -> str:
    """One line for the report: what the backends were fitted on."""
    if spec.kind == "neighbour":
        return "every rating of the users outside the test split"
    if spec.kind == "time_split":
        return "every rating dated before the cutoff, of every user"
    return "the test users' history (held-out ratings removed) plus every other user's ratings"


def stage_inputs(spec: TruthSpec, probe: ProbeSet | None) -> list[Any]:
    """What a truth's stage key depends on besides the data: its config (and the probe set)."""
    if isinstance(spec, NeighbourTruthSpec):  # the key of runs made before the switch
        return [spec.truth_config().model_dump(mode="json")]
    if isinstance(spec, NextItemTruthSpec):  # the negatives are part of the truth
        return [spec.model_dump(mode="json", exclude={"ranking", "repeats", "candidate_seed"})]
    parts: list[Any] = [spec.model_dump(mode="json", exclude=set(RANKING_FIELDS))]
    if isinstance(spec, ProbeTruthSpec) and probe is not None:
        parts.append(probe_key(probe))
    if isinstance(spec, TimeSplitTruthSpec):  # backends fitted on others' future are refitted
        parts.append({"fitting": "before the cutoff, every user"})
    return parts

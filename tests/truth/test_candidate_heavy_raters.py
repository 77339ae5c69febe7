"""A user who rated almost the whole catalogue has no room for negatives (issue 26, item 8):
skipped and counted when asked, an error naming the user otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.data.ratings import Ratings
from llmrec.errors import ConfigError
from llmrec.truth import CandidateSampler, Example, ProfileDataset

N = 40


def _problem() -> tuple[Ratings, ProfileDataset]:
    """User 1 rated all but 2 of 40 movies; users 2 and 3 rated five each."""
    rows = [(1, m) for m in range(1, N - 1)] + [(u, m) for u in (2, 3) for m in range(1, 6)]
    rows += [(9, m) for m in range(1, N + 1)]  # every movie rated by someone
    ratings = Ratings(
        [u for u, _ in rows],
        [m for _, m in rows],
        [4] * len(rows),
        np.full(len(rows), np.datetime64("2004-01-01", "D")),
    )
    ds = ProfileDataset(
        [Example(user_id=u, profile=(1,), gold=(2,)) for u in (1, 2, 3)], meta={"name": "t"}
    )
    return ratings, ds


def test_a_heavy_rater_is_an_error_by_default() -> None:
    ratings, ds = _problem()
    with pytest.raises(ConfigError, match="user 1 has only 2 movies"):
        CandidateSampler(n_candidates=10).sample(ds, ratings)


def test_a_heavy_rater_is_skipped_and_counted() -> None:
    ratings, ds = _problem()
    sampler = CandidateSampler(n_candidates=10)
    sets = sampler.sample(ds, ratings, skip_short=True)
    assert sets.user_ids == [2, 3]
    assert sets.meta["skipped_users"] == [1]
    # the other users' sets are what they would be without the heavy rater
    alone = sampler.sample(ds.subset([2, 3]), ratings)
    assert sets == alone and sets.fingerprint() == alone.fingerprint()
    assert "skipped_users" not in alone.meta

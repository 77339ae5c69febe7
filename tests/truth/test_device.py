"""The torch co-count (``build(device=...)``) gives exactly the scipy kernel's truth: on torch's
CPU device in every run, on CUDA where a GPU exists."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmrec.data.ratings import Ratings
from llmrec.data.synthetic import SyntheticConfig, _generate
from llmrec.errors import ConfigError
from llmrec.truth import NeighbourTruth, _device

torch = pytest.importorskip("torch", reason="the device path needs the [train] extra")


@st.composite
def tables(draw: st.DrawFn) -> tuple[Ratings, dict[str, object]]:
    n_users, n_movies = draw(st.integers(2, 30)), draw(st.integers(2, 25))
    cells = sorted(
        draw(
            st.sets(
                st.tuples(st.integers(0, n_users - 1), st.integers(0, n_movies - 1)), min_size=1
            )
        )
    )
    stars = draw(st.lists(st.integers(1, 5), min_size=len(cells), max_size=len(cells)))
    days = draw(st.lists(st.integers(0, 9), min_size=len(cells), max_size=len(cells)))
    ratings = Ratings(
        [u + 1 for u, _ in cells],
        [m + 1 for _, m in cells],
        stars,
        np.datetime64("2005-01-01", "D") + np.asarray(days),
    )
    config = {
        "n_users": None,
        "min_five_star": draw(st.integers(0, 2)),
        "profile_size": draw(st.integers(1, 4)),
        "neighbour_min_rating": draw(st.integers(3, 5)),
        "max_neighbours": draw(st.sampled_from([None, 1, 3, 6])),
        "watch_factor": draw(st.sampled_from([0.2, 0.5, 0.6, 1.0])),
        "exclude": draw(st.sampled_from(["profile", "history"])),
    }
    return ratings, config


@settings(max_examples=60, deadline=None)
@given(table=tables(), budget=st.integers(1, 200), batch=st.integers(1, 8))
def test_torch_cpu_device_equals_the_scipy_kernel(
    table: tuple[Ratings, dict[str, object]], budget: int, batch: int
) -> None:
    ratings, config = table
    tool = NeighbourTruth(**config)
    expected = tool.build(ratings, progress=False, batch_size=batch)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_device, "DEFAULT_BUDGET", budget)  # many small tiles
        mp.setattr(_device.device_hits, "__defaults__", (budget,))
        got = tool.build(ratings, progress=False, batch_size=batch, device="cpu")
    assert got.examples == expected.examples
    assert got.meta == expected.meta


def _synthetic() -> Ratings:
    g = _generate(SyntheticConfig(n_users=1_200, n_movies=300, n_ratings=40_000, n_groups=6))
    return Ratings(g.customer, g.movie, g.stars, np.datetime64("1999-11-11", "D") + g.days)


def test_torch_cpu_device_on_synthetic_data() -> None:
    ratings = _synthetic()
    tool = NeighbourTruth.profile_data_50(max_neighbours=50)
    assert (
        tool.build(ratings, progress=False, device="cpu").examples
        == tool.build(ratings, progress=False, n_jobs=2).examples
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_cuda_equals_the_scipy_kernel() -> None:
    ratings = _synthetic()
    tool = NeighbourTruth.profile_data_60(max_neighbours=80)
    assert (
        tool.build(ratings, progress=False, device="cuda").examples
        == tool.build(ratings, progress=False).examples
    )
    assert tool.build(ratings, progress=False, device="auto").examples == (
        tool.build(ratings, progress=False).examples
    )


def test_device_names_are_checked() -> None:
    assert _device.resolve_device(None) is None
    assert _device.resolve_device("auto") == ("cuda" if torch.cuda.is_available() else None)
    assert _device.resolve_device("cpu") == "cpu"
    with pytest.raises(ConfigError, match="not a torch device"):
        _device.resolve_device("gpu-please")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            _device.resolve_device("cuda")

"""A neighbour-truth build with a checkpoint folder survives a real kill: the rerun loads the
finished chunks (never recomputing them) and gives what an uninterrupted build gives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from llmrec.data.ratings import Ratings
from llmrec.data.synthetic import SyntheticConfig, _generate
from llmrec.errors import ConfigError, DataFormatError
from llmrec.truth import NeighbourTruth

SETTINGS = {"n_users": None, "max_neighbours": 60}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    g = _generate(SyntheticConfig(n_users=2_000, n_movies=300, n_ratings=60_000, n_groups=8))
    ratings = Ratings(g.customer, g.movie, g.stars, np.datetime64("1999-11-11", "D") + g.days)
    return ratings.save(tmp_path_factory.mktemp("ratings") / "r")


_CHILD = """
import sys
from llmrec.data.ratings import Ratings
from llmrec.truth import NeighbourTruth
tool = NeighbourTruth.profile_data_50(**{settings})
tool.build(Ratings.load(sys.argv[1]), checkpoint=sys.argv[2], chunk_size=25, batch_size=1,
           progress=False)
"""


def _chunks(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("chunk-*.npz")}


def test_a_killed_build_resumes_from_its_finished_chunks(saved: Path, tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    code = _CHILD.format(settings=json.dumps(SETTINGS).replace("null", "None"))
    child = subprocess.Popen([sys.executable, "-c", code, str(saved), str(folder)])
    try:
        deadline = time.monotonic() + 120
        while len(_chunks(folder)) < 3 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    before = _chunks(folder)
    tool = NeighbourTruth.profile_data_50(**SETTINGS)  # type: ignore[arg-type]
    ratings = Ratings.load(saved)
    n_chunks = -(-tool.build(ratings, progress=False).meta["n_targets"] // 25)
    assert 3 <= len(before) < n_chunks  # killed part-way
    assert not list(folder.glob(".*.tmp"))  # a killed write leaves no partial chunk
    resumed = tool.build(ratings, checkpoint=folder, chunk_size=25, progress=False)
    after = _chunks(folder)
    assert len(after) == n_chunks
    assert {name: after[name] for name in before} == before  # loaded, not computed again
    fresh = tool.build(ratings, progress=False, n_jobs=2)
    assert resumed.examples == fresh.examples
    assert resumed.meta == fresh.meta


def test_a_checkpoint_of_another_build_is_refused(saved: Path, tmp_path: Path) -> None:
    ratings = Ratings.load(saved)
    tool = NeighbourTruth.profile_data_50(n_users=200)
    first = tool.build(ratings, checkpoint=tmp_path / "p", chunk_size=64, progress=False)
    again = tool.build(ratings, checkpoint=tmp_path / "p", chunk_size=64, progress=False)
    assert again.examples == first.examples
    other = NeighbourTruth.profile_data_60(n_users=200)
    with pytest.raises(ConfigError, match="belongs to another build: its config"):
        other.build(ratings, checkpoint=tmp_path / "p", chunk_size=64, progress=False)
    with pytest.raises(ConfigError, match="its chunk_size is 64, this build's is 32"):
        tool.build(ratings, checkpoint=tmp_path / "p", chunk_size=32, progress=False)
    (tmp_path / "p" / "chunk-000001.npz").write_bytes(b"not a zip")
    with pytest.raises(DataFormatError, match="damaged checkpoint chunk"):
        tool.build(ratings, checkpoint=tmp_path / "p", chunk_size=64, progress=False)

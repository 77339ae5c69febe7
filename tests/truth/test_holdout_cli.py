"""``llmrec truth build --protocol ...`` for the holdout truths, on Netflix and MovieLens data."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from llmrec.cli import main
from llmrec.data import netflix
from llmrec.data.movielens import load_movielens
from llmrec.data.ratings import Ratings
from llmrec.data.synthetic import write_netflix
from llmrec.truth import LastNTruth, ProbeTruth, ProfileDataset, TimeSplitTruth

KW = {"n_users": 300, "n_movies": 80, "n_ratings": 9_000, "seed": 5}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_netflix(tmp_path_factory.mktemp("cli"), **KW)


@pytest.fixture(scope="module")
def movielens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small ml-100k folder: 40 users rating 10-25 of 30 movies over two years."""
    folder = tmp_path_factory.mktemp("ml-100k")
    rng = np.random.default_rng(1)
    lines = []
    start = int(dt.datetime(1997, 1, 1, tzinfo=dt.timezone.utc).timestamp())
    for user in range(1, 41):
        for movie in rng.choice(30, size=int(rng.integers(10, 26)), replace=False) + 1:
            stars = int(rng.integers(1, 6)) if movie % 3 else 5
            stamp = start + int(rng.integers(0, 730)) * 86_400 + int(rng.integers(0, 86_400))
            lines.append(f"{user}\t{movie}\t{stars}\t{stamp}\n")
    (folder / "u.data").write_text("".join(lines))
    items = [f"{m}|Film {m} (1995)|01-Jan-1995||http://x|0|0\n" for m in range(1, 31)]
    (folder / "u.item").write_text("".join(items), encoding="iso-8859-1")
    return folder


def run(args: list[str]) -> int:
    return main(["truth", "build", *args, "--quiet"])


def test_probe_protocol_on_the_synthetic_folder(
    synthetic: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "probe.jsonl"
    code = run([str(synthetic), "--protocol", "probe", "--out", str(out), "--users", "all"])
    code |= run(
        [str(synthetic), "--protocol", "probe", "--out", str(tmp_path / "p2.jsonl"),
         "--users", "all", "--history", str(tmp_path / "hist")]
    )  # fmt: skip
    assert code == 0
    ds = ProfileDataset.load(out)
    ratings = netflix.load_ratings(synthetic)
    direct = ProbeTruth(n_users=None, probe=netflix.load_probe(synthetic)).build(
        ratings, progress=False
    )
    assert ds.examples == direct.examples and ds.meta["protocol"] == "probe"
    hist = Ratings.load(tmp_path / "hist")
    assert len(hist) < len(ratings)
    ProbeTruth(probe=netflix.load_probe(synthetic)).check_fitting(hist, ratings, users=ds.user_ids)
    capsys.readouterr()
    assert main(["truth", "stats", str(out)]) == 0
    text = capsys.readouterr().out
    assert "truth          probe" in text and "neighbours" not in text


@pytest.mark.parametrize(
    ("extra", "truth"),
    [
        (["--protocol", "last-n", "--n", "5"], LastNTruth(n=5, n_users=None, min_five_star=2)),
        (
            ["--protocol", "time-split", "--cutoff", "1998-03-01"],
            TimeSplitTruth(cutoff="1998-03-01", n_users=None, min_five_star=2),
        ),
    ],
    ids=["last-n", "time-split"],
)
def test_movielens_folders_work_with_last_n_and_time_split(
    movielens: Path, tmp_path: Path, extra: list[str], truth: LastNTruth | TimeSplitTruth
) -> None:
    out = tmp_path / "t.jsonl"
    args = [str(movielens), *extra, "--out", str(out), "--users", "all", "--min-five-star", "2"]
    assert run(args) == 0
    ds = ProfileDataset.load(out)
    ratings, _ = load_movielens(movielens)
    assert len(ds) > 5
    assert ds.examples == truth.build(ratings, progress=False).examples
    for ex in ds:
        assert ex.gold and not set(ex.gold) & set(ex.profile)


def test_clear_cli_errors(synthetic: Path, movielens: Path, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    out = str(tmp_path / "x.jsonl")
    assert run([str(synthetic), "--protocol", "time-split", "--out", out]) == 1
    assert "--cutoff" in capsys.readouterr().err
    assert run([str(movielens), "--protocol", "probe", "--out", out]) == 1
    assert "no probe.txt" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--protocol", "time-split", "--cutoff", "2030-01-01"], "--cutoff 2030-01-01 is after"),
        (["--protocol", "time-split", "--cutoff", "1990-01-01"], "on or before the first rating"),
        (["--protocol", "probe", "--probe", "EMPTY"], "the probe set ("),
    ],
    ids=["cutoff-after-the-data", "cutoff-before-the-data", "empty-probe"],
)
def test_a_truth_with_no_examples_is_a_clear_error(
    synthetic: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    named: str,
) -> None:
    empty = tmp_path / "probe.txt"
    empty.write_bytes(b"")
    extra = [str(empty) if a == "EMPTY" else a for a in extra]
    out = tmp_path / "t.jsonl"
    assert run([str(synthetic), *extra, "--out", str(out), "--users", "all"]) == 1
    err = capsys.readouterr().err.strip()
    protocol = extra[1]
    assert err.startswith(f"llmrec: error: the {protocol} truth of {synthetic} has no examples")
    assert named in err and "\n" not in err
    if protocol == "time-split":
        assert "the ratings run from 2000-03-11 to 2005-12-31" in err
    else:
        assert f"({empty}) is empty" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        (
            ["--protocol", "last-n", "--n", "0"],
            "invalid LastNTruth configuration: n: should be greater than or equal to 1, got 0",
        ),
        (
            ["--seed", "-1"],
            "invalid truth configuration: seed: should be greater than or equal to 0, got -1",
        ),
    ],
    ids=["last-n-n-0", "neighbour-seed"],
)
def test_a_bad_setting_is_one_line_not_a_pydantic_dump(
    synthetic: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], line: str
) -> None:
    assert run([str(synthetic), *extra, "--out", str(tmp_path / "t.jsonl")]) == 1
    assert capsys.readouterr().err == f"llmrec: error: {line}\n"


def test_stats_prints_a_lone_surrogate_escaped(
    synthetic: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A ``\\ud800`` escape in a truth's meta is valid JSON but no valid UTF-8 text."""
    out = tmp_path / "t.jsonl"
    assert run([str(synthetic), "--protocol", "last-n", "--out", str(out), "--users", "20"]) == 0
    meta = out.with_name(out.name + ".meta.json")
    data = json.loads(meta.read_text(encoding="utf-8"))
    data["protocol"] = "last\ud800n"
    meta.write_text(json.dumps(data), encoding="utf-8")  # written as the escape "\\ud800"
    capfd.readouterr()
    assert main(["truth", "stats", str(out)]) == 0
    assert "last\\ud800n" in capfd.readouterr().out

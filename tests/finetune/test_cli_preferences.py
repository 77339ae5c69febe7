"""``llmrec finetune export-preferences`` and DPO through validate, estimate and start."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from llmrec.cli import main
from llmrec.data import Ratings
from llmrec.finetune import (
    RunManifest,
    estimate_preference_cost,
    read_preference_jsonl,
    validate_preference_jsonl,
)
from llmrec.recommenders import Recommendation
from llmrec.testing import LocalOpenAIServer
from llmrec.truth.dataset import Example, ProfileDataset

N_MOVIES = 30


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """movie_titles.csv, a profile dataset of 12 users, and a ratings folder."""
    titles = tmp_path / "movie_titles.csv"
    titles.write_text(
        "".join(f"{i},{1990 + i},Movie {i}, the sequel\n" for i in range(1, N_MOVIES + 1)),
        encoding="latin-1",
    )
    examples = [
        Example(user_id=u, profile=(u, u + 1, u + 2), gold=(u + 10, u + 11), n_neighbours=5)
        for u in range(1, 13)
    ]
    dataset = ProfileDataset(examples).save(tmp_path / "profiles.jsonl")
    # background users 90-99 make movies 30 and 29 (10 ratings each) the most rated
    users = [u for u in range(1, 13) for _ in range(3)] + [u for u in range(90, 100)] * 2
    movies = [m for u in range(1, 13) for m in (u, u + 1, u + 2)] + [30] * 10 + [29] * 10
    n = len(users)
    ratings = Ratings(users, movies, np.full(n, 4), np.zeros(n, dtype=np.int64))
    folder = ratings.save(tmp_path / "ratings")
    return titles, dataset, folder


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(fine_tune_step_seconds=0.03) as srv:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-test")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        yield srv


def test_export_preferences_popularity(
    inputs: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    titles, dataset, ratings = inputs
    out = tmp_path / "prefs.jsonl"
    argv = ["finetune", "export-preferences", str(dataset), "--titles", str(titles)]
    argv += ["--out", str(out), "--rejected", "popularity", "--ratings", str(ratings)]
    assert main(argv) == 0
    assert "12 pairs (rejected: popularity) from 12 examples" in capsys.readouterr().out
    rows = read_preference_jsonl(out)
    assert len(rows) == 12
    # movies 29 and 30 are the most rated (tied: smaller id first); user 1 rated neither
    assert rows[0].rejected[0]["content"] == (
        "1. Movie 29, the sequel (2019)\n2. Movie 30, the sequel (2020)"
    )
    assert rows[0].chosen[0]["content"] == (
        "1. Movie 11, the sequel (2001)\n2. Movie 12, the sequel (2002)"
    )
    assert validate_preference_jsonl(out).ok
    bytes_first = out.read_bytes()
    assert main(argv) == 0
    assert out.read_bytes() == bytes_first


def test_export_preferences_takes_the_data_folder_every_command_takes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 26, item 10: --ratings reads the Netflix Prize folder `truth build` and `data stats`
    read, not only a saved Ratings folder, and gives the same pairs."""
    from llmrec.data.netflix import load_ratings
    from llmrec.data.synthetic import ensure_synthetic

    data = ensure_synthetic(tmp_path / "data", n_users=300, n_movies=60, n_ratings=6000)
    truth = tmp_path / "pd.jsonl"
    assert main(["truth", "build", str(data), "--out", str(truth), "--preset", "pd50",
                 "--users", "20", "--quiet"]) == 0  # fmt: skip
    argv = ["finetune", "export-preferences", str(truth), "--titles", str(data)]
    argv += ["--rejected", "popularity"]
    from_folder, from_saved = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert main([*argv, "--out", str(from_folder), "--ratings", str(data)]) == 0, (
        capsys.readouterr().err
    )
    saved = load_ratings(data, cache=False).save(tmp_path / "saved")
    assert main([*argv, "--out", str(from_saved), "--ratings", str(saved)]) == 0
    assert from_folder.read_bytes() == from_saved.read_bytes()
    assert read_preference_jsonl(from_folder)


def test_export_preferences_from_an_earlier_run(
    inputs: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    titles, dataset, _ = inputs
    recs = tmp_path / "recs.jsonl"
    with open(recs, "w", encoding="utf-8") as fh:
        for u in range(1, 13):
            text = f"1. Movie {u + 5}, the sequel ({1995 + u})" if u % 2 else "1. Nope (2099)"
            rec = Recommendation((u + 5,) if u % 2 else (), (1.0,) if u % 2 else (), raw_text=text)
            fh.write(json.dumps({"user_id": u, **rec.to_dict()}) + "\n")
    out = tmp_path / "prefs.jsonl"
    argv = ["finetune", "export-preferences", str(dataset), "--titles", str(titles)]
    assert main([*argv, "--out", str(out), "--rejected", "model", "--answers", str(recs)]) == 0
    assert "12 pairs (rejected: model)" in capsys.readouterr().out
    rows = read_preference_jsonl(out)
    assert rows[0].rejected[0]["content"] == "1. Movie 6, the sequel (1996)"
    assert rows[1].rejected[0]["content"] == "1. Nope (2099)"
    assert main([*argv, "--out", str(out), "--rejected", "random"]) == 1
    assert "needs ratings" in capsys.readouterr().err


def test_export_preferences_hallucinated_counts_drops(
    inputs: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    titles, dataset, _ = inputs
    recs = tmp_path / "recs.jsonl"
    with open(recs, "w", encoding="utf-8") as fh:
        for u in range(1, 13):
            text = f"1. Movie {u + 5}, the sequel ({1995 + u})" if u % 2 else "1. Nope (2099)"
            fh.write(json.dumps({"user_id": u, "movie_ids": [], "scores": [], "raw_text": text}))
            fh.write("\n")
    out = tmp_path / "prefs.jsonl"
    argv = ["finetune", "export-preferences", str(dataset), "--titles", str(titles)]
    assert (
        main([*argv, "--out", str(out), "--rejected", "hallucinated", "--answers", str(recs)]) == 0
    )
    printed = capsys.readouterr().out
    assert "6 pairs (rejected: hallucinated) from 12 examples" in printed
    assert "6 no_hallucination" in printed
    assert [r.rejected[0]["content"] for r in read_preference_jsonl(out)] == ["1. Nope (2099)"] * 6


def test_validate_and_estimate_recognise_preference_files(
    inputs: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    titles, dataset, ratings = inputs
    out = tmp_path / "prefs.jsonl"
    argv = ["finetune", "export-preferences", str(dataset), "--titles", str(titles)]
    assert main([*argv, "--out", str(out), "--rejected", "random", "--ratings", str(ratings)]) == 0
    capsys.readouterr()
    assert main(["finetune", "validate", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "preference (DPO) file" in printed and "0 findings" in printed
    assert main(["finetune", "estimate", str(out), "--epochs", "3"]) == 0
    expected = estimate_preference_cost(out, model="gpt-4.1-mini-2025-04-14", n_epochs=3)
    assert capsys.readouterr().out.strip() == f"preference (DPO) file; {expected}"
    lines = out.read_text(encoding="utf-8").splitlines()
    broken = json.loads(lines[2])
    broken["preferred_output"] = []
    lines[2] = json.dumps(broken)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["finetune", "validate", str(out)]) == 1
    assert "line 3: [invalid_output]" in capsys.readouterr().out


def test_start_dpo_sends_the_method(
    server: LocalOpenAIServer,
    inputs: tuple[Path, Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    titles, dataset, ratings = inputs
    out = tmp_path / "prefs.jsonl"
    argv = ["finetune", "export-preferences", str(dataset), "--titles", str(titles)]
    assert main([*argv, "--out", str(out), "--ratings", str(ratings)]) == 0
    start = ["finetune", "start", str(out), "--method", "dpo", "--beta", "0.2", "--quiet"]
    assert main([*start, "--model", "gpt-4o-mini-2024-07-18"]) == 1
    assert "--allow-model" in capsys.readouterr().err
    assert server.requests == []
    model = "gpt-4.1-2025-04-14"
    assert main([*start, "--model", model, "--wait", "--poll-interval", "0.01"]) == 0
    (create,) = [r for r in server.requests if r.path == "/v1/fine_tuning/jobs"]
    assert isinstance(create.body, dict)
    assert create.body["method"]["type"] == "dpo"
    assert create.body["method"]["dpo"]["hyperparameters"]["beta"] == 0.2
    manifest = RunManifest.load(tmp_path / "finetune-manifest.json")
    assert manifest.config.method == "dpo" and manifest.status == "succeeded"
    assert capsys.readouterr().out.strip().splitlines()[-1] == manifest.fine_tuned_model

"""``llmrec probe memorisation`` on data folders, against the local OpenAI-compatible server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmrec.cli import main
from llmrec.data.netflix import load_titles
from llmrec.data.synthetic import write_netflix
from llmrec.probes import MemorisationProbe, MemorisationReport
from llmrec.testing import LocalOpenAIServer


@pytest.fixture(scope="module")
def netflix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("netflix") / "data"
    return write_netflix(folder, n_users=80, n_movies=30, n_ratings=900, n_files=1, seed=5)


def _known(probe: MemorisationProbe, catalog, path: Path) -> dict[str, str]:
    probe.write_chat(catalog, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    return {m[1]["content"]: m[2]["content"] for m in (json.loads(x)["messages"] for x in lines)}


def _args(server: LocalOpenAIServer, data: Path, cache: Path, *more: str) -> list[str]:
    return [
        "probe",
        "memorisation",
        "--backend",
        "openai",
        "--model",
        "gpt-4o-mini",
        "--option",
        f"base_url={server.base_url}",
        "--data",
        str(data),
        "--cache",
        str(cache),
        "--quiet",
        *more,
    ]


def test_the_command_prices_then_prints_recall_by_bucket(
    netflix: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    known = _known(MemorisationProbe(), load_titles(netflix), tmp_path / "chat.jsonl")

    def chat(body: dict) -> str:
        return known.get(body["messages"][-1]["content"], "I do not know.")

    with LocalOpenAIServer(chat=chat) as server:
        cache = tmp_path / "c.sqlite"
        assert main(_args(server, netflix, cache, "--dry-run", "--calibrate")) == 0
        out = capsys.readouterr().out
        assert "30 probe requests, 0 cached; to send 30" in out
        assert "calibration: " in out and "2,000 probe requests" in out
        assert "nothing was sent" in out and server.requests == []

        report_path = tmp_path / "report.json"
        assert main(_args(server, netflix, cache, "--out", str(report_path))) == 0
        out = capsys.readouterr().out
        lines = {line.split()[2]: line for line in out.splitlines()[1:5]}
        assert set(lines) == {"head", "torso", "tail", "all"}
        assert "30  100.0% [88.6, 100.0]" in lines["all"]
        report = MemorisationReport.load(report_path)
        assert report.recall == 1.0 and report.total.n == 30
        assert sum(b.n for b in report.by_bucket.values()) == 30
        assert len(server.requests) == 30

        # a rerun is answered from the cache; the dry run says so
        assert main(_args(server, netflix, cache, "--dry-run")) == 0
        assert "30 probe requests, 30 cached; to send 0" in capsys.readouterr().out


def test_a_movielens_folder_is_probed_with_its_own_item_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "movies.dat").write_bytes(
        b"1::Toy Story (1995)::Animation|Children's|Comedy\n"
        b"2::Jumanji (1995)::Adventure|Children's|Fantasy\n"
        b"3::City of Lost Children, The (1995)::Adventure|Sci-Fi\n"
    )
    (folder / "ratings.dat").write_bytes(
        b"1::1::5::978300760\n2::1::3::978302109\n3::1::3::978301968\n1::2::4::978300275\n"
    )
    answers = {"1::": "Toy Story (1995)::Animation", "2::": "Jumanji", "3::": "Heat (1995)"}

    def chat(body: dict) -> str:
        return answers[body["messages"][-1]["content"]]

    with LocalOpenAIServer(chat=chat) as server:
        assert main(_args(server, tmp_path, tmp_path / "c.sqlite", "--kind", "item_lines")) == 0
        body = server.requests[0].body
    assert isinstance(body, dict) and "movies.dat" in body["messages"][0]["content"]
    out = capsys.readouterr().out
    rows = {line.split()[2]: line.split() for line in out.splitlines()[1:5]}
    # Toy Story exact; Jumanji without its year resolves but is not exact; Heat names nothing
    assert rows["all"][3:6] == ["3", "33.3%", "[6.1,"]
    assert "66.7%" in " ".join(rows["all"])


def test_bad_command_lines_fail_with_one_clear_line(
    netflix: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "probe",
            "memorisation",
            "--backend",
            "popularity",
            "--data",
            str(netflix),
            "--no-ratings",
            "--dry-run",
        ]
    )
    assert code == 1
    assert "not one" in capsys.readouterr().err
    code = main(["probe", "memorisation", "--backend", "openai", "--data", str(netflix),
                 "--option", "no-equals-sign", "--dry-run"])  # fmt: skip
    assert code == 1 and "KEY=VALUE" in capsys.readouterr().err
    code = main(["probe", "memorisation", "--backend", "openai", "--data", str(netflix),
                 "--kind", "user_lines", "--no-ratings"])  # fmt: skip
    assert code == 1 and "needs the ratings" in capsys.readouterr().err

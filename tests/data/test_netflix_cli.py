"""``llmrec data stats`` on Netflix Prize files."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from llmrec.data import _cli


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="llmrec")
    _cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_stats_of_a_netflix_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "combined_data_1.txt").write_text(
        "1:\n10,5,2005-01-02\n11,4,2005-03-04\n2:\n10,5,2004-12-31\n"
    )
    (tmp_path / "movie_titles.csv").write_bytes(b"1,2003,Dinosaur Planet\n2,NULL,Isle\n")
    assert run(["data", "stats", str(tmp_path), "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "Netflix Prize data" in out
    assert "ratings        3" in out
    assert "users          2" in out
    assert "movies         2" in out
    assert "2004-12-31 to 2005-03-04" in out
    assert "catalog        2 titles" in out


def test_stats_of_a_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["data", "stats", str(tmp_path / "nope")]) == 1
    assert "no such file or folder" in capsys.readouterr().err


def test_data_without_subcommand_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["data"]) == 2
    assert "stats" in capsys.readouterr().out

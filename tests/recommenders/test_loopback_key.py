"""A server on this machine needs no API key (issue 11, item 21).

The README's language-model line, ``get_recommender("openai-zero-shot",
base_url="http://localhost:8000/v1")``, runs as written against a local OpenAI-compatible
server with no ``OPENAI_API_KEY``; any other server still needs a key, said before anything is
sent.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmrec.data import netflix
from llmrec.data.synthetic import ensure_synthetic
from llmrec.errors import APIKeyMissingError
from llmrec.openai_api.endpoints import is_loopback_url
from llmrec.recommenders import get_recommender
from llmrec.testing import LocalOpenAIServer

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_line() -> str:
    line = next(
        line
        for line in README.read_text(encoding="utf-8").splitlines()
        if line.startswith("llm = get_recommender(")
    )
    assert 'base_url="http://localhost:8000/v1"' in line
    return line


def test_the_readme_line_runs_against_a_local_server_without_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # the response cache goes here
    folder = ensure_synthetic(n_users=400, n_movies=80, n_ratings=12_000, progress=False)
    ratings = netflix.load_ratings(folder)
    catalog = netflix.load_titles(folder / "movie_titles.csv")
    first = catalog.label(int(catalog.movie_ids[0]))
    with LocalOpenAIServer(chat=lambda body: f"1. {first}", host="localhost") as server:
        line = _readme_line().replace("http://localhost:8000/v1", server.base_url)
        assert re.search(r"http://localhost:\d+/v1", line)
        scope = {"get_recommender": get_recommender, "ratings": ratings, "catalog": catalog}
        exec(line, scope)
        llm = scope["llm"]
        assert llm.credentials().present
        [rec] = llm.recommend_many([tuple(catalog.movie_ids[1:4].tolist())], k=3)
    assert rec.movie_ids[0] == int(catalog.movie_ids[0])


def test_a_remote_server_still_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    rec = get_recommender("openai-zero-shot", base_url="https://llm.example.com/v1")
    assert not rec.credentials().present
    with pytest.raises(APIKeyMissingError, match="OPENAI_API_KEY"):
        rec.client()


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://localhost:8000/v1", True),
        ("http://LOCALHOST/v1", True),
        ("http://127.0.0.1:8000/v1", True),
        ("http://127.3.2.1/v1", True),
        ("http://[::1]:8000/v1", True),
        ("https://api.openai.com/v1", False),
        ("http://localhost.example.com/v1", False),
        ("http://10.0.0.5:8000/v1", False),
        ("http://user:pw@localhost:8000/v1", True),
        ("not a url", False),
        (None, False),
    ],
)
def test_which_urls_are_this_machine(url: str | None, local: bool) -> None:
    assert is_loopback_url(url) is local

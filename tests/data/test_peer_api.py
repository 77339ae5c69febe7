"""The peer-data names issue 20 promises, with the signatures it gives."""

from __future__ import annotations

import inspect

import llmrec.data
from llmrec.data import Ratings, amazon, recbole


def params(func: object) -> list[tuple[str, str]]:
    return [(p.name, p.kind.name) for p in inspect.signature(func).parameters.values()]  # type: ignore[arg-type]


def test_promised_signatures() -> None:
    assert params(recbole.load_atomic)[:2] == [
        ("folder", "POSITIONAL_OR_KEYWORD"),
        ("dataset", "POSITIONAL_OR_KEYWORD"),
    ]
    assert ("implicit_rating", "KEYWORD_ONLY") in params(recbole.load_atomic)
    assert params(amazon.load_reviews)[:2] == [
        ("reviews", "POSITIONAL_OR_KEYWORD"),
        ("meta", "POSITIONAL_OR_KEYWORD"),
    ]
    assert params(llmrec.data.kcore) == [
        ("ratings", "POSITIONAL_OR_KEYWORD"),
        ("k", "POSITIONAL_OR_KEYWORD"),
        ("users", "KEYWORD_ONLY"),
        ("items", "KEYWORD_ONLY"),
    ]
    assert ("time", "KEYWORD_ONLY") in params(Ratings)
    assert callable(Ratings.history_order)
    assert {"SourceIds", "LoadedData", "kcore"} <= set(llmrec.data.__all__)

"""The entry-point registry: built-ins and plugins by name, and its errors."""

from __future__ import annotations

import inspect
import subprocess
import sys
from importlib.metadata import EntryPoint

import pytest

from llmrec.errors import BackendError, ConfigError, UnknownBackendError
from llmrec.recommenders import (
    EASERecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    _entry_points,
    available_recommenders,
    get_recommender,
    registry,
)


def test_builtins_and_the_installed_plugin_are_listed() -> None:
    names = available_recommenders()
    assert names == sorted(names)
    for name in ("ease", "itemknn", "popularity", "openai", "random-example"):
        assert name in names


def test_get_recommender_builds_configured_unfitted_models() -> None:
    knn = get_recommender("itemknn", n_neighbours=3)
    assert isinstance(knn, ItemKNNRecommender)
    assert knn.config.n_neighbours == 3
    assert not knn.is_fitted
    assert isinstance(get_recommender("ease"), EASERecommender)
    assert isinstance(get_recommender("popularity", by="five_star"), PopularityRecommender)


def test_unknown_name_lists_the_available_ones() -> None:
    with pytest.raises(UnknownBackendError, match="no recommender named 'eas'") as info:
        get_recommender("eas")
    message = str(info.value)
    assert "available: " in message
    for name in available_recommenders():
        assert name in message
    assert "Did you mean 'ease'?" in message


def test_unknown_option_names_the_option() -> None:
    with pytest.raises(ConfigError, match="bogus"):
        get_recommender("ease", bogus=1)


def test_listing_names_imports_no_backend() -> None:
    code = (
        "import sys, llmrec.recommenders as r; r.available_recommenders(); "
        "print('llmrec.recommenders.openai' in sys.modules, 'openai' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]


def _fake(monkeypatch: pytest.MonkeyPatch, *eps: tuple[str, str]) -> None:
    found = [EntryPoint(name, value, registry.ENTRY_POINT_GROUP) for name, value in eps]
    monkeypatch.setattr(_entry_points, "entry_points", lambda group: found)


def test_entry_point_that_cannot_be_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, ("broken", "llmrec_no_such_module:Model"))
    with pytest.raises(BackendError, match=r"'broken' \(llmrec_no_such_module:Model\) cannot"):
        get_recommender("broken")


def test_entry_point_that_builds_something_else(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, ("odd", "builtins:dict"))
    with pytest.raises(BackendError, match="built a dict, not a llmrec Recommender"):
        get_recommender("odd")


def test_entry_point_that_is_not_callable(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, ("constant", "math:pi"))
    with pytest.raises(BackendError, match="not callable"):
        get_recommender("constant")


def test_name_registered_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(
        monkeypatch,
        ("twice", "llmrec.recommenders.ease:EASERecommender"),
        ("twice", "llmrec.recommenders.itemknn:ItemKNNRecommender"),
        ("same", "llmrec.recommenders.ease:EASERecommender"),
        ("same", "llmrec.recommenders.ease:EASERecommender"),
    )
    with pytest.raises(BackendError, match="registered more than once"):
        get_recommender("twice")
    assert isinstance(get_recommender("same"), EASERecommender)
    assert available_recommenders() == ["same", "twice"]


def test_entry_points_receive_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, ("knn", "llmrec.recommenders.itemknn:ItemKNNRecommender"))
    assert get_recommender("knn", shrinkage=4.0).config.shrinkage == 4.0


def test_public_names_are_sorted_and_importable() -> None:
    import llmrec.recommenders as package

    assert package.__all__ == sorted(package.__all__)
    for name in package.__all__:
        value = getattr(package, name)
        if not (inspect.isclass(value) or inspect.isfunction(value)):
            continue  # the Profile type alias
        # each export is the llmrec object of that name, not something else bound to it
        assert value.__name__ == name, name
        assert value.__module__.startswith("llmrec.recommenders."), (name, value.__module__)

"""A Hugging Face model id that cannot be fetched fails at once, naming HF_HUB_OFFLINE.

The hub endpoint is a loopback port that refuses connections (a socket bound but not
listening), and the cache an empty folder: no test here touches the real network.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("huggingface_hub")

from huggingface_hub import constants

from llmrec.errors import ConfigError
from llmrec.local_models.hub import check_hub_model

MODEL = "llmrec-tests/no-such-model"


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port nothing listens on (held, so no other process takes it meanwhile)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, refusing_port: int) -> Path:
    """An empty Hugging Face cache and an endpoint that refuses connections."""
    endpoint = f"http://127.0.0.1:{refusing_port}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def _cache_model(cache: Path, model: str) -> None:
    """Lay out ``model`` in the cache as ``huggingface_hub`` does (refs/main → a snapshot)."""
    repo = cache / ("models--" + model.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40, encoding="utf-8")
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}", encoding="utf-8")


def test_no_network_fails_fast_with_the_offline_hint(hub: Path) -> None:
    with pytest.raises(ConfigError) as error:
        check_hub_model(MODEL)
    message = str(error.value)
    assert "cannot reach http://127.0.0.1:" in message and repr(MODEL) in message
    assert "HF_HUB_OFFLINE=1" in message and "llmrec models tiny" in message


def test_offline_and_not_cached_says_so(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match=r"not in the Hugging Face cache .* HF_HUB_OFFLINE is"):
        check_hub_model(MODEL)


def test_a_cached_model_loads_offline_and_the_hint_says_it_is_cached(
    hub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cache_model(hub, MODEL)
    with pytest.raises(ConfigError, match="in the Hugging Face cache: set HF_HUB_OFFLINE=1"):
        check_hub_model(MODEL)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    check_hub_model(MODEL)  # nothing to fetch: passes


def test_a_reachable_endpoint_and_a_folder_pass(
    hub: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        endpoint = f"http://127.0.0.1:{server.getsockname()[1]}"
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        check_hub_model(MODEL)
    check_hub_model(tmp_path)


@pytest.mark.parametrize("path", ["./runs/model", "/nowhere/model", "runs/a/model"])
def test_a_missing_folder_is_named_as_such(hub: Path, path: str) -> None:
    with pytest.raises(ConfigError, match=f"no model folder at {path}"):
        check_hub_model(path)


def test_load_model_checks_before_transformers_retries(hub: Path) -> None:
    pytest.importorskip("transformers")
    from llmrec.local_models.load import load_model

    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE=1"):
        load_model(MODEL, device="cpu", dtype="float32")

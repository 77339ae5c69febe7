"""API keys are never written in clear: not to any file, repr, error text or pickle (issue 11,
item 3). The key has no ``sk-`` prefix, so only knowing its value can hide it."""

from __future__ import annotations

import json
import pickle
import traceback
from pathlib import Path
from typing import Any

import pytest

from llmrec.cli import main
from llmrec.errors import BackendError, LLMRecError
from llmrec.experiment import ExperimentConfig
from llmrec.recommenders.openai import OpenAIRecommender
from llmrec.testing import LocalOpenAIServer

KEY = "zz-SECRET-123456"
DATA = {"kind": "synthetic", "n_users": 800, "n_movies": 200, "n_ratings": 30_000, "seed": 5}


def _scan_files(root: Path) -> list[Path]:
    """Every file under ``root`` whose bytes hold the key (sqlite files included)."""
    return [p for p in root.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]


def _error_text(exc: BaseException) -> str:
    return str(exc) + "".join(traceback.format_exception(exc)) + repr(exc)


def _echo_key(body: dict[str, Any]) -> dict[str, Any]:
    return {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "x", "code": None}}


def test_a_whole_experiment_writes_the_key_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("LLMREC_CACHE_DIR", str(tmp_path / "cache"))
    with LocalOpenAIServer(api_key=KEY, fine_tune_step_seconds=0.02) as srv:
        cfg = {
            "data": DATA,
            "truth": {"a": {"n_users": 60}},
            "truth_replace": True,
            "n_bootstrap": 20,
            "base_url": srv.base_url,
            "finetune": {"enabled": True, "poll_interval": 0.02},
            "backends": [
                {"name": "popularity"},
                {"name": "openai-zero-shot", "config": {"api_key": KEY, "max_retries": 0}},
                {"name": "openai-fine-tuned", "label": "fine-tuned"},
            ],
        }
        path = tmp_path / "study.json"
        path.write_text(json.dumps(cfg))
        out = tmp_path / "out"
        assert main(["reproduce", str(path), "--out", str(out), "--quiet"]) == 0
        assert sum(r.path.endswith("/chat/completions") for r in srv.requests) > 0
        path.unlink()  # the user's own file holds the key; everything else must not
        assert _scan_files(tmp_path) == []
        printed = capsys.readouterr()
        assert KEY not in printed.out + printed.err
        written = json.loads((out / "config.json").read_text())
        assert "api_key" not in written["backends"][1]["config"]

        # a pickled config or recommender carries no key
        config = ExperimentConfig.model_validate(cfg)
        assert KEY.encode() not in pickle.dumps(config)
        assert KEY not in repr(config) + config.to_json()
        rec = OpenAIRecommender(api_key=KEY, base_url=srv.base_url)
        assert KEY.encode() not in pickle.dumps(rec)
        assert KEY not in repr(rec) + repr(rec.config) + json.dumps(rec.to_config())
        # in this process the pickled key is found again (a forked worker works too)
        assert pickle.loads(pickle.dumps(rec)).config.api_key.get_secret_value() == KEY


def test_server_errors_echoing_the_key_are_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openai

    from llmrec.finetune import FineTuner

    monkeypatch.setenv("LLMREC_CACHE_DIR", str(tmp_path / "cache"))
    train = tmp_path / "train.jsonl"
    example = {
        "messages": [
            {"role": "system", "content": "Recommend movies."},
            {"role": "user", "content": "Heat (1995)"},
            {"role": "assistant", "content": "1. Casino (1995)"},
        ]
    }
    train.write_text("\n".join(json.dumps(example) for _ in range(10)) + "\n")
    errors: list[BaseException] = []
    with LocalOpenAIServer(fine_tune_step_seconds=0.01) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key=KEY, max_retries=0)
        # a fine-tuning job that fails with an error echoing the key
        srv.fail_job(error=f"the key {KEY} has no access to fine-tuning")
        tuner = FineTuner(client, manifest=tmp_path / "run.manifest.json", poll_interval=0.01)
        tuner.start(train, model="gpt-4o-mini-2024-07-18")
        with pytest.raises(BackendError) as info:
            tuner.wait()
        errors.append(info.value)
        # an upload rejected with the key echoed back
        srv.fail_next(1, status=401, retry_after=None, path_prefix="/v1/files", body=_echo_key({}))
        other = FineTuner(client, manifest=tmp_path / "other.manifest.json", poll_interval=0.01)
        with pytest.raises((LLMRecError, openai.APIError)) as info2:
            other.start(train, model="gpt-4o-mini-2024-07-18")
        errors.append(info2.value)
        # chat requests answered with the key echoed back, failing for good
        srv.fail_next(1, status=400, retry_after=None, body=_echo_key({}))
        rec = OpenAIRecommender(
            base_url=srv.base_url, api_key=KEY, cache=tmp_path / "c.sqlite", fail_fast=True
        )
        from llmrec.data.catalog import Catalog, Movie
        from llmrec.data.ratings import Ratings

        catalog = Catalog([Movie(1, "Heat", 1995), Movie(2, "Casino", 1995)])
        import numpy as np

        ratings = Ratings(
            np.array([1]), np.array([1]), np.array([5]), np.array(["2005-01-01"], "M8[D]")
        )
        rec.fit(ratings, catalog)
        with pytest.raises(BackendError) as info3:
            rec.recommend((1,), k=2)
        errors.append(info3.value)
        srv.fail_next(1, status=400, retry_after=None, body=_echo_key({}))
        lenient = rec.with_model(rec.model_id)._copy(fail_fast=False).fit(ratings, catalog)
        failed = lenient.recommend((2,), k=2)
        assert "failed" in failed.diagnostics
        assert KEY not in json.dumps(failed.to_dict())
        rec.close()
        lenient.close()
    for exc in errors:
        assert KEY not in _error_text(exc), _error_text(exc)
    assert _scan_files(tmp_path) == []  # the manifests, the cache, the training file


def test_a_key_inside_base_url_is_hidden(tmp_path: Path) -> None:
    url = f"http://user:{KEY}@127.0.0.1:9/v1"
    rec = OpenAIRecommender(base_url=url, api_key_optional=True, max_retries=0, timeout=2)
    assert KEY not in repr(rec) + repr(rec.config) + json.dumps(rec.to_config())
    assert KEY not in rec.endpoint
    # pickles carry a process-local handle, not the password; in this process it comes back
    config = ExperimentConfig(
        base_url=url, backends=[{"name": "openai", "config": {"base_url": url}}]
    )
    for obj in (config, rec):
        assert KEY.encode() not in pickle.dumps(obj)
    assert pickle.loads(pickle.dumps(config)).base_url == url
    assert pickle.loads(pickle.dumps(rec)).config.base_url == url
    assert KEY not in repr(config) + config.to_json()
    assert KEY not in ExperimentConfig(base_url=url).to_json()
    import numpy as np

    from llmrec.data.catalog import Catalog, Movie
    from llmrec.data.ratings import Ratings

    catalog = Catalog([Movie(1, "Heat", 1995), Movie(2, "Casino", 1995)])
    ratings = Ratings(
        np.array([1]), np.array([1]), np.array([5]), np.array(["2005-01-01"], "M8[D]")
    )
    rec = OpenAIRecommender(
        base_url=url,
        api_key_optional=True,
        max_retries=0,
        timeout=2,
        cache=tmp_path / "c.sqlite",
        fail_fast=True,
    ).fit(ratings, catalog)
    with pytest.raises(BackendError) as info:
        rec.recommend((1,), k=2)  # nothing listens on port 9
    assert KEY not in _error_text(info.value)
    assert "user:***@127.0.0.1:9" in str(info.value)

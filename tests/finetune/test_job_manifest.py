"""``RunManifest`` persistence, ``JobState`` text, and ``FineTuner`` details around the manifest."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.errors import BudgetExceededError, ConfigError, DataFormatError
from llmrec.finetune import FineTuner, RunManifest, estimate_training_cost
from llmrec.finetune.job import JobState
from llmrec.finetune.manifest import FileRecord, FineTuneConfig, file_sha256
from llmrec.testing import LocalOpenAIServer


def write_chat_jsonl(path: Path, n: int) -> Path:
    line = {
        "messages": [
            {"role": "system", "content": "Recommend movies."},
            {"role": "user", "content": "I liked Heat (1995)"},
            {"role": "assistant", "content": "1. Ronin (1998)"},
        ]
    }
    path.write_text((json.dumps(line) + "\n") * n, encoding="utf-8")
    return path


configs = st.builds(
    FineTuneConfig,
    model=st.sampled_from(["gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06"]),
    n_epochs=st.integers(1, 50),
    batch_size=st.integers(1, 256),
    learning_rate_multiplier=st.floats(0.01, 10, allow_nan=False),
    suffix=st.none() | st.text(max_size=64),
    seed=st.none() | st.integers(0, 2**31),
)


@given(config=configs, status=st.lists(st.sampled_from(["queued", "running", "failed"])))
def test_manifest_round_trips_through_its_file(
    tmp_path_factory: pytest.TempPathFactory, config: FineTuneConfig, status: list[str]
) -> None:
    path = tmp_path_factory.mktemp("m") / "manifest.json"
    manifest = RunManifest(
        config=config,
        training=FileRecord(path="/data/t.jsonl", sha256="a" * 64, bytes=10, file_id="file-1"),
        estimated_cost_usd=1.5,
    )
    changes = [manifest.record_status(s) for s in status]
    # a status is recorded only when it differs from the previous one
    assert changes == [i == 0 or status[i] != status[i - 1] for i in range(len(status))]
    manifest.save(path)
    loaded = RunManifest.load(path)
    assert loaded == manifest
    assert json.loads(path.read_text()) == manifest.model_dump(mode="json")


def test_damaged_or_unknown_manifests_are_reported_with_the_path(tmp_path: Path) -> None:
    bad = tmp_path / "m.json"
    bad.write_text("{not json")
    with pytest.raises(DataFormatError, match="not valid JSON") as info:
        RunManifest.load(bad)
    assert str(bad) in str(info.value)
    bad.write_text(json.dumps({"config": {}, "training": {}, "surprise": 1}))
    with pytest.raises(DataFormatError, match="manifest field"):
        RunManifest.load(bad)


def test_file_sha256_matches_hashlib(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000  # more than one 1 MiB block
    (tmp_path / "f").write_bytes(data)
    assert file_sha256(tmp_path / "f") == hashlib.sha256(data).hexdigest()


def test_job_state_text_names_what_is_known() -> None:
    state = JobState(
        manifest=Path("m.json"),
        job_id="ftjob-1",
        status="succeeded",
        model="gpt-4o-mini-2024-07-18",
        fine_tuned_model="ft:x",
        trained_tokens=1_234_567,
        billed_cost_usd=3.7037,
    )
    assert (
        str(state)
        == "job ftjob-1: succeeded; model ft:x; 1,234,567 trained tokens; billed 3.70 USD"
    )
    assert state.done
    early = JobState(
        manifest=Path("m"), job_id=None, status=None, model="m", estimated_cost_usd=0.000288
    )
    assert str(early) == "job (not created): not started; estimated 0.00029 USD"
    assert not early.done


def test_a_given_estimate_is_used_for_the_budget(tmp_path: Path) -> None:
    train = write_chat_jsonl(tmp_path / "t.jsonl", 10)
    real = estimate_training_cost(train)
    pricey = dataclasses.replace(real, price_per_million=1e9)
    with LocalOpenAIServer() as srv, openai.OpenAI(base_url=srv.base_url, api_key="k") as c:
        tuner = FineTuner(c, manifest=tmp_path / "m.json", progress=False)
        assert not tuner.has_job()
        with pytest.raises(BudgetExceededError, match=r"above the budget of 1\.00 USD"):
            tuner.start(train, max_cost_usd=1.0, estimate=pricey)
        assert srv.requests == []
        tuner.start(train, max_cost_usd=1.0)
        assert tuner.has_job()
        assert tuner.load_manifest().estimated_cost_usd == pytest.approx(real.usd)


def test_bad_settings_are_config_errors(tmp_path: Path) -> None:
    train = write_chat_jsonl(tmp_path / "t.jsonl", 10)
    with LocalOpenAIServer() as srv, openai.OpenAI(base_url=srv.base_url, api_key="k") as c:
        tuner = FineTuner(c, manifest=tmp_path / "m.json", progress=False)
        with pytest.raises(ConfigError, match="batch_size"):
            tuner.start(train, batch_size=0)
        with pytest.raises(ConfigError, match="not found"):
            tuner.start(tmp_path / "missing.jsonl")
        with pytest.raises(ConfigError, match=r"call FineTuner\.start first"):
            FineTuner(c, manifest=_manifest_without_job(tmp_path)).status()
        assert srv.requests == []
    with pytest.raises(ConfigError, match="poll_interval"):
        FineTuner(c, manifest=tmp_path / "m.json", poll_interval=-1)


def _manifest_without_job(tmp_path: Path) -> Path:
    path = tmp_path / "nojob.json"
    RunManifest(
        config=FineTuneConfig(),
        training=FileRecord(path="/t.jsonl", sha256="b" * 64, bytes=1),
    ).save(path)
    return path

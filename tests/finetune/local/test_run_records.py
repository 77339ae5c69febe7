"""What a finished or resumed local run records and returns: outputs checked against their
hashes, token counts over every session, and a run identity that ignores how a step is computed."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from llmrec.errors import ConfigError

from .conftest import TEMPLATE

SETTINGS: dict[str, Any] = {
    "method": "lora",
    "lora_r": 4,
    "learning_rate": 1e-2,
    "epochs": 1,
    "batch_size": 8,
}


@pytest.fixture(scope="module")
def small_run(private_dir, tiny_folder, tiny_data):
    """A finished two-step LoRA run on 16 examples: (training file, output folder, manifest)."""
    from llmrec.finetune.formats import CHAT
    from llmrec.finetune.local import LocalTrainConfig, train_local

    catalog, dataset = tiny_data
    train = CHAT.export(dataset[:16], TEMPLATE, catalog, private_dir / "records.jsonl")
    out = private_dir / "records-run"
    manifest = train_local(
        train, str(tiny_folder), out, config=LocalTrainConfig(**SETTINGS), progress=False
    )
    return train, out, manifest


def _rerun(small_run, tiny_folder, out: Path, **changes: Any):
    from llmrec.finetune.local import LocalTrainConfig, train_local

    train, _, _ = small_run
    config = LocalTrainConfig(**{**SETTINGS, **changes})
    return train_local(train, str(tiny_folder), out, config=config, progress=False)


# -- issue 26, item 5: a finished run's outputs are checked -------------------------------------
def test_the_manifest_records_each_outputs_hash(small_run) -> None:
    from llmrec.local_models import folder_sha256

    _, out, manifest = small_run
    assert manifest.outputs == {"adapter": str(out.resolve())}
    assert manifest.output_sha256 == {"adapter": folder_sha256(out)}


def test_a_manifest_copied_into_an_empty_folder_is_refused(
    small_run, tiny_folder, tmp_path
) -> None:
    _, out, _ = small_run
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(out / "local-train-manifest.json", empty)
    with pytest.raises(ConfigError, match="its adapter output has no model weights"):
        _rerun(small_run, tiny_folder, empty)


def test_an_output_changed_after_the_run_is_refused(small_run, tiny_folder, tmp_path) -> None:
    _, out, _ = small_run
    copy = shutil.copytree(out, tmp_path / "copy")
    weights = copy / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes() + b"\0")
    with pytest.raises(ConfigError, match="content hash differs"):
        _rerun(small_run, tiny_folder, copy)


def test_a_moved_run_folder_is_returned_with_its_outputs_where_they_are(
    small_run, tiny_folder, tmp_path
) -> None:
    _, out, manifest = small_run
    moved = shutil.copytree(out, tmp_path / "moved")
    again = _rerun(small_run, tiny_folder, moved)
    assert again.outputs == {"adapter": str(moved.resolve())}
    assert again.losses == manifest.losses and again.resumed_from == []


# -- issue 26, item 7: execution settings are not part of a run's identity -----------------------
def test_a_smaller_device_batch_or_checkpointing_is_the_same_run(small_run, tiny_folder) -> None:
    _, out, manifest = small_run
    again = _rerun(
        small_run, tiny_folder, out, per_device_batch_size=4, gradient_checkpointing=True
    )
    assert again.status == "succeeded" and again.losses == manifest.losses


def test_a_refusal_names_the_setting_and_both_values(small_run, tiny_folder) -> None:
    _, out, _ = small_run
    with pytest.raises(ConfigError) as info:
        _rerun(small_run, tiny_folder, out, learning_rate=1e-3)
    assert "learning_rate: 0.01 then, 0.001 now" in str(info.value)
    assert "lora_r" not in str(info.value)


def test_a_resumed_manifest_keeps_the_identity_and_takes_the_new_execution_settings(
    tmp_path,
) -> None:
    from llmrec.finetune.local._runner import start_or_resume
    from llmrec.finetune.local.manifest import LocalTrainManifest

    def manifest(**hyper: Any) -> LocalTrainManifest:
        return LocalTrainManifest(
            method="lora",
            base_model="base",
            train_file={"sha256": "a" * 64},
            template_sha256="t",
            hyperparameters={"learning_rate": 0.01, "batch_size": 32, **hyper},
            libraries={},
        )

    path = tmp_path / "local-train-manifest.json"
    first = manifest(per_device_batch_size=8, gradient_accumulation_steps=4)
    first.optimizer_steps = 5
    first.save(path)
    resumed, finished = start_or_resume(
        manifest(per_device_batch_size=2, gradient_accumulation_steps=16), path
    )
    assert not finished and resumed.optimizer_steps == 5
    assert resumed.hyperparameters["per_device_batch_size"] == 2


# -- issue 26, item 6: tokens over every session --------------------------------------------------
def test_tokens_seen_counts_the_sessions_before_a_resume(tmp_path) -> None:
    """TRL's ``num_tokens`` restarts at zero in a resumed session (a real ``TrainerState``,
    as the trainer hands it to callbacks after loading a checkpoint)."""
    from transformers import TrainerState

    from llmrec.finetune.local._callback import ManifestCallback
    from llmrec.finetune.local.manifest import LocalTrainManifest

    record = LocalTrainManifest(
        method="lora",
        base_model="base",
        train_file={},
        template_sha256="t",
        hyperparameters={},
        libraries={},
    )
    path = tmp_path / "local-train-manifest.json"
    # the checkpoint of step 2 was written by a first session that counted 100 and 210 tokens
    state = TrainerState(global_step=2)
    state.log_history = [
        {"step": 1, "loss": 2.0, "num_tokens": 100.0},
        {"step": 2, "loss": 1.9, "num_tokens": 210.0},
    ]
    for total in (305, 400):  # two resumed sessions of one 95-token step each
        callback = ManifestCallback(record, path, started=0.0)
        callback.on_train_begin(None, state, None)
        state.global_step += 1
        state.log_history.append({"step": state.global_step, "loss": 1.5, "num_tokens": 95.0})
        callback.on_log(None, state, None)
        callback.on_save(type("Args", (), {"output_dir": str(tmp_path)})(), state, None)
        assert LocalTrainManifest.load(path).tokens_seen == total
        assert state.log_history[-1]["num_tokens"] == total  # what the next checkpoint saves

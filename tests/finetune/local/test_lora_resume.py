"""LoRA output and merged export agree; adapters refuse a foreign base; SIGKILL then resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmrec.errors import ConfigError

from .conftest import TEMPLATE


@pytest.fixture(scope="module")
def small_train(private_dir, tiny_data) -> Path:
    from llmrec.finetune.export import export_chat_jsonl

    catalog, dataset = tiny_data
    return export_chat_jsonl(dataset[:16], TEMPLATE, catalog, private_dir / "small.jsonl")


@pytest.fixture(scope="module")
def lora_run(private_dir, tiny_folder, small_train):
    from llmrec.finetune.local import LocalTrainConfig, train_local

    out = private_dir / "lora"
    config = LocalTrainConfig(
        method="lora", lora_r=8, learning_rate=1e-2, epochs=1, batch_size=8, merged=True
    )
    return out, train_local(small_train, str(tiny_folder), out, config=config, progress=False)


def test_lora_folder_names_its_base_and_merged_weights_generate_the_same(
    lora_run, tiny_folder, tiny_data
) -> None:
    from llmrec.local_models import LocalModel

    out, _ = lora_run
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(Path(tiny_folder).resolve())
    assert (out / "adapter_model.safetensors").is_file()
    assert (out / "merged" / "model.safetensors").is_file()
    catalog, dataset = tiny_data
    messages = [TEMPLATE.messages(e.profile, catalog) for e in dataset[:4]]
    adapter = LocalModel(out, device="cpu").generate(messages, max_new_tokens=20)
    merged = LocalModel(out / "merged", device="cpu").generate(messages, max_new_tokens=20)
    assert [r.text for r in adapter] == [r.text for r in merged]
    assert "adapter:" in LocalModel(out, device="cpu").weights


def test_adapter_on_a_foreign_base_is_refused(lora_run, tmp_path, tiny_data) -> None:
    from llmrec.local_models import LocalModel
    from llmrec.testing.tiny_model import build_tiny_model

    out, _ = lora_run
    catalog, _ = tiny_data
    other = build_tiny_model(tmp_path / "other", catalog, seed=1, n_layers=1)
    with pytest.raises(ConfigError, match="was trained on"):
        LocalModel(out, base_model=str(other), device="cpu")


def test_out_folder_of_another_base_is_refused(lora_run, tmp_path, tiny_data, small_train) -> None:
    from llmrec.finetune.local import LocalTrainConfig, train_local
    from llmrec.testing.tiny_model import build_tiny_model

    out, _ = lora_run
    catalog, _ = tiny_data
    other = build_tiny_model(tmp_path / "other", catalog, seed=1, n_layers=1)
    config = LocalTrainConfig(
        method="lora", lora_r=8, learning_rate=1e-2, epochs=1, batch_size=8, merged=True
    )
    with pytest.raises(ConfigError, match="was trained from"):
        train_local(small_train, str(other), out, config=config, progress=False)


def _command(train: Path, model: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "llmrec.cli", "finetune", "local", str(train), "--model",
        str(model), "--out", str(out), "--method", "full", "--epochs", "6", "--batch-size", "8",
        "--lr", "1e-3", "--save-steps", "3", "--quiet",
    ]  # fmt: skip


def test_sigkill_then_same_command_resumes_to_the_same_loss(
    private_dir, tiny_folder, small_train
) -> None:
    """Tolerance: final losses agree within 1e-3 (the data order and RNG state are restored
    from the checkpoint; only float round-off may differ)."""
    tmp_path = private_dir / "resume"
    reference = tmp_path / "reference"
    subprocess.run(_command(small_train, tiny_folder, reference), check=True, capture_output=True)
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        _command(small_train, tiny_folder, out),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not (out / "checkpoints" / "checkpoint-3" / "trainer_state.json").is_file():
        assert proc.poll() is None, "training ended before the first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = json.loads((out / "local-train-manifest.json").read_text())
    assert killed["status"] == "running"
    rerun = subprocess.run(_command(small_train, tiny_folder, out), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    resumed = json.loads((out / "local-train-manifest.json").read_text())
    expected = json.loads((reference / "local-train-manifest.json").read_text())
    assert resumed["status"] == "succeeded"
    assert resumed["resumed_from"] and resumed["resumed_from"][0].startswith("checkpoint-")
    assert resumed["optimizer_steps"] == expected["optimizer_steps"] == 12
    assert resumed["tokens_seen"] == expected["tokens_seen"] > 0  # issue 26, item 6
    assert resumed["losses"][-1]["loss"] == pytest.approx(expected["losses"][-1]["loss"], abs=1e-3)


def test_a_checkpoint_cut_mid_save_is_skipped(tmp_path) -> None:
    """A complete checkpoint holds the trainer state (written last), the weights and the
    optimizer and scheduler states; one cut mid-save (no state) or half removed (no weights,
    issue 26 item 9) is removed and the previous complete one used."""
    from llmrec.finetune.local.train import last_complete_checkpoint

    for step, kind in ((3, "complete"), (6, "cut mid-save"), (9, "half removed")):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        if kind != "half removed":
            (folder / "model.safetensors").write_bytes(b"x")
        for name in ("optimizer.pt", "scheduler.pt"):
            (folder / name).write_bytes(b"x")
        if kind != "cut mid-save":
            (folder / "trainer_state.json").write_text(f'{{"global_step": {step}}}')
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-3")
    assert not (tmp_path / "checkpoint-6").exists() and not (tmp_path / "checkpoint-9").exists()
    assert last_complete_checkpoint(tmp_path / "none") is None

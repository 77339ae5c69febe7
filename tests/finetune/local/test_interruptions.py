"""Local training meets the world (issue 26, items 9 and 10): files that are not UTF-8, a full
disk during a checkpoint, a cleanup cut short, Ctrl-C and SIGTERM, leftover temporary files,
the resume notice, ``--quiet``, and the dry run of DPO on a LoRA folder."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from llmrec.cli import main

from .conftest import TEMPLATE

SETTINGS: dict[str, Any] = {
    "method": "lora",
    "lora_r": 4,
    "learning_rate": 1e-2,
    "epochs": 2,
    "batch_size": 8,
    "save_steps": 1,
}
"""Four optimizer steps on 16 examples, a checkpoint after each."""


@pytest.fixture(scope="module")
def small_file(private_dir, tiny_data) -> Path:
    from llmrec.finetune.formats import CHAT

    catalog, dataset = tiny_data
    return CHAT.export(dataset[:16], TEMPLATE, catalog, private_dir / "interruptions.jsonl")


def _train(train: Path, model: Path, out: Path) -> Any:
    from llmrec.finetune.local import LocalTrainConfig, train_local

    return train_local(train, str(model), out, config=LocalTrainConfig(**SETTINGS), progress=False)


def _manifest(out: Path) -> dict[str, Any]:
    return json.loads((out / "local-train-manifest.json").read_text(encoding="utf-8"))


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith("llmrec: error: "), err
    return lines[0]


# -- item 9: non-UTF-8 files through the command ---------------------------------------------------
@pytest.mark.parametrize("method", ["lora", "dpo"])
def test_a_line_that_is_not_utf8_is_one_error_line_naming_it(
    tiny_folder, small_file, tmp_path, capsys, method
) -> None:
    lines = small_file.read_bytes().splitlines(keepends=True)[:3]
    if method == "dpo":  # the same conversations as preference pairs
        pairs = []
        for raw in lines:
            messages = json.loads(raw)["messages"]
            rejected = {"role": "assistant", "content": "1. Nothing (2000)"}
            pairs.append(
                json.dumps(
                    {
                        "input": {"messages": messages[:-1]},
                        "preferred_output": [messages[-1]],
                        "non_preferred_output": [rejected],
                    }
                ).encode()
                + b"\n"
            )
        lines = pairs
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(lines[0] + lines[1].replace(b"1. ", "1. Amélie ".encode("latin-1"), 1))
    argv = ["finetune", "local", str(bad), "--model", str(tiny_folder), "--method", method]
    assert main([*argv, "--out", str(tmp_path / "out"), "--dry-run", "--quiet"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert f"{bad}, line 2: not UTF-8" in line


# -- item 10: the DPO dry run counts the adapter it will train ------------------------------------
def test_the_dpo_dry_run_on_a_lora_folder_counts_the_adapter(tiny_folder, small_file, tmp_path):
    """The adapter's own parameters (its safetensors file) are what DPO trains, not 0."""
    import peft
    import transformers
    from safetensors import safe_open

    from llmrec.finetune.local import LocalTrainConfig, plan_local
    from llmrec.finetune.local._deps import quiet_peft

    base = transformers.AutoModelForCausalLM.from_pretrained(tiny_folder)
    lora = peft.LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM")
    sft = tmp_path / "sft"
    with quiet_peft():
        peft.get_peft_model(base, lora).save_pretrained(sft)
    transformers.AutoTokenizer.from_pretrained(tiny_folder).save_pretrained(sft)
    with safe_open(str(sft / "adapter_model.safetensors"), "pt") as weights:
        names = weights.keys()
        adapter = sum(math.prod(weights.get_slice(name).get_shape()) for name in names)
    prefs = tmp_path / "prefs.jsonl"
    rows = [json.loads(line)["messages"] for line in small_file.read_text().splitlines()[:4]]
    prefs.write_text(
        "".join(
            json.dumps(
                {
                    "input": {"messages": m[:-1]},
                    "preferred_output": [m[-1]],
                    "non_preferred_output": [{"role": "assistant", "content": "1. No (2000)"}],
                }
            )
            + "\n"
            for m in rows
        )
    )
    plan = plan_local(prefs, str(sft), config=LocalTrainConfig(method="dpo"))
    assert adapter > 0
    assert plan.trainable_parameters == adapter
    assert f"({adapter:,} trained)" in str(plan)


# -- item 9: a full disk while a checkpoint is written --------------------------------------------
def _storage_full() -> Exception:
    """The exceptions the writers raise on a full disk, with the words they use."""
    from safetensors import SafetensorError

    return SafetensorError(
        'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space '
        'left on device" })'
    )


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(_storage_full, id="SafetensorError"),
        pytest.param(
            lambda: RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 64"),
            id="inline_container",
        ),
        pytest.param(lambda: OSError(28, "No space left on device", "optimizer.pt"), id="OSError"),
    ],
)
def test_a_failed_checkpoint_write_is_named_and_says_where_the_run_resumes(
    tmp_path, failure
) -> None:
    """The classification and message of a failed write, for each exception a writer raises
    (no training: the checkpoint folders are made by hand)."""
    from llmrec.finetune.local._runner import _save_failed

    checkpoints = tmp_path / "out" / "checkpoints"
    done = checkpoints / "checkpoint-2"
    done.mkdir(parents=True)
    for name in ("adapter_model.safetensors", "optimizer.pt", "scheduler.pt"):
        (done / name).write_bytes(b"x")
    (done / "trainer_state.json").write_text("{}")
    partial = checkpoints / "checkpoint-3"
    partial.mkdir()
    (partial / "adapter_model.safetensors").write_bytes(b"x")
    error = _save_failed(failure(), "checkpoint-3", tmp_path / "out", checkpoints)
    text = str(error)
    assert "the disk is full; free some space" in text
    assert "resumes from checkpoint-2" in text and str(tmp_path / "out") in text
    assert not partial.exists() and done.exists()


def test_a_full_disk_during_a_checkpoint_keeps_the_run_and_the_rerun_resumes(
    tiny_folder, small_file, tmp_path, monkeypatch, capsys
) -> None:
    """The adapter write of the third checkpoint fails as safetensors fails on a full disk: the
    command prints one line, the manifest keeps checkpoint-2, the partial checkpoint-3 goes, and
    the same call resumes from checkpoint-2 to the same four steps."""
    import peft.peft_model

    real = peft.peft_model.safe_save_file
    calls: list[str] = []

    def full_disk(tensors: Any, filename: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(filename)
        if "checkpoint-3" in str(filename):
            raise _storage_full()
        return real(tensors, filename, *args, **kwargs)

    monkeypatch.setattr(peft.peft_model, "safe_save_file", full_disk)
    out = tmp_path / "run"
    argv = ["finetune", "local", str(small_file), "--model", str(tiny_folder), "--out", str(out)]
    argv += ["--lora-r", "4", "--lr", "1e-2", "--epochs", "2", "--batch-size", "8"]
    argv += ["--save-steps", "1", "--quiet"]
    assert main(argv) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "could not write checkpoint-3" in line and "SafetensorError" in line
    assert "the disk is full" in line and "resumes from checkpoint-2" in line
    record = _manifest(out)
    assert record["status"] == "failed" and "checkpoint-3" in record["error"]
    assert record["last_checkpoint"].endswith("checkpoint-2")
    assert sorted(p.name for p in (out / "checkpoints").glob("checkpoint-*")) == [
        "checkpoint-1",
        "checkpoint-2",
    ]
    monkeypatch.setattr(peft.peft_model, "safe_save_file", real)
    assert main(argv) == 0
    record = _manifest(out)
    assert record["status"] == "succeeded" and record["error"] is None
    assert record["resumed_from"] == ["checkpoint-2"] and record["optimizer_steps"] == 4
    assert not (out / "checkpoints").exists()


# -- item 9: a cleanup cut short after the outputs were saved ------------------------------------
def test_a_checkpoint_half_removed_after_the_outputs_were_saved_is_a_finished_run(
    tiny_folder, small_file, tmp_path, monkeypatch
) -> None:
    """Killed while removing the checkpoints (the last one has lost its weights, not its
    trainer state): the next call returns the finished run and clears the leftovers."""
    from llmrec.finetune.local import _runner

    real_save = _runner._save_outputs

    def cut_short(path: Any, *args: Any, **kwargs: Any) -> None:
        folder = Path(path)
        root = folder if folder.name == "checkpoints" else folder.parent
        for checkpoint in root.glob("checkpoint-*"):
            for name in ("adapter_model.safetensors", "optimizer.pt"):
                (checkpoint / name).unlink(missing_ok=True)
        raise KeyboardInterrupt

    def save_then_kill_the_cleanup(*args: Any, **kwargs: Any) -> None:
        real_save(*args, **kwargs)
        monkeypatch.setattr(shutil, "rmtree", cut_short)

    monkeypatch.setattr(_runner, "_save_outputs", save_then_kill_the_cleanup)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        _train(small_file, tiny_folder, out)
    monkeypatch.undo()
    left = sorted((out / "checkpoints").glob("checkpoint-*"))
    assert left and all((p / "trainer_state.json").is_file() for p in left)
    assert not any((p / "adapter_model.safetensors").exists() for p in left)
    manifest = _train(small_file, tiny_folder, out)
    assert manifest.status == "succeeded" and manifest.optimizer_steps == 4
    assert not (out / "checkpoints").exists()
    assert (out / "adapter_model.safetensors").is_file()


# -- item 10: Ctrl-C marks the run interrupted; temporary files of a killed write go --------------
def test_ctrl_c_marks_the_run_interrupted_and_stale_temporary_files_are_cleared(
    tiny_folder, small_file, tmp_path, monkeypatch
) -> None:
    from llmrec.finetune.local import _callback

    real = _callback.ManifestCallback.on_save

    def ctrl_c_after_the_second_save(self: Any, args: Any, state: Any, *rest: Any, **kw: Any):
        real(self, args, state, *rest, **kw)
        if state.global_step == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(_callback.ManifestCallback, "on_save", ctrl_c_after_the_second_save)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        _train(small_file, tiny_folder, out)
    monkeypatch.undo()
    record = _manifest(out)
    assert record["status"] == "interrupted" and record["optimizer_steps"] == 2
    # what a kill during the manifest's atomic rewrite leaves, and a file of the user's
    stale = out / ".local-train-manifest.json.0123456789ab.tmp"
    stale.write_text('{"status": "runn')
    mine = out / "notes.tmp"
    mine.write_text("mine")
    manifest = _train(small_file, tiny_folder, out)
    assert manifest.status == "succeeded" and manifest.resumed_from == ["checkpoint-2"]
    assert not stale.exists() and mine.exists()


# -- item 10: SIGTERM, the resume notice and --quiet, through the command --------------------------
def _command(train: Path, model: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "llmrec.cli", "finetune", "local", str(train), "--model", str(model),
        "--out", str(out), "--lora-r", "4", "--lr", "1e-2", "--epochs", "2", "--batch-size", "8",
        "--save-steps", "1", *extra,
    ]  # fmt: skip


def test_sigterm_is_recorded_and_the_rerun_says_where_it_resumes(
    tiny_folder, small_file, tmp_path
) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        _command(small_file, tiny_folder, out, "--quiet"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 600
    while not (out / "checkpoints" / "checkpoint-1" / "trainer_state.json").is_file():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 130
    assert stdout == ""  # --quiet: no bars, no library messages; only the one line below
    assert stderr.strip() == "llmrec: interrupted; finished work is kept and a rerun resumes"
    record = _manifest(out)
    assert record["status"] == "interrupted"
    step = record["optimizer_steps"]
    assert 1 <= step < 4
    rerun = subprocess.run(
        _command(small_file, tiny_folder, out), capture_output=True, text=True, timeout=900
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "resuming from step " in rerun.stderr
    assert "{'loss'" not in rerun.stderr + rerun.stdout  # the loss is beside the bar instead
    assert "loss " in rerun.stderr  # ... as the bar's postfix
    assert "resumed from checkpoint-" in rerun.stdout
    assert _manifest(out)["status"] == "succeeded"

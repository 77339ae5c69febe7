"""Local DPO: it moves preferences the right way, its reference is the SFT model, its output
loads, its manifest records the run, a killed run resumes, and files of the wrong kind are
refused before anything loads."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from llmrec.errors import ConfigError

from .conftest import TEMPLATE

N_PAIRS = 24


def _ratings(dataset, n_movies: int):
    """Each user rated their profile; background users make movie m rated by n_movies + 1 - m
    users, so popularity falls with the id."""
    from llmrec.data.ratings import Ratings

    users, movies = [], []
    for example in dataset:
        users += [example.user_id] * len(example.profile)
        movies += list(example.profile)
    for m in range(1, n_movies + 1):
        users += list(range(90_000, 90_000 + n_movies + 1 - m))
        movies += [m] * (n_movies + 1 - m)
    n = len(users)
    return Ratings(users, movies, np.full(n, 5), np.zeros(n, dtype=np.int64))


@pytest.fixture(scope="module")
def dpo_files(private_dir, tiny_data) -> tuple[Path, Path]:
    from llmrec.finetune import export_chat_jsonl, export_preference_jsonl

    catalog, dataset = tiny_data
    subset = dataset[:N_PAIRS]
    chat = export_chat_jsonl(subset, TEMPLATE, catalog, private_dir / "dpo-chat.jsonl")
    summary = export_preference_jsonl(
        subset,
        TEMPLATE,
        catalog,
        private_dir / "dpo-prefs.jsonl",
        rejected="popularity",
        ratings=_ratings(dataset, len(catalog)),
    )
    assert summary.n_pairs == N_PAIRS
    return chat, Path(summary.path or "")


@pytest.fixture(scope="module")
def sft_then_dpo(private_dir, tiny_folder, dpo_files):
    """LoRA SFT on the chat file, then DPO of that adapter on the popularity pairs."""
    from llmrec.finetune.local import LocalTrainConfig, train_local

    chat, prefs = dpo_files
    sft = private_dir / "dpo-sft"
    train_local(
        chat,
        str(tiny_folder),
        sft,
        config=LocalTrainConfig(
            method="lora", lora_r=8, learning_rate=1e-2, epochs=2, batch_size=8, warmup_ratio=0.0
        ),
        progress=False,
    )
    dpo = private_dir / "dpo-out"
    config = LocalTrainConfig(
        method="dpo",
        beta=0.1,
        learning_rate=5e-3,
        lr_scheduler="constant",
        warmup_ratio=0.0,
        epochs=2,
        batch_size=8,
    )
    manifest = train_local(prefs, str(sft), dpo, config=config, progress=False)
    return sft, dpo, manifest


def preference_margin(folder: Path, prefs: Path) -> float:
    """Mean over pairs of log p(chosen | prompt) - log p(rejected | prompt), each summed over
    the assistant tokens (the answer and the template's end of turn), with the model's own
    chat template; computed here, independent of TRL."""
    import torch

    from llmrec.finetune import read_preference_jsonl
    from llmrec.finetune.local._data import render_prompt_completion
    from llmrec.local_models.load import load_model

    loaded = load_model(folder, device="cpu", dtype="float32")
    net, tok = loaded.model, loaded.tokenizer

    def logp(messages: list[dict[str, str]]) -> float:
        prompt, completion = render_prompt_completion(tok, messages)
        p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        c_ids = tok(completion, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([p_ids + c_ids])
        with torch.no_grad():
            logits = net(input_ids=ids).logits[0, :-1].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        targets = ids[0, 1:]
        picked = logprobs[torch.arange(targets.numel()), targets]
        return float(picked[len(p_ids) - 1 :].sum())

    margins = [
        logp([*row.prompt, *row.chosen]) - logp([*row.prompt, *row.rejected])
        for row in read_preference_jsonl(prefs)
    ]
    return sum(margins) / len(margins)


def test_dpo_moves_preferences_towards_the_chosen_answers(sft_then_dpo, dpo_files) -> None:
    """After SFT the model already leans to the gold lists (it was trained on them); DPO must
    widen the chosen-minus-rejected log-probability margin by a clear amount: at least 8 nats
    per pair on average (measured on CPU: 5.5 after SFT, 23.3 after DPO)."""
    _, prefs = dpo_files
    sft, dpo, manifest = sft_then_dpo
    assert manifest.status == "succeeded"
    before = preference_margin(sft, prefs)
    after = preference_margin(dpo, prefs)
    assert after > before + 8.0, (before, after)


def test_the_reference_is_the_sft_model(sft_then_dpo) -> None:
    """At the first step the policy is the SFT model; if the reference is the SFT model too,
    every implicit reward is 0 and the DPO loss is exactly -log sigmoid(0) = ln 2. (A reference
    of the bare base would give another value, since SFT moved the model.)"""
    _, _, manifest = sft_then_dpo
    assert manifest.losses[0].loss == pytest.approx(math.log(2), abs=1e-4)
    assert manifest.losses[-1].loss < math.log(2)


def test_output_is_an_adapter_on_the_base_that_generates(sft_then_dpo, tiny_folder, tiny_data):
    from llmrec.local_models import LocalModel

    sft, dpo, _ = sft_then_dpo
    config = json.loads((dpo / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(Path(tiny_folder).resolve())
    assert not (dpo / "ref").exists()  # the frozen reference copy is not part of the output
    catalog, dataset = tiny_data
    model = LocalModel(dpo, device="cpu")
    answers = model.generate([TEMPLATE.messages(dataset[0].profile, catalog)], max_new_tokens=8)
    assert answers[0].text
    assert model.weights != LocalModel(sft, device="cpu").weights


def test_manifest_records_method_beta_and_reference(sft_then_dpo, dpo_files, tiny_folder):
    from llmrec.finetune.local import LocalTrainManifest
    from llmrec.finetune.manifest import file_sha256
    from llmrec.local_models import folder_sha256

    _, prefs = dpo_files
    sft, dpo, manifest = sft_then_dpo
    saved = LocalTrainManifest.load(dpo / "local-train-manifest.json")
    assert saved == manifest
    assert saved.method == "dpo"
    assert saved.hyperparameters["beta"] == 0.1
    assert saved.reference is not None
    assert saved.reference["kind"] == "adapter"
    # issue 26, item 6: the trained adapter is the SFT one, and its settings are recorded
    adapter = json.loads((Path(sft) / "adapter_config.json").read_text(encoding="utf-8"))
    assert saved.hyperparameters["lora_r"] == adapter["r"] == 8
    assert saved.hyperparameters["lora_alpha"] == adapter["lora_alpha"]
    assert saved.reference["sha256"] == folder_sha256(sft)
    assert saved.base_sha256 == folder_sha256(tiny_folder)
    assert saved.train_file["sha256"] == file_sha256(prefs)
    assert saved.train_file["kept"] == N_PAIRS
    assert saved.optimizer_steps == 2 * N_PAIRS // 8
    sft_manifest = LocalTrainManifest.load(sft / "local-train-manifest.json")
    assert "beta" not in sft_manifest.hyperparameters and sft_manifest.reference is None


def test_a_finished_dpo_run_is_returned_and_another_reference_is_refused(
    sft_then_dpo, dpo_files, tiny_folder
) -> None:
    from llmrec.finetune.local import LocalTrainConfig, train_local

    _, prefs = dpo_files
    sft, dpo, manifest = sft_then_dpo
    same = LocalTrainConfig(
        method="dpo",
        beta=0.1,
        learning_rate=5e-3,
        lr_scheduler="constant",
        warmup_ratio=0.0,
        epochs=2,
        batch_size=8,
    )
    assert train_local(prefs, str(sft), dpo, config=same, progress=False) == manifest
    with pytest.raises(ConfigError, match="reference_sha256"):
        train_local(prefs, str(tiny_folder), dpo, config=same, progress=False)


def test_dry_run_counts_pairs_and_both_answers(sft_then_dpo, dpo_files) -> None:
    from llmrec.finetune.local import LocalTrainConfig, plan_local

    _, prefs = dpo_files
    sft, _, manifest = sft_then_dpo
    plan = plan_local(prefs, str(sft), config=LocalTrainConfig(method="dpo", batch_size=8))
    assert plan.method == "dpo"
    assert plan.examples == N_PAIRS
    assert plan.tokens_per_epoch == manifest.train_file["tokens"]
    assert plan.optimizer_steps == 2 * N_PAIRS // 8
    assert "8 x parameters" in str(plan)


def test_files_of_the_wrong_kind_are_refused(dpo_files, tmp_path) -> None:
    from llmrec.finetune.local import LocalTrainConfig, train_local

    chat, prefs = dpo_files
    missing_model = str(tmp_path / "no-model")  # refused before any model is looked at
    with pytest.raises(ConfigError, match="is a chat file, not a preference file"):
        train_local(chat, missing_model, tmp_path / "a", config=LocalTrainConfig(method="dpo"))
    with pytest.raises(ConfigError, match="is a preference file"):
        train_local(prefs, missing_model, tmp_path / "b", config=LocalTrainConfig(method="lora"))


def _command(prefs: Path, sft: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "llmrec.cli", "finetune", "local", str(prefs), "--method", "dpo",
        "--model", str(sft), "--out", str(out), "--beta", "0.2", "--epochs", "3",
        "--batch-size", "8", "--lr", "2e-3", "--save-steps", "2", "--quiet",
    ]  # fmt: skip


def test_sigkill_then_same_command_resumes_to_the_same_loss(
    private_dir, sft_then_dpo, dpo_files
) -> None:
    """Tolerance: final losses agree within 1e-3 (data order and RNG state come back from the
    checkpoint; the frozen reference is rebuilt from the SFT folder)."""
    _, prefs = dpo_files
    sft, _, _ = sft_then_dpo
    small = private_dir / "dpo-small.jsonl"
    small.write_text("".join(prefs.read_text().splitlines(keepends=True)[:16]))
    root = private_dir / "dpo-resume"
    reference = root / "reference"
    subprocess.run(_command(small, sft, reference), check=True, capture_output=True)
    out = root / "killed"
    proc = subprocess.Popen(
        _command(small, sft, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while not (out / "checkpoints" / "checkpoint-2" / "trainer_state.json").is_file():
        assert proc.poll() is None, "training ended before the first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert json.loads((out / "local-train-manifest.json").read_text())["status"] == "running"
    rerun = subprocess.run(_command(small, sft, out), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    resumed = json.loads((out / "local-train-manifest.json").read_text())
    expected = json.loads((reference / "local-train-manifest.json").read_text())
    assert resumed["status"] == "succeeded"
    assert resumed["resumed_from"] and resumed["resumed_from"][0].startswith("checkpoint-")
    assert resumed["optimizer_steps"] == expected["optimizer_steps"] == 6
    assert resumed["losses"][-1]["loss"] == pytest.approx(expected["losses"][-1]["loss"], abs=1e-3)


def test_dpo_of_a_full_weights_sft_model_trains_a_fresh_adapter_on_it(
    private_dir, trained_full, dpo_files, tiny_data
) -> None:
    """A full SFT folder gets a fresh LoRA adapter whose base is that folder; with LoRA's zero
    B matrices the start is the SFT model, which is also the reference (first loss ln 2)."""
    from llmrec.finetune.local import LocalTrainConfig, train_local
    from llmrec.local_models import LocalModel, folder_sha256

    sft, _ = trained_full
    _, prefs = dpo_files
    small = private_dir / "dpo-full-small.jsonl"
    small.write_text("".join(prefs.read_text().splitlines(keepends=True)[:8]))
    out = private_dir / "dpo-on-full"
    config = LocalTrainConfig(method="dpo", lora_r=4, learning_rate=1e-3, epochs=1, batch_size=8)
    manifest = train_local(small, str(sft), out, config=config, progress=False)
    assert manifest.reference == {
        "path": str(Path(sft).resolve()),
        "kind": "model",
        "sha256": folder_sha256(sft),
    }
    assert manifest.losses[0].loss == pytest.approx(math.log(2), abs=1e-4)
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == str(Path(sft).resolve())
    catalog, dataset = tiny_data
    answers = LocalModel(out, device="cpu").generate(
        [TEMPLATE.messages(dataset[0].profile, catalog)], max_new_tokens=8
    )
    assert answers[0].text

"""Local GRPO: prompts and gold lists from the chat file, the plan, the settings, the reward
rising over the SFT start, and SIGKILL then resume."""

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

from .conftest import FAST as FAST_SFT
from .conftest import TEMPLATE

# the greedy-lift test's epochs over its 48 users (one prompt a step)
GREEDY_EPOCHS = 2

# a short run: answers of 5 titles fit in 48 tokens
GRPO = {
    "method": "grpo",
    "num_generations": 4,
    "max_new_tokens": 48,
    "batch_size": 4,
    "per_device_batch_size": 4,
    "epochs": 1,
    "lr_scheduler": "constant",
    "warmup_ratio": 0.0,
}


@pytest.fixture(scope="module")
def small_users(tiny_data):
    catalog, dataset = tiny_data
    return catalog, dataset[:16]


@pytest.fixture(scope="module")
def small_chat(private_dir, small_users) -> Path:
    from llmrec.finetune.export import export_chat_jsonl

    catalog, dataset = small_users
    return export_chat_jsonl(dataset, TEMPLATE, catalog, private_dir / "grpo-small.jsonl")


@pytest.fixture(scope="module")
def catalog_file(private_dir, tiny_data) -> Path:
    catalog, _ = tiny_data
    return catalog.save(private_dir / "catalog.jsonl")


@pytest.fixture(scope="module")
def sft_start(private_dir, tiny_folder, small_chat) -> Path:
    """The tiny model partly trained with SFT on the 16 users: its greedy answers are lists of
    catalog titles, some of them gold ones (mean NDCG@10 about 0.4; 40 epochs reach 1.0)."""
    from llmrec.finetune.local import LocalTrainConfig, train_local

    out = private_dir / "grpo-sft"
    config = LocalTrainConfig(
        method="full",
        learning_rate=2e-3,
        lr_scheduler="constant",
        warmup_ratio=0.0,
        batch_size=8,
        per_device_batch_size=8,
        epochs=32,
    )
    train_local(small_chat, str(tiny_folder), out, config=config, progress=False)
    return out


def test_grpo_settings_and_their_defaults() -> None:
    from llmrec.finetune.local import LocalTrainConfig

    grpo = LocalTrainConfig(method="grpo")
    assert (grpo.beta, grpo.lr, grpo.reward, grpo.num_generations) == (0.0, 1e-6, "ndcg@10", 8)
    assert grpo.hyperparameters()["reward"] == "ndcg@10"
    assert grpo.hyperparameters()["beta"] == 0.0
    # one prompt's group of answers a step, as TRL's defaults; other methods keep 32 examples
    assert (grpo.batch_size, grpo.device_batch, grpo.accumulation) == (1, 1, 1)
    assert LocalTrainConfig(method="grpo", batch_size=None) == grpo
    assert LocalTrainConfig(method="grpo", batch_size=4).batch_size == 4
    assert LocalTrainConfig(method="lora", batch_size=None).batch_size == 32
    assert LocalTrainConfig(method="dpo").beta == 0.1
    # the other methods' dumps and manifests are those written before GRPO existed
    sft = LocalTrainConfig(method="lora")
    assert "reward" not in sft.model_dump() and "num_generations" not in sft.hyperparameters()
    assert LocalTrainConfig(**sft.model_dump()) == sft
    from llmrec.experiment.config import LocalFineTune, LocalGRPO

    arm = LocalFineTune(model="m").model_dump()
    assert "reward" not in arm and "grpo" not in arm  # SFT arm keys as before GRPO
    assert LocalGRPO().train_config() == LocalTrainConfig(method="grpo")
    with pytest.raises(ValueError, match="beta must be > 0"):
        LocalTrainConfig(method="dpo", beta=0)
    with pytest.raises(ConfigError, match="unknown metric"):
        LocalTrainConfig(method="grpo", reward="nope@5")


def test_prompts_gold_lists_and_profiles_come_from_the_chat_file(
    tiny_folder, small_chat, small_users
) -> None:
    from llmrec.finetune.local import LocalTrainConfig, RankingReward
    from llmrec.finetune.local._model import load_tokenizer
    from llmrec.finetune.local.grpo import read_prompts

    catalog, dataset = small_users
    tokenizer = load_tokenizer(str(tiny_folder), LocalTrainConfig())
    reward = RankingReward(catalog, template=TEMPLATE)
    data = read_prompts(
        tokenizer,
        small_chat,
        reward,
        max_seq_len=1024,
        max_new_tokens=48,
        num_generations=4,
        overlong="error",
    )
    assert [row["gold"] for row in data.rows] == [list(e.gold) for e in dataset]
    assert [row["profile"] for row in data.rows] == [list(e.profile) for e in dataset]
    assert data.rows[0]["prompt"] == TEMPLATE.messages(dataset[0].profile, catalog)
    assert data.tokens == 4 * (data.prompt_tokens + 16 * 48)
    with pytest.raises(ConfigError, match="does not cut prompts"):
        read_prompts(
            tokenizer,
            small_chat,
            reward,
            max_seq_len=64,
            max_new_tokens=48,
            num_generations=4,
            overlong="truncate",
        )


def test_a_gold_list_the_catalog_cannot_resolve_names_its_line(
    tiny_folder, small_chat, tmp_path
) -> None:
    from llmrec.data.catalog import Catalog
    from llmrec.errors import DataFormatError
    from llmrec.finetune.local import LocalTrainConfig, plan_local_grpo

    other = Catalog.from_mapping({1: ("Nothing Here", 1990)})
    with pytest.raises(DataFormatError, match="line 1"):
        plan_local_grpo(
            small_chat, str(tiny_folder), catalog=other, config=LocalTrainConfig(**GRPO)
        )


def test_plan_counts_answers_tokens_steps_and_flops(tiny_folder, small_chat, small_users) -> None:
    from llmrec.finetune.local import LocalTrainConfig, plan_local, plan_local_grpo

    catalog, _ = small_users
    config = LocalTrainConfig(**{**GRPO, "epochs": 2})
    dry = plan_local_grpo(small_chat, str(tiny_folder), catalog=catalog, config=config)
    assert dry.examples == 16
    assert dry.optimizer_steps == 2 * 4  # 16 prompts / 4 a step, 2 epochs
    assert dry.flops_factor == 8
    assert dry.flops == 8 * dry.parameters * dry.tokens
    assert dry.completion_tokens_per_epoch == 4 * 16 * 48
    kl = config.model_copy(update={"beta": 0.1})
    with_kl = plan_local(small_chat, str(tiny_folder), catalog=catalog, config=kl)
    assert with_kl.flops_factor == 10
    with pytest.raises(ConfigError, match="needs the catalog"):
        plan_local(small_chat, str(tiny_folder), config=config)


def _greedy_rewards(folder: Path, catalog, dataset) -> list[float]:
    from llmrec.finetune.local import RankingReward
    from llmrec.local_models import LocalModel

    model = LocalModel(folder, device="cpu", batch_size=16)
    answers = model.generate(
        [TEMPLATE.messages(e.profile, catalog) for e in dataset], max_new_tokens=48
    )
    reward = RankingReward(catalog, template=TEMPLATE)
    return reward.score(
        [a.text for a in answers], [e.gold for e in dataset], [e.profile for e in dataset]
    )


@pytest.fixture(scope="module")
def neighbour_users():
    """48 users of the study's profileData50 truth on the synthetic Netflix data: their gold
    lists share the taste groups' favourites, as real users' do (tiny_data's are random)."""
    from llmrec.experiment.config import SyntheticSource
    from llmrec.experiment.data_source import load_source
    from llmrec.truth import NeighbourTruth

    source = SyntheticSource(kind="synthetic", n_users=600, n_movies=120, n_ratings=20_000, seed=5)
    ratings, catalog = load_source(source, progress=False)
    truth = NeighbourTruth.profile_data_50(n_users=48, seed=0)
    return catalog, truth.build(ratings, progress=False)


@pytest.fixture(scope="module")
def neighbour_sft(private_dir, neighbour_users) -> tuple[Path, Path]:
    """The tiny model on that catalog, partly trained with SFT on the 48 users (6 epochs: greedy
    NDCG@10 about 0.25, room to rise); returns the chat file and the SFT folder."""
    from llmrec.finetune.export import export_chat_jsonl
    from llmrec.finetune.local import LocalTrainConfig, train_local
    from llmrec.testing.tiny_model import build_tiny_model

    catalog, dataset = neighbour_users
    tiny = build_tiny_model(private_dir / "grpo-neighbour-tiny", catalog, template=TEMPLATE)
    chat = export_chat_jsonl(dataset, TEMPLATE, catalog, private_dir / "grpo-neighbour.jsonl")
    out = private_dir / "grpo-neighbour-sft"
    config = LocalTrainConfig(**{**FAST_SFT, "epochs": 6})
    train_local(chat, str(tiny), out, config=config, progress=False)
    return chat, out


@pytest.mark.slow
def test_grpo_raises_the_reward_of_greedy_answers_over_the_sft_start(
    private_dir, neighbour_users, neighbour_sft
) -> None:
    """The bar of the GRPO work, with fixed seeds: GRPO with the reference settings (learning
    rate 1e-4, 8 answers per prompt, beta 0, temperature 1, one prompt a step), here for
    GREEDY_EPOCHS epochs, raises the mean NDCG@10 of the *greedy* answers on the users it
    trained on over the SFT start, by a one-sided paired t-test at p < 0.05."""
    from scipy.stats import ttest_rel

    from llmrec.finetune.local import LocalTrainConfig, train_local

    catalog, dataset = neighbour_users
    chat, sft = neighbour_sft
    out = private_dir / "grpo-learns"
    config = LocalTrainConfig(
        method="grpo",
        learning_rate=1e-4,
        epochs=GREEDY_EPOCHS,
        num_generations=8,
        temperature=1.0,
        max_new_tokens=48,
        full_weights=True,
        save_steps=1000,
    )
    manifest = train_local(chat, str(sft), out, config=config, catalog=catalog, progress=False)
    assert manifest.status == "succeeded" and manifest.method == "grpo"
    assert len(manifest.rewards) == manifest.optimizer_steps == GREEDY_EPOCHS * 48
    assert all(r.kl is None for r in manifest.rewards)  # beta 0: no reference, no KL
    before = _greedy_rewards(sft, catalog, dataset)
    after = _greedy_rewards(out, catalog, dataset)
    assert len(before) == len(after) == 48 and all(0 <= v <= 1 for v in before + after)
    p = ttest_rel(after, before, alternative="greater").pvalue
    assert sum(after) > sum(before) and p < 0.05, (sum(before) / 48, sum(after) / 48, p)


def _command(train: Path, model: Path, catalog: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "llmrec.cli", "finetune", "local", str(train), "--method", "grpo",
        "--model", str(model), "--out", str(out), "--catalog", str(catalog),
        "--reward", "ndcg@10", "--num-generations", "4", "--max-new-tokens", "32",
        "--beta", "0.05", "--temperature", "1.0", "--learning-rate", "1e-4",
        "--epochs", "1", "--batch-size", "4", "--full-weights", "--save-steps", "2",
        "--seed", "3", "--quiet",
    ]  # fmt: skip


@pytest.mark.slow
def test_sigkill_then_same_command_resumes_to_the_same_weights(
    private_dir, sft_start, small_chat, catalog_file
) -> None:
    """Tolerance: weights agree within 1e-4 (sampling, data order and RNG state come back
    from the checkpoint; only float round-off may differ)."""
    import torch
    from safetensors.torch import load_file

    reference = private_dir / "grpo-resume" / "reference"
    done = subprocess.run(
        _command(small_chat, sft_start, catalog_file, reference), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = private_dir / "grpo-resume" / "killed"
    proc = subprocess.Popen(
        _command(small_chat, sft_start, catalog_file, out),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 900
    while not (out / "checkpoints" / "checkpoint-2" / "trainer_state.json").is_file():
        assert proc.poll() is None, "training ended before the first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert json.loads((out / "local-train-manifest.json").read_text())["status"] == "running"
    rerun = subprocess.run(
        _command(small_chat, sft_start, catalog_file, out), capture_output=True, text=True
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "reward (ndcg@10)" in rerun.stdout
    resumed = json.loads((out / "local-train-manifest.json").read_text())
    expected = json.loads((reference / "local-train-manifest.json").read_text())
    assert resumed["resumed_from"] and resumed["optimizer_steps"] == expected["optimizer_steps"]
    assert [r["step"] for r in resumed["rewards"]] == [r["step"] for r in expected["rewards"]]
    assert all(r["kl"] is not None for r in resumed["rewards"])  # beta > 0: KL logged
    got, want = load_file(out / "model.safetensors"), load_file(reference / "model.safetensors")
    assert got.keys() == want.keys()
    for name in want:
        assert torch.allclose(got[name], want[name], atol=1e-4), name

"""Likelihood on a tiny local model: exact log-probabilities, TALLRec's yes/no task learned
offline (AUC), batch-size invariance, a LoRA adapter read through its base."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llmrec.data import Catalog, Movie, Ratings
from llmrec.metrics import auc
from llmrec.prompts import TALLREC_INSTRUCTION
from llmrec.protocols import tallrec
from llmrec.recommenders.transformers_backend import TransformersRecommender

from .conftest import FAST


def _tallrec_set() -> tallrec.TallRecSet:
    """40 users, 12 ratings each over 60 films, window 3: one part holding every window."""
    rng = np.random.default_rng(3)
    catalog = Catalog(Movie(m, f"Film {m}", 1950 + m % 50) for m in range(1, 61))
    users, movies, stars, times = [], [], [], []
    for u in range(40):
        for j, m in enumerate(rng.choice(60, 12, replace=False) + 1):
            users.append(u + 1)
            movies.append(int(m))
            stars.append(int(rng.integers(1, 6)))
            times.append(1_000_000 + 1000 * u + j)
    t = np.asarray(times)
    ratings = Ratings(users, movies, stars, t // 86_400, time=t)
    return tallrec.build(ratings, catalog, window=3, last=None, split=(1.0, 0.0, 0.0)).train


@pytest.fixture(scope="module")
def yes_no_base(private_dir: Path) -> tuple[tallrec.TallRecSet, Path]:
    """The set's 32-row sample and a tiny model whose tokenizer knows the set's text."""
    from llmrec.testing.tiny_model import build_tiny_model

    part = _tallrec_set()
    sample = part.sample(32, seed=0)
    texts = [TALLREC_INSTRUCTION, "Yes.", "No."] + [r["input"] for r in part.to_alpaca()]
    base = build_tiny_model(private_dir / "tiny-yes-no", part.catalog, extra_texts=texts)
    return sample, base


@pytest.fixture(scope="module")
def yes_no(private_dir: Path, yes_no_base) -> tuple[tallrec.TallRecSet, Path, Path]:
    """The base model trained on the sample's chat file (20 epochs: minutes on a loaded
    2-core machine, so only slow tests use it)."""
    from llmrec.finetune.local import LocalTrainConfig, train_local

    sample, base = yes_no_base
    chat = sample.write_chat(private_dir / "yes-no.jsonl")
    out = private_dir / "yes-no-full"
    config = LocalTrainConfig(**{**FAST, "epochs": 20, "learning_rate": 3e-3})
    train_local(chat, str(base), out, config=config, progress=False)
    return sample, base, out


def _backend(model: Path, tmp: Path, **options) -> TransformersRecommender:
    rec = TransformersRecommender(
        model=str(model), device="cpu", cache=tmp / "cache.sqlite", **options
    )
    return rec


def test_sample_and_chat_file(yes_no_base, tmp_path: Path) -> None:
    import json

    sample, _ = yes_no_base
    part = _tallrec_set()
    assert len(sample) == 32
    assert sample.to_alpaca() == part.sample(32, seed=0).to_alpaca()
    assert sample.to_alpaca() != part.sample(32, seed=1).to_alpaca()
    assert len(part.sample(10_000)) == len(part)
    lines = sample.write_chat(tmp_path / "c.jsonl").read_text().splitlines()
    first, row = json.loads(lines[0])["messages"], sample.to_alpaca()[0]
    assert first == [
        {"role": "system", "content": row["instruction"]},
        {"role": "user", "content": row["input"]},
        {"role": "assistant", "content": row["output"]},
    ]


@pytest.mark.slow
def test_trained_model_separates_yes_from_no_untrained_does_not(yes_no, tmp_path: Path) -> None:
    sample, base, trained = yes_no
    rows, labels = sample.to_alpaca(), sample.liked
    assert 0 < labels.sum() < len(labels)
    p_trained = tallrec.score(_backend(trained, tmp_path), rows)
    p_base = tallrec.score(_backend(base, tmp_path), rows)
    assert p_trained.shape == (len(rows),)
    assert ((p_trained > 0) & (p_trained < 1)).all()
    assert auc(labels, p_trained) >= 0.9
    assert abs(auc(labels, p_base) - 0.5) <= 0.2


def test_scores_do_not_depend_on_batch_size_and_are_cached(yes_no_base, tmp_path: Path) -> None:
    sample, base = yes_no_base
    rows = sample.to_alpaca()[:12]
    conversations = [tallrec.chat_messages(r) for r in rows]
    one = _backend(base, tmp_path / "a", batch_size=1, cache_mode="off")
    many = _backend(base, tmp_path / "b", batch_size=7)
    a = one.option_logprobs(conversations, tallrec.YES_NO)
    b = many.option_logprobs(conversations, tallrec.YES_NO)
    assert np.abs(a - b).max() <= 1e-5
    again = many.option_logprobs(conversations, tallrec.YES_NO)
    assert np.array_equal(again, b)  # read back from the cache: the same bits
    answers = [r["output"] for r in rows]
    la, na = one.continuation_logprobs(conversations, answers)
    lb, nb = many.continuation_logprobs(conversations, answers)
    assert np.array_equal(na, nb) and (na >= 1).all()
    assert np.abs(la - lb).max() <= 1e-5


def test_next_token_reading_is_the_continuation_of_one_token(yes_no_base, tmp_path: Path) -> None:
    """ "Yes." as a whole answer: its first token's log-probability is the next-token reading,
    and the whole answer is no more likely than its first token (a brute-force check)."""
    from transformers import AutoTokenizer

    sample, base = yes_no_base
    tok = AutoTokenizer.from_pretrained(base)
    rows = sample.to_alpaca()[:6]
    conversations = [tallrec.chat_messages(r) for r in rows]
    rec = _backend(base, tmp_path, cache_mode="off")
    first = rec.option_logprobs(conversations, ("Yes", "No"))
    yes_ids = tok("Yes", add_special_tokens=False)["input_ids"]
    total, n = rec.continuation_logprobs(conversations, ["Yes"] * len(rows))
    assert (n == len(yes_ids)).all()
    if len(yes_ids) == 1:
        assert np.abs(total - first[:, 0]).max() <= 1e-6
    else:
        assert (total <= first[:, 0] + 1e-6).all()


def test_a_lora_adapter_is_read_on_its_base(yes_no_base, tmp_path: Path) -> None:
    import peft
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmrec._extras import quiet_peft

    sample, base = yes_no_base
    torch.manual_seed(0)
    net = AutoModelForCausalLM.from_pretrained(base)
    config = peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    with quiet_peft():
        lora = peft.get_peft_model(net, config)
    adapter = tmp_path / "adapter"
    lora.save_pretrained(adapter)
    merged_dir = tmp_path / "merged"
    lora.merge_and_unload().save_pretrained(merged_dir)
    AutoTokenizer.from_pretrained(base).save_pretrained(merged_dir)
    conversations = [tallrec.chat_messages(r) for r in sample.to_alpaca()[:8]]
    with_adapter = _backend(adapter, tmp_path / "x", cache_mode="off")
    merged = _backend(merged_dir, tmp_path / "y", cache_mode="off")
    plain = _backend(base, tmp_path / "z", cache_mode="off")
    a = with_adapter.option_logprobs(conversations, tallrec.YES_NO)
    assert np.abs(a - merged.option_logprobs(conversations, tallrec.YES_NO)).max() <= 1e-4
    assert np.abs(a - plain.option_logprobs(conversations, tallrec.YES_NO)).max() > 1e-4

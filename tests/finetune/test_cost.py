"""Prices and cost estimates: worked examples and the billing formula."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmrec.errors import ConfigError, DataFormatError
from llmrec.finetune.cost import estimate_inference_cost, estimate_training_cost
from llmrec.openai_api.prices import (
    PRICES,
    ModelPrice,
    PriceTable,
    inference_cost,
    price_for,
    training_price,
)
from llmrec.openai_api.tokens import count_chat_tokens


def example(i: int) -> dict[str, list[dict[str, str]]]:
    return {
        "messages": [
            {"role": "system", "content": "Recommend movies."},
            {"role": "user", "content": "Heat (1995)\n" * (i + 1)},
            {"role": "assistant", "content": "1. Alien (1979)"},
        ]
    }


def test_default_table_matches_published_prices() -> None:
    assert price_for("gpt-4o-mini-2024-07-18") == ModelPrice(input=0.15, output=0.60, training=3.0)
    assert price_for("gpt-4o-mini").training == 3.0
    ft = price_for("ft:gpt-4o-mini-2024-07-18:my-org:recs:AbC123")
    assert (ft.input, ft.output, ft.training) == (0.30, 1.20, None)
    assert PRICES.as_of


def test_inference_cost_formula_and_batch_discount() -> None:
    usd = inference_cost("gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000)
    assert usd == pytest.approx(0.75)
    assert inference_cost("ft:gpt-4o-mini-2024-07-18:o::x", 2_000_000, 500_000) == pytest.approx(
        0.6 + 0.6
    )
    batch = inference_cost("gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000, batch=True)
    assert batch == pytest.approx(0.375)


def test_unknown_model_and_override() -> None:
    with pytest.raises(ConfigError, match="no price for model 'gpt-9'"):
        price_for("gpt-9")
    with pytest.raises(ConfigError, match="no training price"):
        training_price("ft:gpt-4o-mini-2024-07-18:o::x")
    mine = PriceTable(
        as_of="2030-01-01", models={"gpt-9": ModelPrice(input=1, output=2, training=5)}
    )
    assert inference_cost("gpt-9", 1_000_000, 0, prices=mine) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        ModelPrice(input=-1, output=0)


def test_training_cost_is_tokens_times_epochs_times_price(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    records = [example(i) for i in range(12)]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    counts = [count_chat_tokens(r["messages"]) for r in records]
    est = estimate_training_cost(path, n_epochs=2)
    assert est.n_examples == 12
    assert est.total_tokens == sum(counts)
    assert (est.min_tokens, est.max_tokens) == (min(counts), max(counts))
    assert est.mean_tokens == pytest.approx(sum(counts) / 12)
    assert est.billed_tokens == 2 * sum(counts)
    assert est.usd == pytest.approx(2 * sum(counts) * 3.0 / 1e6)
    assert f"{est.total_tokens:,} tokens" in str(est)
    assert est.to_dict()["billed_tokens"] == est.billed_tokens
    cheap = PriceTable(
        as_of="2030-01-01",
        models={"gpt-4o-mini-2024-07-18": ModelPrice(input=0, output=0, training=1.5)},
    )
    assert estimate_training_cost(path, prices=cheap).usd == pytest.approx(est.usd / 2)
    assert estimate_training_cost(path, n_epochs=3).usd == pytest.approx(est.usd * 1.5)


def test_training_cost_rejects_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(example(0)) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="line 2"):
        estimate_training_cost(path)
    with pytest.raises(ConfigError, match="n_epochs"):
        estimate_training_cost(path, n_epochs=0)


def test_inference_estimate_counts_prompts_exactly() -> None:
    prompts = [example(i)["messages"][:2] for i in range(5)]
    est = estimate_inference_cost(prompts, output_tokens_per_request=70)
    assert est.n_requests == 5
    assert est.input_tokens == sum(count_chat_tokens(p) for p in prompts)
    assert est.output_tokens == 350
    assert est.usd == pytest.approx((est.input_tokens * 0.15 + 350 * 0.60) / 1e6)
    batch = estimate_inference_cost(prompts, output_tokens_per_request=70, batch=True)
    assert batch.usd == pytest.approx(est.usd / 2)
    assert "Batch API" in str(batch)

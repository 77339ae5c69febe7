"""The one OpenAI layer: the key rule, the inference-cost rule, and the deprecated locations."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from llmrec.data.catalog import Catalog, Movie
from llmrec.errors import APIKeyMissingError
from llmrec.openai_api import cost, keys
from llmrec.openai_api.tokens import count_tokens
from llmrec.prompts import PromptTemplate
from llmrec.prompts.formats import render_list


def test_the_key_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-0000")
    assert keys.resolve_api_key(SecretStr("sk-explicit"), endpoint="e") == "sk-explicit"
    assert keys.resolve_api_key(None, endpoint="e") == "sk-env-0000"
    assert keys.resolve_api_key("  ", endpoint="e") == "sk-env-0000"  # empty counts as none
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(
        APIKeyMissingError, match=r"no API key for http://x.*OPENAI_API_KEY.*api_key="
    ):
        keys.resolve_api_key(None, endpoint="http://x")
    assert keys.resolve_api_key(None, endpoint="e", keyless_ok=True) == keys.NO_KEY
    assert not keys.has_api_key() and keys.has_api_key("k")


def test_output_tokens_are_a_k_item_answer_of_the_median_title() -> None:
    catalog = Catalog(
        [Movie(1, "Up", 2009), Movie(2, "The Grand Budapest Hotel", 2014), Movie(3, "Heat", 1995)]
    )
    template = PromptTemplate()
    # token lengths: "Up (2009)" <= "Heat (1995)" < the long one; the median is "Heat"
    want = count_tokens(render_list([("Heat", 1995)] * 4, template.output_format))
    assert cost.expected_output_tokens(4, template=template, catalog=catalog) == want
    as_json = PromptTemplate(output_format="json")
    assert cost.expected_output_tokens(4, template=as_json, catalog=catalog) > want
    assert cost.expected_output_tokens(0, catalog=catalog) <= cost.expected_output_tokens(1)
    assert cost.expected_output_tokens(10) > cost.expected_output_tokens(5) > 0


def test_an_unpriced_model_costs_unknown_not_an_error() -> None:
    prompts = [[{"role": "user", "content": "hello"}]] * 3
    est = cost.estimate_chat_cost(prompts, model="Qwen/Qwen2.5-7B", output_tokens_per_request=5)
    assert est.usd is None and est.n_requests == 3 and est.output_tokens == 15
    priced = cost.estimate_chat_cost(
        prompts, model="gpt-4o-mini", output_tokens_per_request=5, batch=True
    )
    assert priced.usd == pytest.approx((priced.input_tokens * 0.15 + 15 * 0.60) / 1e6 / 2)


def test_old_locations_still_export_the_same_objects() -> None:
    from llmrec.finetune import prices as old_prices
    from llmrec.finetune import tokens as old_tokens
    from llmrec.finetune.cost import estimate_inference_cost
    from llmrec.openai_api import prices, tokens

    with pytest.deprecated_call(match="llmrec.openai_api.prices"):
        assert old_prices.PRICES is prices.PRICES and old_prices.price_for is prices.price_for
    with pytest.deprecated_call(match="import it from llmrec.openai_api.tokens"):
        assert old_tokens.count_chat_tokens is tokens.count_chat_tokens
    assert set(dir(old_tokens)) == set(tokens.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = old_prices.nope
    prompts = [[{"role": "user", "content": "hello"}]]
    assert estimate_inference_cost(prompts).output_tokens == cost.expected_output_tokens(10)


def test_recommenders_do_not_import_finetune() -> None:
    import subprocess
    import sys

    code = (
        "import sys, llmrec.recommenders.openai, llmrec.recommenders.llm.pipeline;"
        "print(sorted(m for m in sys.modules if m.startswith('llmrec.finetune')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

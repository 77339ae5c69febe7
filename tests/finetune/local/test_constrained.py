"""Constrained decoding with random weights: catalog ids only, no repeats, no profile movies."""

from __future__ import annotations

import pytest

from llmrec.data.resolver import TitleResolver
from llmrec.prompts import parse_response

from .conftest import TEMPLATE


@pytest.fixture(scope="module")
def untrained(tiny_folder):
    from llmrec.local_models import LocalModel

    return LocalModel(tiny_folder, device="cpu", batch_size=8)


def test_every_constrained_answer_is_k_catalog_movies(untrained, tiny_data) -> None:
    catalog, dataset = tiny_data
    users = dataset[:12]
    constraint = untrained.constraint(catalog, TEMPLATE)
    answers = untrained.generate(
        [TEMPLATE.messages(e.profile, catalog) for e in users],
        max_new_tokens=120,
        constrained_to=constraint,
        exclude=[e.profile for e in users],
    )
    labels = {m.label() for m in catalog}
    resolver = TitleResolver(catalog)
    for example, answer in zip(users, answers, strict=True):
        parsed = parse_response(answer.text)
        assert answer.finish_reason == "stop"
        assert [i.label() for i in parsed.items] and all(
            i.label() in labels for i in parsed.items
        ), answer.text
        assert len(parsed.items) == TEMPLATE.n_recommendations
        ids = [r.movie_id for r in resolver.resolve_many([(i.title, i.year) for i in parsed.items])]
        assert None not in ids
        assert len(set(ids)) == len(ids)
        assert not set(ids) & set(example.profile)


def test_unconstrained_random_weights_write_no_list(untrained, tiny_data) -> None:
    catalog, dataset = tiny_data
    answer = untrained.generate([TEMPLATE.messages(dataset[0].profile, catalog)], max_new_tokens=30)
    labels = {m.label() for m in catalog}
    assert not any(i.label() in labels for i in parse_response(answer[0].text).items)


def test_output_does_not_depend_on_batch_size(tiny_folder, tiny_data) -> None:
    from llmrec.local_models import LocalModel

    catalog, dataset = tiny_data
    messages = [TEMPLATE.messages(e.profile, catalog) for e in dataset[:9]]
    texts = []
    for batch_size in (1, 4, 9):
        model = LocalModel(tiny_folder, device="cpu", batch_size=batch_size)
        texts.append([r.text for r in model.generate(messages, max_new_tokens=24)])
    assert texts[0] == texts[1] == texts[2]


def test_token_counts_are_exact(untrained, tiny_data) -> None:
    catalog, dataset = tiny_data
    messages = TEMPLATE.messages(dataset[0].profile, catalog)
    [result] = untrained.generate([messages], max_new_tokens=7)
    prompt = untrained.tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True
    )
    assert result.prompt_tokens == len(untrained.tokenizer(prompt)["input_ids"])
    assert result.completion_tokens <= 7


def test_cache_key_names_weights_and_settings(untrained, tiny_folder) -> None:
    from llmrec.local_models import folder_sha256

    assert folder_sha256(tiny_folder) in untrained.weights
    assert untrained.cache_key(max_new_tokens=10) != untrained.cache_key(max_new_tokens=11)
    assert untrained.cache_key(max_new_tokens=10) == untrained.cache_key(max_new_tokens=10)

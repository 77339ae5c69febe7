"""validate_chat_jsonl: OpenAI's checks, each finding on the right line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmrec.errors import ConfigError, DataFormatError, ValidationError
from llmrec.finetune.validate import Finding, validate_chat_jsonl
from llmrec.openai_api.tokens import count_chat_tokens


def good(i: int = 0) -> dict[str, object]:
    return {
        "messages": [
            {"role": "system", "content": "Recommend movies."},
            {"role": "user", "content": f"My favourite: Heat (1995) #{i}"},
            {"role": "assistant", "content": "1. Alien (1979)\n2. Ronin (1998)"},
        ]
    }


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def codes(findings: list[Finding]) -> set[tuple[int, str]]:
    return {(f.line, f.code) for f in findings}


def test_clean_file_passes(tmp_path: Path) -> None:
    path = write(tmp_path / "ok.jsonl", [json.dumps(good(i)) for i in range(12)])
    report = validate_chat_jsonl(path)
    assert report.ok, str(report)
    assert report.n_examples == 12
    assert report.example_tokens == [count_chat_tokens(good(i)["messages"]) for i in range(12)]  # type: ignore[arg-type]
    report.raise_if_invalid()


def _msgs(*pairs: tuple[str, object]) -> list[dict[str, object]]:
    return [{"role": r, "content": c} for r, c in pairs]


def test_each_broken_line_is_reported_on_its_line(tmp_path: Path) -> None:
    sys_user = [("system", "Recommend."), ("user", "Heat (1995)")]
    broken = {
        3: "this is not json",
        4: "[1, 2]",
        5: json.dumps({"messages": []}),
        6: json.dumps({**good(), "metadata": {"user": 1}}),
        7: json.dumps({"messages": _msgs(*sys_user, ("bot", "x"), ("assistant", "1. Alien"))}),
        8: json.dumps({"messages": _msgs(*sys_user, ("assistant", ""))}),
        9: json.dumps({"messages": _msgs(*sys_user)}),
        10: json.dumps(
            {"messages": [*_msgs(*sys_user), {"role": "assistant", "content": "a", "foo": 1}]}
        ),
        11: json.dumps(
            {"messages": [*_msgs(*sys_user), {"role": "assistant", "content": "a", "weight": 2}]}
        ),
        12: "",
        13: json.dumps({"messages": _msgs(*sys_user, ("assistant", 5))}),
        14: json.dumps(
            {"messages": [*_msgs(*sys_user), "hi", {"role": "assistant", "content": "a"}]}
        ),
        15: json.dumps({"prompt": "x", "completion": "y"}),
    }
    lines = [broken.get(n, json.dumps(good(n))) for n in range(1, 21)]
    report = validate_chat_jsonl(write(tmp_path / "bad.jsonl", lines))
    assert report.n_examples == 20
    assert codes(report.findings) == {
        (3, "invalid_json"),
        (4, "not_object"),
        (5, "missing_messages"),
        (6, "unknown_key"),
        (7, "unknown_role"),
        (8, "missing_content"),
        (9, "no_assistant_message"),
        (10, "unknown_key"),
        (11, "invalid_weight"),
        (12, "invalid_json"),
        (13, "missing_content"),
        (14, "message_not_object"),
        (15, "unknown_key"),
        (15, "missing_messages"),
    }
    with pytest.raises(ValidationError) as info:
        report.raise_if_invalid()
    assert len(info.value.findings) == len(report.findings)
    assert "line 7" in str(info.value)


def test_invalid_utf8_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    lines = [json.dumps(good(i)).encode() for i in range(11)]
    lines.insert(4, '{"messages": "caf\xe9"}'.encode("latin-1"))
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = validate_chat_jsonl(path)
    assert codes(report.findings) == {(5, "invalid_json")}


def test_too_few_examples_is_a_file_finding(tmp_path: Path) -> None:
    report = validate_chat_jsonl(write(tmp_path / "few.jsonl", [json.dumps(good())] * 3))
    assert codes(report.findings) == {(0, "too_few_examples")}
    assert str(report.findings[0]).startswith("file:")
    assert validate_chat_jsonl(tmp_path / "few.jsonl", min_examples=3).ok


def test_token_limit_per_example(tmp_path: Path) -> None:
    long = good()
    long["messages"][1]["content"] = "word " * 70_000  # type: ignore[index]
    lines = [json.dumps(good(i)) for i in range(11)]
    lines.insert(7, json.dumps(long))
    report = validate_chat_jsonl(write(tmp_path / "long.jsonl", lines))
    assert codes(report.findings) == {(8, "too_many_tokens")}
    assert report.example_tokens[7] > 65_536
    tight = validate_chat_jsonl(
        tmp_path / "long.jsonl", max_example_tokens=report.example_tokens[0]
    )
    assert (1, "too_many_tokens") not in codes(tight.findings)
    assert (8, "too_many_tokens") in codes(tight.findings)


def test_tool_call_message_may_omit_content(tmp_path: Path) -> None:
    call = {
        "role": "assistant",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    }
    example = {
        "messages": [
            {"role": "user", "content": "hi"},
            call,
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
            {"role": "assistant", "content": "done", "weight": 1},
        ],
        "tools": [],
    }
    report = validate_chat_jsonl(write(tmp_path / "tools.jsonl", [json.dumps(example)] * 10))
    assert report.ok, str(report)


def test_trailing_blank_lines_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "trail.jsonl"
    path.write_text("\n".join(json.dumps(good(i)) for i in range(10)) + "\n\n\n", encoding="utf-8")
    report = validate_chat_jsonl(path)
    assert report.ok and report.n_examples == 10


def test_model_limits(tmp_path: Path) -> None:
    path = write(tmp_path / "ok.jsonl", [json.dumps(good(i)) for i in range(10)])
    assert validate_chat_jsonl(path, model="ft:gpt-4o-mini-2024-07-18:org::abc").ok
    with pytest.raises(ConfigError, match="max_example_tokens"):
        validate_chat_jsonl(path, model="some-new-model")
    assert validate_chat_jsonl(path, model="some-new-model", max_example_tokens=1000).ok
    with pytest.raises(DataFormatError, match="not found"):
        validate_chat_jsonl(tmp_path / "missing.jsonl")

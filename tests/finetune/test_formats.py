"""The fine-tuning format layer: one interface for chat and preference files, one place that
recognises a file and one that maps a method to its format; a new format plugs in."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llmrec
from llmrec._io import atomic_open
from llmrec.cli import main
from llmrec.data import Catalog
from llmrec.errors import ConfigError, DataFormatError
from llmrec.finetune import formats
from llmrec.finetune.formats import (
    CHAT,
    PREFERENCE,
    FileFormat,
    detect_format,
    format_for_method,
    get_format,
    register_format,
    register_method,
    registry,
    require_format,
)
from llmrec.finetune.formats.base import AddFinding, Messages
from llmrec.openai_api.prices import PRICES, training_price
from llmrec.openai_api.tokens import count_chat_tokens
from llmrec.prompts import PromptTemplate
from llmrec.truth import Example, ProfileDataset

CATALOG = Catalog.from_mapping({i: (f"Movie {i}", 1990 + i) for i in range(1, 21)})
DATASET = ProfileDataset(
    [Example(100 + u, (u + 1, u + 2, u + 3), (u + 4, u + 5), 3) for u in range(12)]
)


# -- a toy format, added through the interface ---------------------------------------------------
def _write_completions(
    dataset: ProfileDataset, template: PromptTemplate, catalog: Catalog, path: str | Path
) -> Path:
    """One ``{"prompt": system + user text, "completion": gold list}`` line per example."""
    out = Path(path)
    with atomic_open(out, "w") as handle:
        for example in dataset:
            system, user, assistant = template.training_example(
                example.profile, example.gold, catalog
            )["messages"]
            line = {"prompt": f"{system['content']}\n\n{user['content']}"}
            line["completion"] = assistant["content"]
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    return out


def _read_completions(path: str | Path) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return [(row["prompt"], row["completion"]) for row in rows]


class CompletionFormat(FileFormat):
    """Prompt-completion pairs (TRL's "prompt-completion" standard format)."""

    name = "completion"
    noun = "completion file"
    label = "completion file; "
    default_model = "gpt-4o-mini-2024-07-18"
    token_limits: Mapping[str, int] = {"gpt-4o-mini-2024-07-18": 200}
    shape = "an object with 'prompt' and 'completion' strings"
    validator = "CompletionFormat().validate"
    writer = _write_completions
    reader = _read_completions

    def recognizes(self, first: Mapping[str, Any]) -> bool:
        return {"prompt", "completion"} <= set(first)

    def check(self, example: dict[str, Any], add: AddFinding) -> bool:
        ok = True
        for key in ("prompt", "completion"):
            if not isinstance(example.get(key), str) or not example[key]:
                add("missing_content", f"{key!r} must be a non-empty string")
                ok = False
        return ok

    def sequences(self, example: Mapping[str, Any]) -> list[tuple[str, Messages]]:
        messages: Messages = [
            {"role": "user", "content": str(example.get("prompt", ""))},
            {"role": "assistant", "content": str(example.get("completion", ""))},
        ]
        return [("prompt + completion", messages)]

    def well_formed(self, example: Mapping[str, Any]) -> bool:
        return isinstance(example.get("prompt"), str) and isinstance(example.get("completion"), str)


@pytest.fixture
def toy() -> Iterator[FileFormat]:
    """The toy format registered (and the method ``toy-sft`` training on it), then removed."""
    saved_formats, saved_methods = dict(registry._FORMATS), dict(registry.METHOD_FORMATS)
    fmt = register_format(CompletionFormat())
    register_method("toy-sft", "completion")
    yield fmt
    registry._FORMATS.clear()
    registry._FORMATS.update(saved_formats)
    registry.METHOD_FORMATS.clear()
    registry.METHOD_FORMATS.update(saved_methods)


def test_a_new_format_plugs_in(toy: FileFormat, tmp_path: Path) -> None:
    path = toy.export(DATASET, PromptTemplate(), CATALOG, tmp_path / "toy.jsonl")
    assert detect_format(path) is toy and get_format("completion") is toy
    rows = toy.read(path)
    assert len(rows) == len(DATASET) and rows[0][1] == "1. Movie 4 (1994)\n2. Movie 5 (1995)"

    report = toy.validate(path)
    assert report.ok and report.n_examples == 12
    # every line's count is the chat count of its one conversation (the brute-force reference)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    expected = [
        count_chat_tokens(
            [
                {"role": "user", "content": x["prompt"]},
                {"role": "assistant", "content": x["completion"]},
            ]
        )
        for x in lines
    ]
    assert report.example_tokens == expected

    cost = toy.estimate_cost(path, n_epochs=3)
    assert cost.total_tokens == sum(expected) and cost.billed_tokens == 3 * sum(expected)
    assert cost.usd == pytest.approx(3 * sum(expected) * training_price(toy.default_model) / 1e6)
    assert cost.prices_as_of == PRICES.as_of


def test_a_new_format_gets_its_line_checks_and_limits(toy: FileFormat, tmp_path: Path) -> None:
    path = tmp_path / "toy.jsonl"
    good = {"prompt": "Recommend movies.", "completion": "1. Heat (1995)"}
    lines = [json.dumps(good)] * 11 + [
        json.dumps({"prompt": "", "completion": "x"}),
        "[1, 2]",
        json.dumps({"prompt": "word " * 400, "completion": "x"}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    findings = [(f.line, f.code) for f in toy.validate(path).findings]
    assert findings == [(12, "missing_content"), (13, "not_object"), (14, "too_many_tokens")]
    (message,) = [f.message for f in toy.validate(path).findings if f.line == 14]
    assert message.startswith("prompt + completion has ") and "allows 200 per example" in message
    with pytest.raises(DataFormatError, match="line 13") as info:
        toy.estimate_cost(path)
    assert "expected an object with 'prompt' and 'completion' strings" in str(info.value)
    with pytest.raises(DataFormatError, match="completion file not found"):
        toy.validate(tmp_path / "missing.jsonl")


def test_the_command_line_takes_a_new_format(
    toy: FileFormat, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = toy.export(DATASET, PromptTemplate(), CATALOG, tmp_path / "toy.jsonl")
    assert main(["finetune", "validate", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"completion file; {path}: 12 examples, 0 findings")
    assert main(["finetune", "estimate", str(path), "--epochs", "1"]) == 0
    assert (
        capsys.readouterr().out.strip() == f"completion file; {toy.estimate_cost(path, n_epochs=1)}"
    )


def test_a_new_method_is_checked_against_its_format(toy: FileFormat, tmp_path: Path) -> None:
    chat = CHAT.export(DATASET, PromptTemplate(), CATALOG, tmp_path / "chat.jsonl")
    assert format_for_method("toy-sft") is toy
    with pytest.raises(ConfigError, match="is a chat file, and method 'toy-sft' trains on a"):
        require_format(chat, "toy-sft")
    assert require_format(chat, "lora") is CHAT


# -- the built-in formats and the method table ---------------------------------------------------
@pytest.mark.parametrize(
    ("method", "fmt"),
    [
        ("supervised", CHAT),
        ("sft", CHAT),
        ("lora", CHAT),
        ("qlora", CHAT),
        ("full", CHAT),
        ("dpo", PREFERENCE),
    ],
)
def test_each_method_trains_on_one_format(method: str, fmt: FileFormat) -> None:
    assert format_for_method(method) is fmt


def test_unknown_methods_and_formats_are_named() -> None:
    with pytest.raises(ConfigError, match=r"unknown fine-tuning method 'ppo' \(known: \[.*'dpo'"):
        format_for_method("ppo")
    with pytest.raises(ConfigError, match="unknown fine-tuning file format 'csv'"):
        get_format("csv")
    with pytest.raises(ConfigError, match="unknown fine-tuning file format"):
        register_method("grpo", "csv")


def test_detection_reads_the_first_line(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    cases = {
        '\n{"messages": []}\n': CHAT,
        '{"input": {}, "preferred_output": []}\n': PREFERENCE,
        '{"input": {}, "messages": []}\n': CHAT,  # a chat line with a stray key stays chat
        "not json\n": CHAT,
        "": CHAT,
    }
    for text, expected in cases.items():
        path.write_text(text, encoding="utf-8")
        assert detect_format(path) is expected, text
    assert detect_format(tmp_path / "missing.jsonl") is CHAT


def test_a_chat_conversation_names_its_prompt_and_answer(tmp_path: Path) -> None:
    """What a method training from the chat file's prompts (the gold list as reference) reads."""
    path = CHAT.export(DATASET, PromptTemplate(), CATALOG, tmp_path / "chat.jsonl")
    first = CHAT.read(path)[0]
    assert [m["role"] for m in first.prompt] == ["system", "user"]
    assert first.answer == "1. Movie 4 (1994)\n2. Movie 5 (1995)"


message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant"]), "content": st.text(min_size=1)}
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    chats=st.lists(st.lists(message, min_size=1, max_size=4), min_size=1, max_size=6),
    answers=st.lists(st.tuples(st.text(min_size=1), st.text(min_size=1)), min_size=1),
)
def test_validation_and_price_count_the_same_tokens(
    tmp_path: Path, chats: list[list[dict[str, str]]], answers: list[tuple[str, str]]
) -> None:
    """For either format, the tokens validation counts per example add up to what is priced,
    and equal the chat counts of the conversations the example trains on."""
    chat_file = tmp_path / "chat.jsonl"
    chat_file.write_text("".join(json.dumps({"messages": m}) + "\n" for m in chats), "utf-8")
    pref_lines = [
        {
            "input": {"messages": chats[i % len(chats)]},
            "preferred_output": [{"role": "assistant", "content": good}],
            "non_preferred_output": [{"role": "assistant", "content": bad}],
        }
        for i, (good, bad) in enumerate(answers)
    ]
    pref_file = tmp_path / "prefs.jsonl"
    pref_file.write_text("".join(json.dumps(x) + "\n" for x in pref_lines), "utf-8")
    chat_expected = [count_chat_tokens(m) for m in chats]
    pref_expected = [
        count_chat_tokens([*x["input"]["messages"], *x["preferred_output"]])
        + count_chat_tokens([*x["input"]["messages"], *x["non_preferred_output"]])
        for x in pref_lines
    ]
    for fmt, path, expected in (
        (CHAT, chat_file, chat_expected),
        (PREFERENCE, pref_file, pref_expected),
    ):
        assert detect_format(path) is fmt
        report = fmt.validate(path, max_example_tokens=10**9)
        assert report.example_tokens == expected
        assert fmt.estimate_cost(path).total_tokens == sum(expected)


# -- compatibility ---------------------------------------------------------------------------
def test_the_old_module_paths_give_the_same_objects() -> None:
    from llmrec.finetune import (
        cost,
        export,
        preference_cost,
        preference_file,
        validate,
        validate_preferences,
    )
    from llmrec.finetune.formats import chat, preference, results
    from llmrec.finetune.local import _data

    assert validate.validate_chat_jsonl is not None and validate.Finding is results.Finding
    assert validate.ValidationReport is results.ValidationReport
    assert validate.EXAMPLE_TOKEN_LIMITS is chat.EXAMPLE_TOKEN_LIMITS
    assert cost.TrainingCostEstimate is results.TrainingCostEstimate
    assert export.export_chat_jsonl is chat.export_chat_jsonl
    assert preference_file.read_preference_jsonl is preference.read_preference_jsonl
    assert preference_file.PreferenceRow is formats.PreferenceRow
    assert PREFERENCE.default_model == preference_cost.DPO_DEFAULT_MODEL
    assert preference_cost.preference_sequences is preference.preference_sequences
    assert validate_preferences.PREFERENCE_TOKEN_LIMITS is PREFERENCE.token_limits
    assert _data.read_chat_jsonl is chat.read_chat_jsonl and _data.Conversation is chat.Conversation


def test_file_kind_and_the_method_checks_still_answer(tmp_path: Path) -> None:
    from llmrec.finetune._method_checks import checks_for
    from llmrec.finetune.validate_preferences import file_kind

    path = CHAT.export(DATASET, PromptTemplate(), CATALOG, tmp_path / "chat.jsonl")
    assert file_kind(path) == "chat"
    validate, price = checks_for("supervised")
    assert validate(str(path), "gpt-4o-mini-2024-07-18").ok
    assert price(str(path), "gpt-4o-mini-2024-07-18", 2, None) == CHAT.estimate_cost(path)


def test_no_module_imports_the_deprecated_locations() -> None:
    """``finetune/prices.py`` and ``finetune/tokens.py`` are for users' old imports only."""
    root = Path(llmrec.__file__).parent
    deprecated = {"llmrec.finetune.prices", "llmrec.finetune.tokens"}
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            if deprecated & set(names):
                offenders.append(str(path.relative_to(root)))
    assert offenders == []

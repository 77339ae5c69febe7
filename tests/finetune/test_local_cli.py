"""``llmrec finetune local`` before any model is loaded (issue 26, items 9-11): bad options and
input files are one ``llmrec: error:`` line naming the option, file or line; the preference
reader refuses what the chat reader refuses; every training setting is an option whose default
``--help`` shows."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from llmrec.cli import build_parser, main
from llmrec.errors import DataFormatError
from llmrec.finetune.formats.chat import read_chat_jsonl
from llmrec.finetune.formats.preference import read_preference_jsonl
from llmrec.finetune.local import LocalTrainConfig


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith("llmrec: error: "), err
    return lines[0]


def _chat(answer: str = "1. Heat (1995)", user: str = "Recommend movies.") -> str:
    messages = [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return json.dumps({"messages": messages}, ensure_ascii=False) + "\n"


def _pair(chosen: str = "1. Heat (1995)", rejected: str = "1. Alien (1979)", **extra) -> str:
    messages = [{"role": "user", "content": "Recommend movies."}]
    messages += extra.get("more", [])
    row = {
        "input": {"messages": messages},
        "preferred_output": [{"role": "assistant", "content": chosen}],
        "non_preferred_output": [{"role": "assistant", "content": rejected}],
    }
    return json.dumps(row, ensure_ascii=False) + "\n"


def _local(train: Path, tmp_path: Path) -> list[str]:
    model = str(tmp_path / "no-model")  # every check below comes before a model is looked at
    return ["finetune", "local", str(train), "--model", model, "--out", str(tmp_path / "out")]


# -- item 9: options are checked with the option's name ----------------------------------------
@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--batch-size", "0", "--batch-size: should be greater than or equal to 1, got 0"),
        ("--max-seq-len", "4", "--max-seq-len: should be greater than or equal to 8, got 4"),
        ("--lr", "0", "--lr: should be greater than 0, got 0.0"),
        ("--warmup-ratio", "1.5", "--warmup-ratio: should be less than 1, got 1.5"),
    ],
)
def test_a_bad_training_option_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, words: str
) -> None:
    train = tmp_path / "train.jsonl"
    train.write_text(_chat(), encoding="utf-8")
    assert main([*_local(train, tmp_path), option, value, "--dry-run"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert words in line
    assert "pydantic" not in line and "batch_size" not in line


def test_a_check_across_options_shows_no_dump_of_every_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefs = tmp_path / "prefs.jsonl"
    prefs.write_text(_pair(), encoding="utf-8")
    argv = [*_local(prefs, tmp_path), "--method", "dpo", "--beta", "0", "--dry-run"]
    assert main(argv) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "DPO's beta must be > 0" in line and "'epochs'" not in line


# -- item 9: the file a method trains on, missing or empty ---------------------------------------
def test_a_missing_preference_file_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "prefs.jsonl"
    assert main([*_local(missing, tmp_path), "--method", "dpo", "--dry-run"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert str(missing) in line and "no such file" in line and "preference file" in line
    assert "chat file" not in line


def test_an_empty_preference_file_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "prefs.jsonl"
    empty.write_text("\n \n", encoding="utf-8")
    assert main([*_local(empty, tmp_path), "--method", "dpo", "--dry-run"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert str(empty) in line and "empty" in line and "preference file" in line
    assert "chat file" not in line


def test_a_missing_chat_file_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "train.jsonl"
    assert main([*_local(missing, tmp_path), "--dry-run"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert str(missing) in line and "no such file" in line and "chat file" in line


# -- item 9: files that are not UTF-8 ------------------------------------------------------------
def test_the_chat_reader_names_a_line_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(_chat().encode() + _chat("1. Amélie (2001)").encode("latin-1"))
    with pytest.raises(DataFormatError, match="not UTF-8") as info:
        read_chat_jsonl(path)
    assert (info.value.path, info.value.line) == (str(path), 2)


def test_the_preference_reader_names_a_line_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "prefs.jsonl"
    path.write_bytes(_pair().encode() * 2 + _pair("1. Amélie (2001)").encode("cp1252"))
    with pytest.raises(DataFormatError, match="not UTF-8") as info:
        read_preference_jsonl(path)
    assert (info.value.path, info.value.line) == (str(path), 3)


def test_line_numbers_count_every_kind_of_line_end(tmp_path: Path) -> None:
    """``\\r\\n`` and a lone ``\\r`` end a line as they do for a text-mode read."""
    path = tmp_path / "train.jsonl"
    path.write_bytes(_chat().encode().replace(b"\n", b"\r\n") + b"\r" + b"{not json\n")
    with pytest.raises(DataFormatError, match="not valid JSON") as info:
        read_chat_jsonl(path)
    assert info.value.line == 3


# -- item 10: the preference reader refuses what SFT refuses --------------------------------------
def test_the_preference_reader_refuses_a_tool_turn_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "prefs.jsonl"
    tool = {"role": "tool", "content": "{}", "tool_call_id": "x"}
    path.write_text(_pair() + _pair(more=[tool]), encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"input.messages\[1\] has role 'tool'") as info:
        read_preference_jsonl(path)
    assert info.value.line == 2


def test_the_chat_reader_refuses_a_tool_turn_too(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    messages = [
        {"role": "user", "content": "x"},
        {"role": "tool", "content": "{}"},
        {"role": "assistant", "content": "y"},
    ]
    path.write_text(json.dumps({"messages": messages}) + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="line 1"):
        read_chat_jsonl(path)


def test_the_preference_reader_refuses_a_pair_whose_answers_are_the_same(tmp_path: Path) -> None:
    path = tmp_path / "prefs.jsonl"
    path.write_text(_pair() + _pair() + _pair("1. Heat (1995)", "1. Heat (1995)"), "utf-8")
    with pytest.raises(DataFormatError, match="the same text") as info:
        read_preference_jsonl(path)
    assert (info.value.path, info.value.line) == (str(path), 3)


# -- item 11: every training setting on the command line, its default shown -----------------------
def _local_parser() -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    finetune = sub.choices["finetune"]
    steps = next(a for a in finetune._actions if isinstance(a, argparse._SubParsersAction))
    return steps.choices["local"]


OPTIONS = {  # field: (option, value given, value in the config, default shown)
    "lr_scheduler": ("--lr-scheduler", "cosine", "cosine", "linear"),
    "warmup_ratio": ("--warmup-ratio", "0.1", 0.1, "0.03"),
    "weight_decay": ("--weight-decay", "0.01", 0.01, "0"),
    "lora_dropout": ("--lora-dropout", "0.1", 0.1, "0.05"),
    "lora_target_modules": (
        "--lora-target-modules",
        "q_proj, v_proj",
        ["q_proj", "v_proj"],
        "all-linear",
    ),
    "dtype": ("--dtype", "float32", "float32", "auto"),
    "report_to": ("--report-to", "tensorboard", ["tensorboard"], "none"),
    "save_total_limit": ("--save-total-limit", "3", 3, "2"),
}


@pytest.mark.parametrize("field", sorted(OPTIONS))
def test_each_training_setting_is_an_option_with_its_default_in_the_help(field: str) -> None:
    from llmrec.finetune.local._cli import local_config

    option, text, value, shown = OPTIONS[field]
    parser = _local_parser()
    config = local_config(
        parser.parse_args(["t.jsonl", "--model", "m", "--out", "o", option, text])
    )
    assert getattr(config, field) == value
    action = next(a for a in parser._actions if option in a.option_strings)
    assert f"(default: {shown})" in (action.help or "")
    assert str(LocalTrainConfig.model_fields[field].get_default(call_default_factory=True)) in {
        shown,
        "[]",
        "0.0",
    }


def test_every_setting_of_the_config_is_reachable_from_the_command_line() -> None:
    """Every LocalTrainConfig field but the GRPO ones (their own group) has an option."""
    from llmrec.finetune.local._cli import _option_names

    assert set(LocalTrainConfig.model_fields) <= set(_option_names())


def test_unset_options_keep_the_configs_defaults() -> None:
    from llmrec.finetune.local._cli import local_config

    args = _local_parser().parse_args(["t.jsonl", "--model", "m", "--out", "o"])
    assert local_config(args) == LocalTrainConfig()


def test_report_to_is_not_part_of_a_runs_identity_nor_of_the_default_dump() -> None:
    from llmrec.finetune.local.manifest import EXECUTION_SETTINGS

    assert "report_to" not in LocalTrainConfig().model_dump()
    assert LocalTrainConfig(report_to=["wandb"]).model_dump()["report_to"] == ["wandb"]
    assert "report_to" in EXECUTION_SETTINGS


def test_an_unknown_or_missing_tracker_is_named_before_training() -> None:
    pytest.importorskip("transformers")
    from llmrec.errors import ConfigError
    from llmrec.finetune.local._trainer_args import report_to

    assert report_to(LocalTrainConfig()) == []
    with pytest.raises(ConfigError, match=r"unknown tracker 'tensorbored'.*tensorboard"):
        report_to(LocalTrainConfig(report_to=["tensorbored"]))

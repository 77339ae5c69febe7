"""Issue 11 item 16: ``finetune estimate`` on a file that is not UTF-8 names the file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmrec.cli import main
from llmrec.errors import DataFormatError
from llmrec.finetune.cost import estimate_training_cost


def _example(text: str) -> str:
    messages = [
        {"role": "system", "content": "Recommend movies."},
        {"role": "user", "content": text},
        {"role": "assistant", "content": "Heat (1995)"},
    ]
    return json.dumps({"messages": messages}, ensure_ascii=False) + "\n"


@pytest.fixture
def latin1_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_bytes(_example("Twister").encode() + _example("Café").encode("latin-1"))
    return path


def test_non_utf8_line_is_a_data_format_error(latin1_file: Path) -> None:
    with pytest.raises(DataFormatError, match="not UTF-8") as info:
        estimate_training_cost(latin1_file)
    assert (info.value.path, info.value.line) == (str(latin1_file), 2)


def test_cli_prints_one_error_line(latin1_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["finetune", "estimate", str(latin1_file)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("llmrec: error: ") and "line 2" in err and "Traceback" not in err

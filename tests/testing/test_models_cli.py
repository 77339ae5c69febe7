"""``llmrec models tiny``: the tiny offline test model from the command line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from llmrec.cli import main


def _titles(tmp_path: Path) -> Path:
    path = tmp_path / "movie_titles.csv"
    lines = ["1,2003,Dinosaur Planet", "2,2004,Isle of Man TT 2004 Review", "3,1997,Character"]
    lines += [f"{i},{1950 + i},A Film Called {i}, Part {i % 3}" for i in range(4, 40)]
    path.write_text("\n".join(lines) + "\n", encoding="iso-8859-1")
    return path


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def test_the_command_writes_the_model_build_tiny_model_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("transformers")
    from llmrec.data.netflix import load_titles
    from llmrec.local_models.load import load_model
    from llmrec.testing.tiny_model import build_tiny_model

    titles = _titles(tmp_path)
    out = tmp_path / "tiny"
    assert main(["models", "tiny", str(out), "--catalog", str(titles), "--layers", "1"]) == 0
    printed = capsys.readouterr().out
    assert f"for 39 titles to {out}" in printed and f"--model {out}" in printed
    reference = build_tiny_model(tmp_path / "reference", load_titles(titles), n_layers=1)
    assert _digests(out) == _digests(reference)
    loaded = load_model(out, device="cpu", dtype="float32")
    assert loaded.tokenizer.chat_template and loaded.model.config.num_hidden_layers == 1


def test_help_says_how_to_fine_tune_offline(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["models", "tiny", "--help"])
    text = capsys.readouterr().out
    assert "try local fine-tuning offline" in text and "HF_HUB_OFFLINE=1" in text
    assert "llmrec finetune local train.jsonl --model tiny-model" in text


def test_bad_settings_are_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    titles = _titles(tmp_path)
    out = str(tmp_path / "m")
    assert main(["models", "tiny", out, "--catalog", str(titles), "--hidden-size", "30"]) == 1
    assert capsys.readouterr().err == (
        "llmrec: error: --hidden-size must be a multiple of the 4 attention heads, got 30\n"
    )
    assert main(["models", "tiny", out, "--catalog", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("llmrec: error:") and "nope" in err and "Traceback" not in err

"""Bad input stops with an error that says what to do; the dry run trains nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmrec.errors import ConfigError, DataFormatError


def test_model_without_chat_template_says_how_to_pass_one(tmp_path, tiny_data, train_file) -> None:
    from llmrec.finetune.local import plan_local
    from llmrec.testing.tiny_model import build_tiny_model

    catalog, _ = tiny_data
    bare = build_tiny_model(tmp_path / "bare", catalog, chat_template=None, n_layers=1)
    with pytest.raises(ConfigError, match="chat_template="):
        plan_local(train_file, str(bare))


def test_overlong_examples_are_counted_never_silent(tiny_folder, train_file) -> None:
    from llmrec.finetune.local import LocalTrainConfig, plan_local

    with pytest.raises(DataFormatError, match="longer than max_seq_len=64"):
        plan_local(train_file, str(tiny_folder), config=LocalTrainConfig(max_seq_len=64))
    cut = plan_local(
        train_file, str(tiny_folder), config=LocalTrainConfig(max_seq_len=200, overlong="truncate")
    )
    full = plan_local(train_file, str(tiny_folder), config=LocalTrainConfig(max_seq_len=1024))
    assert cut.overlong > 0 and cut.truncated + cut.dropped == cut.overlong
    assert full.overlong == 0 and cut.tokens_per_epoch < full.tokens_per_epoch


def test_qlora_without_cuda_fails_before_loading(tiny_folder, train_file) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    from llmrec.finetune.local import LocalTrainConfig, plan_local

    with pytest.raises(ConfigError, match="CUDA"):
        plan_local(train_file, str(tiny_folder), config=LocalTrainConfig(method="qlora"))


def test_dry_run_trains_nothing_and_prints_estimates(tiny_folder, train_file, tmp_path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "llmrec.cli", "finetune", "local", str(train_file), "--model",
         str(tiny_folder), "--out", str(out), "--dry-run", "--method", "full"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "optimizer steps:      4" in proc.stdout  # ceil(48 / 32) x 2 epochs
    assert "training FLOPs" in proc.stdout and "GiB" in proc.stdout
    assert not out.exists()


def test_bad_jsonl_names_the_line(tiny_folder, tmp_path) -> None:
    from llmrec.finetune.local import plan_local

    bad = tmp_path / "bad.jsonl"
    good = {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}
    bad.write_text(json.dumps(good) + "\n" + json.dumps({"messages": [{"role": "user"}]}) + "\n")
    with pytest.raises(DataFormatError, match="line 2"):
        plan_local(bad, str(tiny_folder))


def test_missing_extra_names_it() -> None:
    from llmrec.finetune.local._deps import MissingExtraError, require

    with pytest.raises(MissingExtraError, match=r"pip install 'llmrec\[train\]'"):
        require("llmrec_no_such_package")


def test_import_llmrec_loads_no_torch() -> None:
    code = (
        "import sys, llmrec, llmrec.testing, llmrec.finetune.local, llmrec.local_models, "
        "llmrec.cli; print(sorted(m for m in ('torch', 'transformers', 'trl', 'peft') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

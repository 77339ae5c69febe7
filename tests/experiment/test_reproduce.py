"""End to end: ``llmrec reproduce`` on small synthetic data, OpenAI backends on a local server."""

from __future__ import annotations

import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

from llmrec.cli import main
from llmrec.data import netflix
from llmrec.data.synthetic import ensure_synthetic
from llmrec.experiment import ExperimentConfig, run
from llmrec.testing import LocalOpenAIServer

SMALL_DATA = {"kind": "synthetic", "n_users": 1500, "n_movies": 300, "n_ratings": 60_000, "seed": 3}


def _config(base_url: str | None, *, finetune: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "data": SMALL_DATA,
        "truth": {
            "profileData50": {"n_users": 150, "neighbour_min_rating": 5, "watch_factor": 0.5},
            "profileData60": {"n_users": 150, "neighbour_min_rating": 4, "watch_factor": 0.6},
        },
        "n_bootstrap": 200,
        "base_url": base_url,
        "finetune": {"enabled": finetune, "poll_interval": 0.02},
        **extra,
    }


def _popular_answer(folder: Path) -> Any:
    """A stand-in "model": the ten most-rated titles, plus one title that does not exist."""
    ratings = netflix.load_ratings(folder)
    catalog = netflix.load_titles(folder / "movie_titles.csv")
    import numpy as np

    ids, counts = np.unique(ratings.movie_id, return_counts=True)
    top = ids[np.argsort(-counts, kind="stable")][:10]
    lines = [f"{i + 1}. {catalog.label(int(m))}" for i, m in enumerate(top)]
    lines.append("11. The Film That Never Was (2003)")
    text = "Here are my picks:\n" + "\n".join(lines)

    def chat(body: dict[str, Any]) -> str:
        return text

    return chat


@pytest.fixture(scope="module")
def data_folder() -> Path:
    return ensure_synthetic(**{k: v for k, v in SMALL_DATA.items() if k != "kind"})


def _png_ok(path: Path) -> tuple[int, int]:
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", raw[8:16])
    assert kind == b"IHDR"
    crc = struct.unpack(">I", raw[16 + length : 20 + length])[0]
    assert zlib.crc32(raw[12 : 16 + length]) == crc
    width, height = struct.unpack(">II", raw[16:24])
    return width, height


def test_reproduce_end_to_end_with_llm_backends(tmp_path: Path, data_folder: Path) -> None:
    with LocalOpenAIServer(chat=_popular_answer(data_folder), fine_tune_step_seconds=0.02) as srv:
        cfg_path = tmp_path / "study.json"
        cfg_path.write_text(json.dumps(_config(srv.base_url)))
        out = tmp_path / "out"
        assert main(["reproduce", str(cfg_path), "--out", str(out), "--quiet"]) == 0
        n_chat = sum(r.path.endswith("/chat/completions") for r in srv.requests)
        results = json.loads((out / "results.json").read_text())
        for name in ("profileData50", "profileData60"):
            ds = results["datasets"][name]
            n_test = ds["n_test"]
            assert set(ds["metrics"]) == {
                "popularity",
                "itemknn",
                "ease",
                "zero-shot",
                "fine-tuned",
            }
            assert ds["fine_tuned_model"].startswith("ft:gpt-4o-mini")
            diag = ds["llm_diagnostics"]["zero-shot"]
            assert diag["responses"] == n_test
            # one invented title in eleven written
            assert diag["hallucination_rate"] == pytest.approx(1 / 11)
            assert set(ds["comparisons"]) == {"itemknn", "ease", "zero-shot", "fine-tuned"}
        # every test user of both data sets was answered by both LLM backends, and each
        # distinct request was paid for once: the two data sets share users (and so profiles),
        # whose zero-shot answers come from the cache; each fine-tuned model is asked anew
        profiles = {
            name: [
                tuple(json.loads(line)["profile"])
                for line in (out / "truth" / f"{name}.test.jsonl").read_text().splitlines()
            ]
            for name in results["datasets"]
        }
        distinct = len(set(profiles["profileData50"]) | set(profiles["profileData60"]))
        n_fine_tuned = sum(len(p) for p in profiles.values())
        assert distinct < n_fine_tuned  # the shared users make this test meaningful
        assert n_chat == distinct + n_fine_tuned

        # every value of the report's tables is the one in results.json
        report = (out / "report.md").read_text()
        for name, ds in results["datasets"].items():
            section = report.split(f": {name}")[1].split("## Table")[0]
            for label, rep in ds["metrics"].items():
                for metric, c in rep["metrics"].items():
                    cell = f"{c['mean']:.4f} [{c['ci_low']:.4f}, {c['ci_high']:.4f}]"
                    row = next(r for r in section.splitlines() if r.startswith(f"| {metric} |"))
                    cells = [c.strip() for c in row.strip("|").split("|")]
                    header = next(r for r in section.splitlines() if r.startswith("| metric |"))
                    columns = [c.strip() for c in header.strip("|").split("|")]
                    assert cells[columns.index(label)] == cell
        width, height = _png_ok(out / "figure.png")
        assert width > 200 and height > 200
        per_user = (out / "metrics" / "profileData50.per_user.csv").read_text().splitlines()
        assert per_user[0].startswith("backend,user_id,")
        assert len(per_user) == 1 + 5 * results["datasets"]["profileData50"]["n_test"]

        # a second run reuses every stage and sends nothing
        srv.clear_requests()
        second = run(ExperimentConfig.model_validate(_config(srv.base_url)), out, progress=False)
        assert second.ran == []
        assert len(second.reused) >= 2 * (3 + 5)
        assert srv.requests == []
        assert json.loads((out / "results.json").read_text())["datasets"] == results["datasets"]


def test_dry_run_prices_every_paid_step_and_sends_nothing(
    tmp_path: Path, data_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalOpenAIServer() as srv:
        cfg_path = tmp_path / "study.json"
        cfg_path.write_text(json.dumps(_config(srv.base_url)))
        out = tmp_path / "dry"
        assert main(["reproduce", str(cfg_path), "--out", str(out), "--dry-run", "--quiet"]) == 0
        assert srv.requests == []
    printed = capsys.readouterr().out
    assert "nothing was sent" in printed
    steps = [line for line in printed.splitlines() if line.startswith("  - ")]
    # per data set: fine-tuning, zero-shot, fine-tuned
    assert len(steps) == 6
    training = [line for line in steps if "training tokens" in line]
    assert len(training) == 2
    for line in training:
        assert re.search(r"[\d,]+ billed training tokens, \d+\.\d{4} USD", line), line
    for line in set(steps) - set(training):
        assert re.search(
            r"[\d,]+ requests, [\d,]+ input \+ [\d,]+ output tokens, \d+\.\d{4} USD", line
        ), line
    # with a server and fine-tuning enabled, every paid step would run
    assert all("(will run)" in line for line in steps)
    assert "to run  backend:profileData50:fine-tuned" in printed
    assert not (out / "results.json").exists()
    assert (out / "finetune" / "profileData50.train.jsonl").exists()


def test_budget_stops_before_any_paid_step(tmp_path: Path, data_folder: Path) -> None:
    from llmrec.errors import BudgetExceededError

    cfg = ExperimentConfig.model_validate(_config(None, budget_usd=0.0))
    os.environ["OPENAI_API_KEY"] = "sk-test-not-used"
    try:
        with pytest.raises(BudgetExceededError, match="budget"):
            run(cfg, tmp_path / "b", progress=False)
    finally:
        del os.environ["OPENAI_API_KEY"]


def test_without_key_llm_backends_are_skipped_with_their_cost(
    tmp_path: Path, data_folder: Path
) -> None:
    cfg = ExperimentConfig.model_validate(_config(None, finetune=False))
    result = run(cfg, tmp_path / "s", progress=False)
    ds = result.results["datasets"]["profileData50"]
    skipped = {e["label"]: e for e in ds["backends"] if "skipped" in e}
    assert set(skipped) == {"zero-shot", "fine-tuned"}
    assert skipped["zero-shot"]["estimated_cost_usd"] > 0
    assert set(ds["metrics"]) == {"popularity", "itemknn", "ease"}
    assert "skipped" in (tmp_path / "s" / "report.md").read_text()


def test_killed_run_resumes_from_finished_stages(tmp_path: Path, data_folder: Path) -> None:
    cfg_path = tmp_path / "study.json"
    cfg_path.write_text(json.dumps(_config(None, finetune=False)))
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llmrec.cli",
            "reproduce",
            str(cfg_path),
            "--out",
            str(out),
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stages = out / "stages.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if stages.exists() and "split:profileData50" in stages.read_text():
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = set(json.loads(stages.read_text()))
    assert "truth:profileData50" in done_before
    result = run(
        ExperimentConfig.model_validate(json.loads(cfg_path.read_text())), out, progress=False
    )
    assert done_before <= set(result.reused)
    assert (out / "results.json").exists()

"""Every error a user can cause on the command line is one ``llmrec: error:`` line, exit 1
(issue 11, items 16, 20 and 21): output folders that cannot be written, a full disk, missing
data folders, over-budget fine-tuning, unpriced models and options a step does not take."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llmrec.cli import main

TINY = (
    "truth_replace = true\n"
    "[data]\nn_users = 400\nn_movies = 80\nn_ratings = 12000\n"
    "[truth.profileData50]\nn_users = 40\n"
    '[[backends]]\nname = "popularity"\n'
)


def _config(folder: Path, text: str = TINY, name: str = "study.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith("llmrec: error: "), err
    return lines[0]


# -- item 16: output folders ------------------------------------------------------------------
@pytest.mark.parametrize("where", ["is a file", "under a file"])
def test_an_out_folder_that_cannot_be_made_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    config = _config(tmp_path / "cfg")
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    out = blocker if where == "is a file" else blocker / "results"
    for argv in (["reproduce", str(config), "--out", str(out)], ["demo", "--out", str(out)]):
        assert main(argv) == 1
        line = _one_error_line(capsys.readouterr().err)
        assert str(out) in line and "output folder" in line
    assert blocker.read_text() == "not a folder"


def _in_private_mount(
    tmp_path: Path, mount_options: str, script: str
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (sh) with a fresh tmpfs mounted on ``tmp_path/mnt`` in a private mount
    namespace (so a read-only or full file system can be had even as root); skip where the
    machine does not allow it."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) to mount a private tmpfs")
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o {mount_options} tmpfs {mnt}"],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a private tmpfs here: {probe.stderr!r}")
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o {mount_options} tmpfs {mnt} && {script}"],
        capture_output=True,
        text=True,
        env={**os.environ, "MNT": str(mnt)},
    )


def _llmrec() -> str:
    return f"{sys.executable} -c 'import sys; from llmrec.cli import main; sys.exit(main())'"


def test_a_read_only_out_folder_is_one_error_line(tmp_path: Path) -> None:
    config = _config(tmp_path / "cfg")
    done = _in_private_mount(
        tmp_path, "ro,size=1m", f'{_llmrec()} reproduce {config} --out "$MNT/results" --quiet'
    )
    assert done.returncode == 1, done.stderr
    line = _one_error_line(done.stderr)
    assert "results" in line and "Read-only file system" in line


def test_a_full_disk_is_one_error_line_and_keeps_finished_stages(tmp_path: Path) -> None:
    config = _config(tmp_path / "cfg")
    # finish every stage on a real disk, then rerun on a copy on a full file system: the run
    # reuses every stage and fails on its first write (config.json, results, report)
    assert main(["reproduce", str(config), "--out", str(tmp_path / "done"), "--quiet"]) == 0
    done = _in_private_mount(
        tmp_path,
        "size=4m",
        f'cp -a {tmp_path / "done"} "$MNT/results" && '
        '(dd if=/dev/zero of="$MNT/fill" bs=4k 2>/dev/null; true) && '
        f'{_llmrec()} reproduce {config} --out "$MNT/results" --quiet; '
        'rc=$?; ls "$MNT/results/stages.json" >/dev/null && exit $rc',
    )
    assert done.returncode == 1, done.stderr
    line = _one_error_line(done.stderr)
    assert "No space left on device" in line
    assert "free some space" in line


# -- item 16: data folders --------------------------------------------------------------------
def test_a_missing_movielens_folder_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = TINY.replace("[data]\n", f'[data]\nkind = "movielens"\npath = "{tmp_path / "ml"}"\n')
    text = text.replace("n_users = 400\nn_movies = 80\nn_ratings = 12000\n", "")
    config = _config(tmp_path / "cfg", text)
    assert main(["reproduce", str(config), "--out", str(tmp_path / "o"), "--quiet"]) == 1
    assert str(tmp_path / "ml") in _one_error_line(capsys.readouterr().err)


def test_an_unwritable_cache_folder_is_a_warning_and_the_data_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "netflix"
    folder.mkdir()
    (folder / "combined_data_1.txt").write_text("1:\n10,5,2005-01-02\n11,4,2005-03-04\n")
    (folder / "movie_titles.csv").write_text("1,2003,Dinosaur Planet\n")
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("LLMREC_CACHE_DIR", str(blocker / "llmrec"))
    assert main(["data", "stats", str(folder)]) == 0
    captured = capsys.readouterr()
    assert "ratings        2" in captured.out
    assert "Traceback" not in captured.err


# -- item 20: misleading messages -------------------------------------------------------------
def test_a_missing_netflix_folder_is_reported_as_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = TINY.replace("[data]\n", f'[data]\nkind = "netflix"\npath = "{tmp_path / "nf"}"\n')
    text = text.replace("n_users = 400\nn_movies = 80\nn_ratings = 12000\n", "")
    config = _config(tmp_path / "cfg", text)
    assert main(["reproduce", str(config), "--out", str(tmp_path / "o"), "--quiet"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert str(tmp_path / "nf") in line
    assert "movie_titles" not in line


def _chat_file(path: Path, n: int = 12) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            messages = [
                {"role": "system", "content": "You recommend movies."},
                {"role": "user", "content": f"I liked movie {i}. What next?"},
                {"role": "assistant", "content": "1. Dinosaur Planet (2003)"},
            ]
            fh.write(json.dumps({"messages": messages}) + "\n")
    return path


def test_the_over_budget_message_names_the_command_line_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # never reached
    train = _chat_file(tmp_path / "train.jsonl")
    assert main(["finetune", "start", str(train), "--max-cost", "0", "--quiet"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "--max-cost" in line


def test_estimate_with_an_unpriced_model_names_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = _chat_file(tmp_path / "train.jsonl")
    assert main(["finetune", "estimate", str(train), "--model", "my-own-model"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "--model" in line and "my-own-model" in line
    assert "prices=" not in line and "PriceTable" not in line


@pytest.mark.parametrize("step", ["status", "cancel"])
def test_status_and_cancel_take_no_poll_interval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], step: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["finetune", step, str(tmp_path / "m.json"), "--poll-interval", "1"])
    assert info.value.code == 2
    assert "--poll-interval" in capsys.readouterr().err


# -- item 21: where reproduce writes ----------------------------------------------------------
def test_reproduce_writes_into_results_under_the_current_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path / "examples")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["reproduce", str(config), "--dry-run", "--quiet"]) == 0
    assert (work / "results" / "study" / "config.json").is_file()
    assert sorted(p.name for p in (tmp_path / "examples").iterdir()) == ["study.toml"]
    assert str(Path("results") / "study") in capsys.readouterr().out


# -- issue 26, item 9: a truth with no examples is named by reproduce too -----------------------
@pytest.mark.parametrize("kind", ["time_split", "probe"])
def test_a_truth_with_no_examples_stops_reproduce_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """A time-split cutoff after the data, or an empty probe.txt: one line naming the truth and
    the setting, not a later stage failing on an empty file."""
    from llmrec.data.synthetic import ensure_synthetic

    data = ensure_synthetic(tmp_path / "data", n_users=400, n_movies=80, n_ratings=12000)
    (data / "probe.txt").write_bytes(b"")
    truth = (
        'kind = "time_split"\ncutoff = "2030-01-01"' if kind == "time_split" else 'kind = "probe"'
    )
    config = _config(
        tmp_path,
        f'truth_replace = true\n[data]\nkind = "netflix"\npath = "{data}"\n'
        f"[truth.late]\n{truth}\n"
        '[[backends]]\nname = "popularity"\n',
    )
    assert main(["reproduce", str(config), "--out", str(tmp_path / "o"), "--quiet"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert f"[truth.late] (kind = '{kind}') has no examples" in line
    if kind == "time_split":
        assert "cutoff = '2030-01-01' is after the last rating" in line
    else:
        assert "the probe set" in line and "empty" in line

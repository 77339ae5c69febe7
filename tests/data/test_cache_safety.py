"""Issue 11 items 4, 6, 7, 9, 16: the rating cache under races, damage, kills and full disks."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmrec.data import Ratings, _cache, load_ratings, netflix


def _write_source(path: Path, movies: int = 60, per_movie: int = 800, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    parts = []
    for movie in range(1, movies + 1):
        users = rng.integers(1, 2_000_000, per_movie)
        stars = rng.integers(1, 6, per_movie)
        days = rng.integers(1, 28, per_movie)
        parts.append(f"{movie}:\n")
        parts.extend(
            f"{u},{s},2005-03-{d:02d}\n" for u, s, d in zip(users, stars, days, strict=True)
        )
    path.write_text("".join(parts))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "combined_data_1.txt"
    _write_source(path)
    return path


def entries(cache: Path) -> list[Path]:
    return sorted(p for p in cache.iterdir() if not p.name.startswith("."))


def hidden(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if p.name.startswith(".") and p.name != ".lock")


def no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("the files were parsed again")

    monkeypatch.setattr(netflix, "read_records", fail)


# -- item 4: concurrent cold loads ---------------------------------------------------------------
def _load_in_child(path: str, cache: str, barrier: Any, out: Any) -> None:
    barrier.wait(timeout=60)
    try:
        ratings = load_ratings(path, cache_dir=cache)
        out.put(ratings.fingerprint())
    except BaseException as exc:  # report every failure to the parent
        out.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.slow
def test_concurrent_cold_loads_never_crash(source: Path, tmp_path: Path) -> None:
    """Several processes parse and cache the same file at once, a few rounds; all succeed."""
    want = load_ratings(source, cache=False).fingerprint()
    cache = tmp_path / "cache"
    ctx = mp.get_context("spawn")
    for n_procs in (2, 5, 8):
        shutil.rmtree(cache, ignore_errors=True)
        barrier, out = ctx.Barrier(n_procs), ctx.Queue()
        procs = [
            ctx.Process(target=_load_in_child, args=(str(source), str(cache), barrier, out))
            for _ in range(n_procs)
        ]
        for p in procs:
            p.start()
        results = [out.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0
        assert results == [want] * n_procs
        assert len(entries(cache)) == 1
        assert hidden(cache) == []
        assert load_ratings(source, cache_dir=cache).fingerprint() == want


def test_a_writer_that_loses_the_race_keeps_the_winners_entry(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = load_ratings(source, cache_dir=cache)
    (entry,) = entries(cache)
    inode = (entry / "user_id.npy").stat().st_ino
    identity = _cache.source_identity([source], None)
    _cache.write_cache(entry, first, identity)  # a late writer of the same entry
    assert (entry / "user_id.npy").stat().st_ino == inode  # the winner's files were not replaced
    assert hidden(cache) == []


# -- item 6: unreadable columns are rebuilt, writes are flushed ----------------------------------
@pytest.mark.parametrize("column", ["user_id", "date", "rating"])
def test_zero_length_column_is_rebuilt(
    source: Path, tmp_path: Path, column: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = load_ratings(source, cache_dir=cache)
    (entry,) = entries(cache)
    (entry / f"{column}.npy").write_bytes(b"")
    assert load_ratings(source, cache_dir=cache) == first  # parsed again, no EOFError
    no_parsing(monkeypatch)
    assert load_ratings(source, cache_dir=cache) == first  # and the rebuilt entry is used


def test_every_cache_file_and_folder_is_flushed_before_it_is_renamed(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to name file descriptors")
    monkeypatch.setattr(os, "fsync", spy)
    cache = tmp_path / "cache"
    load_ratings(source, cache_dir=cache)
    names = {Path(p).name for p in synced}
    for column in ("user_id", "movie_id", "rating", "date"):
        assert f".{column}.npy.tmp" in names
    assert any(n.startswith(".meta.json.") for n in names)
    assert any(n.startswith(".source.json.") for n in names)
    assert str(cache) in synced  # the folder holding the renamed entry
    assert any(Path(p).name.endswith(".tmp") and Path(p).parent == cache for p in synced)


# -- item 7: silent wrong data -------------------------------------------------------------------
def test_flipped_bit_in_a_column_is_caught(
    source: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    first = load_ratings(source, cache_dir=cache)
    (entry,) = entries(cache)
    path = entry / "movie_id.npy"
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-1000] ^= 0x04
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with caplog.at_level(logging.WARNING, logger="llmrec.data.netflix"):
        again = load_ratings(source, cache_dir=cache)
    assert again == first
    assert "checksums differ" in caplog.text


def test_column_swapped_in_from_another_entry_is_caught(source: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    other = tmp_path / "other" / "combined_data_1.txt"
    other.parent.mkdir()
    _write_source(other, seed=1)  # the same number of ratings, other values
    mine = load_ratings(source, cache_dir=cache)
    theirs = load_ratings(other, cache_dir=cache)
    assert len(mine) == len(theirs) and mine != theirs
    by_source = {e: (e / "source.json").read_text() for e in entries(cache)}
    (my_entry,) = [e for e, text in by_source.items() if str(source.resolve()) in text]
    (their_entry,) = [e for e in by_source if e != my_entry]
    shutil.copy(their_entry / "user_id.npy", my_entry / "user_id.npy")
    assert load_ratings(source, cache_dir=cache) == mine


def test_verify_none_checks_sizes_only(source: Path, tmp_path: Path) -> None:
    """The documented escape hatch: no checksums, so a flipped bit goes unnoticed."""
    cache = tmp_path / "cache"
    first = load_ratings(source, cache_dir=cache)
    (entry,) = entries(cache)
    path = entry / "rating.npy"
    data = bytearray(path.read_bytes())
    data[-1] = 1 + (data[-1] % 5)
    path.write_bytes(bytes(data))
    assert load_ratings(source, cache_dir=cache, verify="none") != first
    assert load_ratings(source, cache_dir=cache) == first


# -- item 9: abandoned temporary folders are pruned ----------------------------------------------
_KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from llmrec.data import load_ratings, ratings

    real = ratings.Ratings.save
    def save_then_die(self, folder):
        real(self, folder)
        os.kill(os.getpid(), signal.SIGKILL)
    ratings.Ratings.save = save_then_die
    load_ratings(sys.argv[1], cache_dir=sys.argv[2])
    """
)


def test_folders_of_killed_writers_are_removed_by_a_later_write(
    source: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-c", _KILLED_WRITER, str(source), str(cache)],
            capture_output=True,
            timeout=120,
        )
        assert proc.returncode == -9
    left = hidden(cache)
    assert len(left) == 2 and all(n.endswith(".tmp") for n in left)
    old = time.time() - 3600
    for name in left:
        os.utime(cache / name, (old, old))
    other = tmp_path / "combined_data_2.txt"
    _write_source(other, movies=3)
    load_ratings(other, cache_dir=cache)  # any later write prunes
    assert hidden(cache) == []


def test_a_live_writers_folder_is_not_pruned(source: Path, tmp_path: Path) -> None:
    import fcntl

    cache = tmp_path / "cache"
    cache.mkdir()
    live = cache / ".0123abcd.feed.tmp"
    live.mkdir()
    old = time.time() - 3600
    os.utime(live, (old, old))
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        load_ratings(source, cache_dir=cache)
        assert live.is_dir()
    finally:
        os.close(fd)
    recent = cache / ".4567abcd.beef.tmp"
    recent.mkdir()  # unlocked but fresh: its writer may be about to lock it
    load_ratings(source, movies=[1], cache_dir=cache)
    assert recent.is_dir() and not live.exists()


# -- item 16: a cache that cannot be written -----------------------------------------------------
def test_unwritable_cache_folder_warns_and_returns_the_parsed_ratings(
    source: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="llmrec.data.netflix"):
        ratings = load_ratings(source, cache_dir=blocker / "ratings")
    assert ratings == load_ratings(source, cache=False)
    assert "could not write the rating cache" in caplog.text


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_cache_folder_warns_and_goes_on(
    source: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o500)
    try:
        with caplog.at_level(logging.WARNING, logger="llmrec.data.netflix"):
            ratings = load_ratings(source, cache_dir=cache)
    finally:
        cache.chmod(0o700)
    assert len(ratings) == 60 * 800
    assert "could not write the rating cache" in caplog.text


_FULL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    from llmrec.data import load_ratings

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))
    print(len(load_ratings(sys.argv[1], cache_dir=sys.argv[2])))
    """
)


@pytest.mark.skipif(os.name != "posix", reason="needs RLIMIT_FSIZE")
def test_full_disk_while_caching_warns_and_returns_the_ratings(
    source: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    proc = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, str(source), str(cache)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == str(60 * 800)
    assert "could not write the rating cache" in proc.stderr
    assert entries(cache) == [] and hidden(cache) == []


def test_ratings_round_trip_through_the_cache_unchanged(source: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    parsed = load_ratings(source, cache_dir=cache)
    cached = load_ratings(source, cache_dir=cache)
    assert isinstance(cached, Ratings) and cached == parsed

"""The binary cache of parsed rating files: one ``Ratings.save`` folder per source identity.

A cache entry is keyed by the identity of its sources (each file's resolved path, size,
``mtime_ns``, inode and ``ctime_ns``, plus the ``movies`` filter and the parser version), so
editing, replacing or touching a source file selects a new entry; restoring size and mtime after
an edit still changes the ctime. The identity is stored inside the entry (``source.json``) with a
64-bit checksum of every column, and both are compared on each read: an
entry that does not match, or that cannot be read for any reason, is treated as absent and
rebuilt, never trusted.

Writers never disturb each other or a reader: an entry is written into a hidden temporary folder
beside it (``.<digest>.<random>.tmp``), flushed to disk, and renamed into place while holding a
lock on the cache folder (``.lock``). A process that finds a good entry already there (another
process won the race) keeps that one and discards its own; only an entry found damaged under the
lock is replaced. Temporary folders left by killed writers are removed by later writes once they
are a minute old and no live writer holds them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np

from llmrec import _paths
from llmrec._io import fsync_dir, write_json_atomic
from llmrec.data._parse import checksum
from llmrec.data.ratings import Ratings

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks; writers still never clash
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CACHE_VERSION",
    "Verify",
    "cache_entry",
    "column_checksums",
    "read_cache",
    "source_identity",
    "try_write_cache",
    "write_cache",
]

CACHE_VERSION = "netflix-ratings/2"
"""Bumped whenever parsing rules or the entry layout change, so older entries are not reused."""

Verify = Literal["full", "none"]
"""``"full"``: check every column's checksums on each read; ``"none"``: sizes and dtypes only."""

_SOURCE = "source.json"
_LOCK = ".lock"
_COLUMNS = ("user_id", "movie_id", "rating", "date")
_STALE_SECONDS = 60.0
_log = logging.getLogger("llmrec.data.netflix")


def source_identity(files: Sequence[Path], movies: Iterable[int] | None) -> dict[str, Any]:
    """What a cache entry was built from: path, size, mtime, inode and ctime per file, in order."""
    entries = []
    for f in files:
        st = f.stat()
        entries.append(
            {
                "path": str(f.resolve()),
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "inode": st.st_ino,
                "ctime_ns": st.st_ctime_ns,
            }
        )
    return {
        "version": CACHE_VERSION,
        "files": entries,
        "movies": None if movies is None else sorted({int(m) for m in movies}),
    }


def cache_entry(identity: dict[str, Any], cache_dir: str | Path | None = None) -> Path:
    """The entry folder for ``identity``: ``<cache_dir or llmrec cache>/ratings/<sha256>``."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]
    base = _paths.cache_dir("ratings") if cache_dir is None else _paths.expand_path(cache_dir)
    return base / digest


# -- checksums -----------------------------------------------------------------------------------
def column_checksums(ratings: Ratings) -> dict[str, str]:
    """A 64-bit checksum of each column's bytes (:func:`llmrec.data._parse.checksum`).

    A flipped bit anywhere, or a column swapped in from another table of the same length,
    changes the column's checksum. The C kernel runs at several GB/s and releases the GIL, so
    the columns are summed in parallel.
    """
    names = _present(ratings)
    arrays = [np.ascontiguousarray(getattr(ratings, name)).view(np.uint8) for name in names]
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        sums = list(pool.map(checksum, arrays))
    return {name: f"{value:016x}" for name, value in zip(names, sums, strict=True)}


def _present(ratings: Ratings) -> tuple[str, ...]:
    """The four base columns, and ``time`` when the table has it."""
    return _COLUMNS if ratings.time is None else (*_COLUMNS, "time")


# -- reading -------------------------------------------------------------------------------------
def _npy_sizes_match(entry: Path, n_rows: int, names: tuple[str, ...]) -> bool:
    """Each ``.npy`` file is exactly header + data long (trailing bytes mean a damaged file)."""
    fmt = np.lib.format
    for name in names:
        path = entry / f"{name}.npy"
        with open(path, "rb") as fh:
            major, _ = fmt.read_magic(fh)
            read_header = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
            shape, _, dtype = read_header(fh)
            expected = fh.tell() + n_rows * dtype.itemsize
        if shape != (n_rows,) or path.stat().st_size != expected:
            return False
    return True


def _check(entry: Path, identity: dict[str, Any], verify: Verify) -> Ratings | str | None:
    """The entry's ratings, ``None`` if there is no entry, or why it cannot be used."""
    try:
        stored = json.loads((entry / _SOURCE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except Exception as exc:  # anything unreadable means: rebuild
        return f"damaged {_SOURCE}: {exc}"
    if not isinstance(stored, dict) or stored.get("identity") != identity:
        return "built from other sources"
    try:
        ratings = Ratings.load(entry, mmap=True)
        if not _npy_sizes_match(entry, len(ratings), _present(ratings)):
            return "column file sizes are wrong"
        if verify == "full" and column_checksums(ratings) != stored.get("checksums"):
            return "column checksums differ: the columns were altered"
    except Exception as exc:  # a zero-length, truncated or unreadable column: rebuild
        return f"{type(exc).__name__}: {exc}"
    return ratings


def read_cache(entry: Path, identity: dict[str, Any], *, verify: Verify = "full") -> Ratings | None:
    """The cached :class:`Ratings` (memory-mapped) if ``entry`` is complete, intact and matches.

    Any failure to read the entry is logged as a warning and reported as a miss (``None``).
    """
    found = _check(entry, identity, verify)
    if isinstance(found, str):
        _log.warning("ignoring rating cache %s: %s; it will be rebuilt", entry, found)
        return None
    return found


# -- writing -------------------------------------------------------------------------------------
@contextlib.contextmanager
def _locked(path: Path, fd: int | None = None) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (a file created if missing) or on ``fd``."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    own = fd is None
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o666) if fd is None else fd
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        if own:
            os.close(handle)  # closing releases the lock


def _is_abandoned(folder: Path) -> bool:
    """A temporary folder is abandoned when it is old and no live writer holds its lock."""
    try:
        if time.time() - folder.stat().st_mtime < _STALE_SECONDS:
            return False
        if fcntl is None:  # pragma: no cover - Windows: age alone decides, after a day
            return time.time() - folder.stat().st_mtime > 86_400
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # a live writer holds it
    finally:
        os.close(fd)
    return True


def _prune(parent: Path, entry: Path, identity: dict[str, Any]) -> None:
    """Remove abandoned temporary folders, and entries of earlier versions of the same files.

    Without this every killed write, and every edit of a source file, would leave a full-size
    folder behind. Runs under the cache folder's lock.
    """
    same = ([f["path"] for f in identity["files"]], identity["movies"])
    for other in parent.iterdir():
        if other == entry or not other.is_dir():
            continue
        if other.name.startswith("."):
            if other.name.endswith((".tmp", ".old")) and _is_abandoned(other):
                _log.info("removing an abandoned rating cache folder %s", other)
                shutil.rmtree(other, ignore_errors=True)
            continue
        try:
            stored = json.loads((other / _SOURCE).read_text(encoding="utf-8"))["identity"]
            key = ([f["path"] for f in stored["files"]], stored["movies"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if key == same:
            shutil.rmtree(other, ignore_errors=True)


def write_cache(entry: Path, ratings: Ratings, identity: dict[str, Any]) -> None:
    """Write ``ratings`` and ``identity`` as ``entry``, atomically, without disturbing others.

    The entry is written aside, flushed, and renamed into place under the cache folder's lock.
    If a good entry is already there (another process finished first), it is kept and this copy
    is discarded; a damaged one is moved aside and removed. Raises ``OSError`` if the cache
    folder cannot be written (see :func:`try_write_cache`).
    """
    parent = entry.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{entry.name}.{secrets.token_hex(6)}.tmp"
    tmp.mkdir()
    fd = os.open(tmp, os.O_RDONLY) if fcntl is not None else None
    try:
        with _locked(tmp, fd):  # tells pruners that this folder is alive
            ratings.save(tmp)
            write_json_atomic(
                tmp / _SOURCE, {"identity": identity, "checksums": column_checksums(ratings)}
            )
            fsync_dir(tmp)
            with _locked(parent / _LOCK):
                _publish(tmp, entry, identity)
                _prune(parent, entry, identity)
    finally:
        if fd is not None:
            os.close(fd)
        shutil.rmtree(tmp, ignore_errors=True)  # gone already when it was renamed into place


def _publish(tmp: Path, entry: Path, identity: dict[str, Any]) -> None:
    found = _check(entry, identity, "full")
    if isinstance(found, Ratings):
        _log.info("rating cache %s was written by another process meanwhile; keeping it", entry)
        return
    if found is not None or entry.exists():  # a damaged entry is in the way: move it aside
        old = entry.parent / f".{entry.name}.{secrets.token_hex(6)}.old"
        os.rename(entry, old)
        shutil.rmtree(old, ignore_errors=True)
    os.rename(tmp, entry)
    fsync_dir(entry.parent)


def try_write_cache(entry: Path, ratings: Ratings, identity: dict[str, Any]) -> bool:
    """:func:`write_cache`, but a cache that cannot be written (read-only, disk full) is a
    warning, not an error: the ratings were parsed correctly and are returned uncached."""
    try:
        write_cache(entry, ratings, identity)
    except OSError as exc:
        _log.warning(
            "could not write the rating cache %s (%s); continuing without it. Set "
            "LLMREC_CACHE_DIR or cache_dir= to a writable folder, or pass cache=False.",
            entry,
            exc,
        )
        return False
    return True

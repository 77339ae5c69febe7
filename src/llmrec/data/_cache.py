"""The binary cache of parsed rating files: one ``Ratings.save`` folder per source identity.

A cache entry is keyed by the identity of its sources (each file's resolved path, size and
``mtime_ns``, plus the ``movies`` filter and the parser version), so editing, replacing or
touching a source file selects a new entry. The identity is also stored inside the entry
(``source.json``) and compared on every read; an entry that does not match, or whose columns are
missing, truncated, of the wrong dtype or length, is treated as absent and rebuilt, never
trusted. Entries are written into a temporary folder and renamed into place, so readers see a
complete entry or none.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llmrec import _paths
from llmrec._io import write_json_atomic
from llmrec.data.ratings import Ratings
from llmrec.errors import DataFormatError

__all__ = ["CACHE_VERSION", "cache_entry", "read_cache", "source_identity", "write_cache"]

CACHE_VERSION = "netflix-ratings/1"
"""Bumped whenever parsing rules change, so entries made by older rules are not reused."""

_SOURCE = "source.json"
_log = logging.getLogger("llmrec.data.netflix")


def source_identity(files: Sequence[Path], movies: Iterable[int] | None) -> dict[str, Any]:
    """What a cache entry was built from: resolved path, size and mtime_ns per file, in order."""
    entries = []
    for f in files:
        st = f.stat()
        entries.append({"path": str(f.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    return {
        "version": CACHE_VERSION,
        "files": entries,
        "movies": None if movies is None else sorted({int(m) for m in movies}),
    }


def cache_entry(identity: dict[str, Any], cache_dir: str | Path | None = None) -> Path:
    """The entry folder for ``identity``: ``<cache_dir or llmrec cache>/ratings/<sha256>``."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]
    base = _paths.cache_dir("ratings") if cache_dir is None else Path(cache_dir)
    return base / digest


def _npy_sizes_match(entry: Path, n_rows: int) -> bool:
    """Each ``.npy`` file is exactly header + data long (trailing bytes mean a damaged file)."""
    fmt = np.lib.format
    for name in ("user_id", "movie_id", "rating", "date"):
        path = entry / f"{name}.npy"
        with open(path, "rb") as fh:
            major, _ = fmt.read_magic(fh)
            read_header = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
            shape, _, dtype = read_header(fh)
            expected = fh.tell() + n_rows * dtype.itemsize
        if shape != (n_rows,) or path.stat().st_size != expected:
            return False
    return True


def read_cache(entry: Path, identity: dict[str, Any]) -> Ratings | None:
    """The cached :class:`Ratings` (memory-mapped) if ``entry`` is complete and matches."""
    try:
        stored = json.loads((entry / _SOURCE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        _log.warning("ignoring damaged rating cache %s: %s", entry, exc)
        return None
    if stored != identity:
        _log.warning("ignoring rating cache %s: built from other sources", entry)
        return None
    try:
        ratings = Ratings.load(entry, mmap=True)
        intact = _npy_sizes_match(entry, len(ratings))
    except (DataFormatError, OSError, ValueError) as exc:
        _log.warning("ignoring damaged rating cache %s: %s", entry, exc)
        return None
    if not intact:
        _log.warning("ignoring damaged rating cache %s: column file sizes are wrong", entry)
        return None
    return ratings


def write_cache(entry: Path, ratings: Ratings, identity: dict[str, Any]) -> None:
    """Write ``ratings`` and ``identity`` as ``entry``, atomically (temporary folder + rename).

    A damaged entry in the way is removed first. If another process finished the same entry
    meanwhile, its copy is kept.
    """
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", suffix=".tmp", dir=entry.parent))
    try:
        ratings.save(tmp)
        write_json_atomic(tmp / _SOURCE, identity)
        if entry.exists():
            shutil.rmtree(entry)
        try:
            os.replace(tmp, entry)
        except OSError:  # another writer won the race; its entry is equally valid
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
        raise
    _prune_stale(entry, identity)


def _prune_stale(entry: Path, identity: dict[str, Any]) -> None:
    """Remove sibling entries built from earlier versions of the same files and filter.

    Without this every edit of a source file would leave a full-size entry behind.
    """
    same = ([f["path"] for f in identity["files"]], identity["movies"])
    for other in entry.parent.iterdir():
        if other == entry or other.name.startswith(".") or not other.is_dir():
            continue
        try:
            stored = json.loads((other / _SOURCE).read_text(encoding="utf-8"))
            key = ([f["path"] for f in stored["files"]], stored["movies"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if key == same:
            shutil.rmtree(other, ignore_errors=True)

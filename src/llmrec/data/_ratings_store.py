"""The on-disk layout of a saved :class:`~llmrec.data.Ratings` folder.

``llmrec-ratings/2`` (written now): one ``.npy`` file per column, ``meta.json`` last with
``{"format", "columns", "n_ratings", "fingerprint"}``. ``columns`` lists the four base columns
plus ``time`` when present, and ``user_source_ids`` / ``movie_source_ids`` when the table maps
string ids (each saved as ``NAME.buffer.npy`` and ``NAME.offsets.npy``).
``llmrec-ratings/1`` (written before time and source ids existed) is the four base columns
only; it is read as a table without them, so old folders and caches keep working.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from llmrec._io import fsync_dir, write_json_atomic
from llmrec.data.source_ids import SourceIds
from llmrec.errors import DataFormatError

FORMAT = "llmrec-ratings/2"
_OLD_FORMAT = "llmrec-ratings/1"
_ID_MAPS = ("user_source_ids", "movie_source_ids")


def _write_npy(out: Path, name: str, arr: Any) -> None:
    tmp = out / f".{name}.npy.tmp"
    with open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(out / f"{name}.npy")


def save(
    folder: str | Path,
    columns: Mapping[str, Any],
    extras: Mapping[str, Any],
    n: int,
    fingerprint: str,
) -> Path:
    """Write ``columns`` and the non-``None`` ``extras``, then ``meta.json`` (see the module)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    names = list(columns)
    for name, arr in columns.items():
        _write_npy(out, name, arr)
    if extras.get("time") is not None:
        _write_npy(out, "time", extras["time"])
        names.append("time")
    for name in _ID_MAPS:
        ids = extras.get(name)
        if ids is not None:
            _write_npy(out, f"{name}.buffer", ids.buffer)
            _write_npy(out, f"{name}.offsets", ids.offsets)
            names.append(name)
    write_json_atomic(
        out / "meta.json",
        {"format": FORMAT, "columns": names, "n_ratings": n, "fingerprint": fingerprint},
    )
    fsync_dir(out)
    return out


def _read_npy(path: Path, mmap: bool) -> Any:
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:  # EOFError: a zero-length file
        raise DataFormatError(f"cannot read column {path.stem!r}: {exc}", path=path) from None


def _column(path: Path, dtype: np.dtype[Any], n: Any, mmap: bool) -> Any:
    arr = _read_npy(path, mmap)
    if arr.dtype != dtype or arr.ndim != 1 or arr.shape[0] != n:
        raise DataFormatError(
            f"column {path.stem!r} has dtype {arr.dtype} and shape {arr.shape}, expected "
            f"{dtype} and ({n},)",
            path=path,
        )
    return arr


def load(
    folder: str | Path, base: Mapping[str, np.dtype[Any]], time_dtype: np.dtype[Any], *, mmap: bool
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The base columns, the extras (keyword arguments of ``Ratings``) and ``meta.json``."""
    src = Path(folder)
    meta_path = src / "meta.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFormatError("not a saved Ratings folder: meta.json missing", path=src) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"damaged meta.json: {exc}", path=meta_path) from None
    if not isinstance(meta, dict) or meta.get("format") not in (FORMAT, _OLD_FORMAT):
        raise DataFormatError("unknown Ratings format", path=meta_path, text=str(meta)[:80])
    listed = list(base) if meta["format"] == _OLD_FORMAT else meta.get("columns")
    known = [*base, "time", *_ID_MAPS]
    if not isinstance(listed, list) or any(c not in known for c in listed):
        raise DataFormatError(
            f"meta.json lists unknown columns; expected some of {known}",
            path=meta_path,
            text=str(listed)[:80],
        )
    if any(c not in listed for c in base):
        raise DataFormatError(f"meta.json must list the columns {list(base)}", path=meta_path)
    n = meta.get("n_ratings")
    cols = {name: _column(src / f"{name}.npy", dtype, n, mmap) for name, dtype in base.items()}
    extras: dict[str, Any] = {}
    if "time" in listed:
        extras["time"] = _column(src / "time.npy", time_dtype, n, mmap)
    for name in _ID_MAPS:
        if name in listed:
            buffer = _read_npy(src / f"{name}.buffer.npy", mmap)
            offsets = _read_npy(src / f"{name}.offsets.npy", mmap)
            try:
                extras[name] = SourceIds.from_arrays(buffer, offsets)
            except ValueError as exc:
                raise DataFormatError(f"damaged {name}: {exc}", path=src) from None
    return cols, extras, meta


def altered(folder: str | Path) -> DataFormatError:
    return DataFormatError("fingerprint mismatch: the saved columns were altered", path=folder)

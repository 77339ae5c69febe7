"""Resumable neighbour-truth builds: finished chunks of targets kept on disk.

Every user of Netflix (about 470k targets) takes minutes; a killed build should not start over.
With a ``checkpoint`` folder, the targets are cut into fixed chunks (in target order) and each
finished chunk is written there atomically (``chunk-NNNNNN.npz``) before the next results are
used. A rerun with the same folder, ratings and configuration loads the finished chunks and
computes only the others; the assembled truth is identical to an uninterrupted build, because a
target's result never depends on the chunk or batch it falls in.

``manifest.json`` records what the chunks belong to (format, configuration, ratings fingerprint,
a hash of the target list, chunk size); a folder written for anything else is refused with a
:class:`~llmrec.errors.ConfigError` naming the differing field, never mixed in.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from llmrec._io import atomic_open, write_json_atomic
from llmrec.errors import ConfigError, DataFormatError
from llmrec.truth._batch import BatchResult

__all__ = ["ChunkStore", "merge_results"]

_FORMAT = "llmrec-truth-chunks/1"
_FIELDS = ("targets", "status", "n_neighbours", "profile", "profile_ptr", "gold", "gold_ptr")


def merge_results(parts: list[BatchResult]) -> BatchResult:
    """One result for consecutive batches (offsets shifted; neighbour lists not kept)."""

    def ptr(name: str) -> npt.NDArray[np.int64]:
        out = [np.zeros(1, np.int64)]
        base = 0
        for p in parts:
            arr = getattr(p, name)
            out.append(arr[1:] + base)
            base += int(arr[-1])
        return np.concatenate(out)

    def cat(name: str, dtype: npt.DTypeLike) -> Any:
        return np.concatenate([getattr(p, name) for p in parts]).astype(dtype, copy=False)

    return BatchResult(
        targets=cat("targets", np.int32),
        status=cat("status", np.int8),
        n_neighbours=cat("n_neighbours", np.int64),
        profile=cat("profile", np.int32),
        profile_ptr=ptr("profile_ptr"),
        gold=cat("gold", np.int32),
        gold_ptr=ptr("gold_ptr"),
    )


def targets_sha256(targets: npt.NDArray[np.integer]) -> str:
    return hashlib.sha256(np.ascontiguousarray(targets, dtype=np.int64).tobytes()).hexdigest()


class ChunkStore:
    """The checkpoint folder of one build: a manifest and one ``.npz`` per finished chunk."""

    def __init__(self, folder: str | Path, identity: dict[str, Any]) -> None:
        self.folder = Path(folder)
        self.identity = {"format": _FORMAT, **identity}

    def open(self) -> None:
        """Create the folder and its manifest, or check an existing manifest matches."""
        manifest = self.folder / "manifest.json"
        if manifest.is_file():
            try:
                stored = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise DataFormatError(
                    f"unreadable checkpoint manifest: {exc}", path=manifest
                ) from None
            if not isinstance(stored, dict):
                raise DataFormatError("checkpoint manifest is not a JSON object", path=manifest)
            for name, value in self.identity.items():
                if stored.get(name) != value:
                    raise ConfigError(
                        f"the checkpoint folder {self.folder} belongs to another build: its "
                        f"{name} is {_short(stored.get(name))}, this build's is "
                        f"{_short(value)}; use another folder or delete this one"
                    )
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(manifest, self.identity)

    def path(self, index: int) -> Path:
        return self.folder / f"chunk-{index:06d}.npz"

    def load(self, index: int, targets: npt.NDArray[np.int32]) -> BatchResult | None:
        """The finished chunk ``index`` (for these raw target ids), or ``None``."""
        path = self.path(index)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in _FIELDS}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise DataFormatError(
                f"damaged checkpoint chunk ({exc}); delete it and run again (only this chunk "
                "is computed again)",
                path=path,
            ) from None
        if not np.array_equal(arrays["targets"], targets):
            raise DataFormatError(
                "checkpoint chunk holds other targets than this build's; delete it", path=path
            )
        return BatchResult(**arrays)

    def save(self, index: int, result: BatchResult) -> None:
        """Write one finished chunk atomically (a killed write leaves no partial chunk)."""
        with atomic_open(self.path(index), "wb", encoding=None) as fh:
            np.savez(fh, **{name: getattr(result, name) for name in _FIELDS})


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."

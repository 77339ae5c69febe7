"""Resumable stages: each stage's artifacts are reused when its inputs have not changed.

A stage is identified by a name and a key (a hash of its config and of the keys of the stages it
depends on). ``out_dir/stages.json`` records every finished stage with its key and artifacts; a
rerun whose key matches and whose artifacts all exist skips the work. The record is written
atomically after each stage, so a run killed mid-way resumes at the first unfinished stage.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from llmrec._io import write_json_atomic

__all__ = ["StageStore", "stage_key"]

T = TypeVar("T")


def stage_key(*parts: Any) -> str:
    """A short, stable hash of JSON-serialisable parts (config dumps, upstream keys)."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


class StageStore:
    """The record of finished stages in ``out_dir/stages.json``."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.path = out_dir / "stages.json"
        self.reused: list[str] = []
        self.ran: list[str] = []
        try:
            self._record: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            self._record = {}

    def is_done(self, name: str, key: str) -> bool:
        entry = self._record.get(name)
        if not entry or entry.get("key") != key:
            return False
        return all((self.out_dir / a).exists() for a in entry.get("artifacts", []))

    def forget(self, name: str) -> None:
        """Drop the record of stage ``name``: the next run performs it again."""
        if self._record.pop(name, None) is not None:
            write_json_atomic(self.path, self._record)

    def run(
        self,
        name: str,
        key: str,
        artifacts: list[str],
        work: Callable[[], None],
    ) -> bool:
        """Run ``work`` unless stage ``name`` is already done with ``key``; True if it ran."""
        if self.is_done(name, key):
            self.reused.append(name)
            return False
        start = time.perf_counter()
        work()
        missing = [a for a in artifacts if not (self.out_dir / a).exists()]
        if missing:  # a bug in the stage, not user input
            raise RuntimeError(f"stage {name!r} did not write {missing}")
        self._record[name] = {
            "key": key,
            "artifacts": artifacts,
            "seconds": round(time.perf_counter() - start, 3),
        }
        write_json_atomic(self.path, self._record)
        self.ran.append(name)
        return True

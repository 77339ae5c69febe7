"""``llmrec._io.file_sha256``: the one file hash behind manifests, fingerprints and checks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from llmrec._io import file_sha256


@pytest.mark.parametrize("size", [0, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 7])
def test_the_hash_is_sha256_of_the_bytes_whatever_the_block_boundaries(
    tmp_path: Path, size: int
) -> None:
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    path = tmp_path / "file.bin"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    assert file_sha256(str(path)) == file_sha256(path)


def test_the_empty_file_has_the_known_digest(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    expected = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert file_sha256(tmp_path / "empty") == expected

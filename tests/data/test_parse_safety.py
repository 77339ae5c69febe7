"""The Netflix parser under hostile conditions: files changing while read, BOMs, empty files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.data import _parse, _parse_numpy, load_ratings
from llmrec.errors import DataFormatError

BACKENDS = sorted(_parse.BACKENDS)


def _big_file(path: Path, movies: int = 300, per_movie: int = 700) -> bytes:
    lines = []
    for movie in range(1, movies + 1):
        lines.append(f"{movie}:")
        lines.extend(
            f"{1000 + u},{1 + u % 5},2005-0{1 + u % 9}-1{u % 10}" for u in range(per_movie)
        )
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(data)
    return data


_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from llmrec.data import _parse
    from llmrec.errors import DataFormatError

    path, backend = Path(sys.argv[1]), sys.argv[2]
    ok = failed = 0
    for i in range(int(sys.argv[3])):
        try:
            _parse.read_records([path], _parse.KIND_RATINGS, backend=backend, chunk_bytes=1 << 19)
            ok += 1
        except DataFormatError:
            failed += 1
        if i == 0:
            print("ready", flush=True)
    print(ok, failed, flush=True)
    """
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_file_truncated_while_parsed_never_crashes_the_process(
    tmp_path: Path, backend: str
) -> None:
    """Issue 11 item 5: a file cut short under the parser gives an error or a result, no SIGBUS."""
    path = tmp_path / "combined_data_1.txt"
    data = _big_file(path)
    assert len(data) > 2 << 20
    rounds = 60 if backend == "c" else 8
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), backend, str(rounds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    half = len(data) // 2
    deadline = time.monotonic() + 60
    while child.poll() is None and time.monotonic() < deadline:
        os.truncate(path, half)  # cut the file short, then put the tail back
        time.sleep(0.001)
        with open(path, "r+b") as fh:
            fh.seek(half)
            fh.write(data[half:])
        time.sleep(0.001)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, f"exit {child.returncode}: {err[-2000:]}"
    ok, failed = (int(x) for x in out.split())
    assert ok + failed == rounds


@pytest.mark.parametrize("backend", BACKENDS)
def test_short_read_is_a_clean_error_naming_the_file(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that shrank between planning and reading is reported by name, not misparsed."""
    path = tmp_path / "mv_0000001.txt"
    data = _big_file(path, movies=40, per_movie=400)
    chunks = _parse._plan(path, 1 << 16)
    assert len(chunks) > 3
    os.truncate(path, len(data) // 3)
    monkeypatch.setattr(_parse, "_plan", lambda p, c: chunks)  # the plan made before the cut
    with pytest.raises(DataFormatError, match="shorter while it was being read") as info:
        _parse.read_records([path], _parse.KIND_RATINGS, backend=backend)
    assert info.value.path == str(path)


@pytest.mark.parametrize("backend", BACKENDS)
def test_utf8_byte_order_mark_is_skipped(tmp_path: Path, backend: str) -> None:
    """Issue 11 item 19: a BOM before the first header is not shown as part of a bad line."""
    path = tmp_path / "combined_data_1.txt"
    path.write_bytes(b"\xef\xbb\xbf1830:\n7,3,2005-01-02\n8,5,2005-01-03\n")
    rec = _parse.read_records([path], _parse.KIND_RATINGS, backend=backend)
    assert rec.movie_id.tolist() == [1830, 1830]
    assert rec.user_id.tolist() == [7, 8]
    path.write_bytes(b"\xef\xbb\xbf1830:\n7,3,2005-01-02\n8,6,2005-01-03\n")
    with pytest.raises(DataFormatError) as info:
        _parse.read_records([path], _parse.KIND_RATINGS, backend=backend)
    assert (info.value.line, info.value.text) == (3, "8,6,2005-01-03")


def test_utf8_byte_order_mark_in_a_split_file(tmp_path: Path) -> None:
    path = tmp_path / "combined_data_1.txt"
    data = _big_file(path, movies=30, per_movie=300)
    path.write_bytes(b"\xef\xbb\xbf" + data)
    with_bom = _parse.read_records([path], _parse.KIND_RATINGS, chunk_bytes=1 << 14)
    path.write_bytes(data)
    without = _parse.read_records([path], _parse.KIND_RATINGS, chunk_bytes=1 << 14)
    assert with_bom.user_id.tolist() == without.user_id.tolist()
    assert with_bom.movie_id.tolist() == without.movie_id.tolist()


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf"])
def test_empty_rating_file_is_an_error_naming_it(tmp_path: Path, content: bytes) -> None:
    """Issue 11 item 19: an empty rating file is not read as zero ratings."""
    good = tmp_path / "combined_data_1.txt"
    good.write_bytes(b"1:\n7,3,2005-01-02\n")
    empty = tmp_path / "combined_data_2.txt"
    empty.write_bytes(content)
    with pytest.raises(DataFormatError, match="empty") as info:
        load_ratings(tmp_path, cache=False)
    assert info.value.path == str(empty)


def test_rating_files_with_no_ratings_at_all_are_an_error(tmp_path: Path) -> None:
    (tmp_path / "combined_data_1.txt").write_bytes(b"1:\n2:\n")
    with pytest.raises(DataFormatError, match="no ratings"):
        load_ratings(tmp_path, cache=False)
    # a movie filter that selects nothing is the caller's choice, not a broken file
    (tmp_path / "combined_data_1.txt").write_bytes(b"1:\n7,3,2005-01-02\n")
    assert len(load_ratings(tmp_path, movies=[5], cache=False)) == 0


# -- the cache's column checksum: C and numpy kernels agree --------------------------------------
@given(data=st.binary(max_size=300), block=st.integers(1, 8))
def test_checksum_kernels_agree(data: bytes, block: int) -> None:
    expected = _parse_numpy.numpy_checksum(data)
    assert _parse_numpy.numpy_checksum(data, block=block) == expected
    for fn in _parse.CHECKSUMS.values():
        assert fn(data) == expected


@given(data=st.binary(min_size=1, max_size=200), where=st.integers(0), bit=st.integers(0, 7))
def test_checksum_changes_with_any_flipped_bit(data: bytes, where: int, bit: int) -> None:
    flipped = bytearray(data)
    flipped[where % len(data)] ^= 1 << bit
    assert _parse.checksum(bytes(flipped)) != _parse.checksum(data)


def test_checksum_sees_moved_words_and_length() -> None:
    a, b = bytes(range(8)), bytes(range(8, 16))
    assert _parse.checksum(a + b) != _parse.checksum(b + a)
    assert _parse.checksum(a) != _parse.checksum(a + b"\0")
    assert set(_parse.CHECKSUMS) == set(_parse.BACKENDS)

"""The Netflix line parser: C and numpy kernels against a line-by-line reference parser."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.data import _parse
from llmrec.errors import DataFormatError

BACKENDS = sorted(_parse.BACKENDS)
MAX_ID = 2_147_483_647
EPOCH = dt.date(1970, 1, 1)


# -- the reference: small and obviously correct, one line at a time ---------------------------
class RefError(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


HEADER = re.compile(r"([0-9]{1,10}):")
RECORD = {
    _parse.KIND_RATINGS: re.compile(r"([0-9]{1,10}),([1-5]),([0-9]{4})-([0-9]{2})-([0-9]{2})"),
    _parse.KIND_PROBE: re.compile(r"([0-9]{1,10})"),
    _parse.KIND_QUALIFYING: re.compile(r"([0-9]{1,10}),([0-9]{4})-([0-9]{2})-([0-9]{2})"),
}


def reference_parse(data: bytes, kind: int = _parse.KIND_RATINGS) -> list[tuple[int, ...]]:
    """Rows (user, movie, rating, days since 1970) in file order; RefError(line) on bad input."""
    lines = data.decode("latin-1").split("\n")
    if lines[-1] == "":
        lines.pop()
    movie = None
    rows: list[tuple[int, ...]] = []
    for number, line in enumerate(lines, start=1):
        if line.endswith("\r"):
            line = line[:-1]
        header = HEADER.fullmatch(line)
        if header and 1 <= int(header[1]) <= MAX_ID:
            movie = int(header[1])
            continue
        m = RECORD[kind].fullmatch(line)
        if m is None or not 1 <= int(m[1]) <= MAX_ID:
            raise RefError(number)
        rating, days = 0, 0
        if kind == _parse.KIND_RATINGS:
            rating = int(m[2])
        if kind != _parse.KIND_PROBE:
            y, mo, d = (int(g) for g in m.groups()[-3:])
            try:
                days = (dt.date(y, mo, d) - EPOCH).days
            except ValueError:
                raise RefError(number) from None
        if movie is None:
            raise RefError(number)
        rows.append((int(m[1]), movie, rating, days))
    return rows


def as_rows(rec: _parse.Records) -> list[tuple[int, ...]]:
    n = rec.user_id.size
    rating = rec.rating if rec.rating is not None else np.zeros(n, np.int8)
    days = rec.date.astype(np.int64) if rec.date is not None else np.zeros(n, np.int64)
    cols = zip(
        rec.user_id.tolist(), rec.movie_id.tolist(), rating.tolist(), days.tolist(), strict=True
    )
    return [tuple(int(v) for v in row) for row in cols]


# -- generated files --------------------------------------------------------------------------
ids = st.one_of(st.integers(1, 2_649_429), st.integers(1, MAX_ID), st.just(MAX_ID))
dates = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))


@st.composite
def record_line(draw: st.DrawFn, kind: int) -> str:
    user = draw(ids)
    text = str(user).zfill(draw(st.integers(1, 10))) if draw(st.booleans()) else str(user)
    if kind == _parse.KIND_RATINGS:
        text += f",{draw(st.integers(1, 5))}"
    if kind != _parse.KIND_PROBE:
        text += "," + draw(dates).isoformat()
    return text


@st.composite
def netflix_file(draw: st.DrawFn, kind: int = _parse.KIND_RATINGS) -> bytes:
    """A well-formed file: blocks of 'N:' plus records, LF or CRLF, final newline or not."""
    lines: list[str] = []
    for _ in range(draw(st.integers(0, 6))):
        lines.append(f"{draw(st.integers(1, 17_770) | st.integers(1, MAX_ID))}:")
        lines.extend(draw(st.lists(record_line(kind), max_size=8)))
    ending = draw(st.sampled_from(["\n", "\r\n", "mixed"]))
    if ending == "mixed":
        ends = draw(st.lists(st.sampled_from(["\n", "\r\n"]), min_size=len(lines)))
    else:
        ends = [ending] * len(lines)
    body = "".join(line + end for line, end in zip(lines, ends, strict=False))
    if lines and not draw(st.booleans()):
        body = body.removesuffix("\n").removesuffix("\r")
    return body.encode("ascii")


def write_files(folder: Path, contents: list[bytes]) -> list[Path]:
    paths = []
    for i, data in enumerate(contents):
        path = folder / f"part_{i}.txt"
        path.write_bytes(data)
        paths.append(path)
    return paths


# -- agreement with the reference -------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@given(
    contents=st.lists(netflix_file(), min_size=1, max_size=4),
    chunk_bytes=st.sampled_from([1, 40, 1 << 20]),
)
def test_generated_files_match_reference(
    tmp_path_factory: pytest.TempPathFactory, backend: str, contents: list[bytes], chunk_bytes: int
) -> None:
    files = write_files(tmp_path_factory.mktemp("nf"), contents)
    rec = _parse.read_records(
        files, _parse.KIND_RATINGS, backend=backend, chunk_bytes=chunk_bytes, workers=2
    )
    expected = [row for data in contents for row in reference_parse(data)]
    assert as_rows(rec) == expected
    assert rec.user_id.dtype == np.int32 and rec.movie_id.dtype == np.int32
    assert rec.rating is not None and rec.rating.dtype == np.int8
    assert rec.date is not None and rec.date.dtype == np.dtype("datetime64[D]")


@pytest.mark.parametrize("kind", [_parse.KIND_PROBE, _parse.KIND_QUALIFYING])
@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data())
def test_probe_and_qualifying_kinds_match_reference(
    tmp_path_factory: pytest.TempPathFactory, backend: str, kind: int, data: st.DataObject
) -> None:
    content = data.draw(netflix_file(kind))
    files = write_files(tmp_path_factory.mktemp("nf"), [content])
    rec = _parse.read_records(files, kind, backend=backend)
    assert as_rows(rec) == reference_parse(content, kind)
    assert (rec.rating is None) and ((rec.date is None) == (kind == _parse.KIND_PROBE))


@pytest.mark.parametrize("backend", BACKENDS)
@given(content=netflix_file(), keep=st.sets(st.integers(1, 17_770), max_size=5))
def test_keep_mask_selects_movies_in_order(
    tmp_path_factory: pytest.TempPathFactory, backend: str, content: bytes, keep: set[int]
) -> None:
    files = write_files(tmp_path_factory.mktemp("nf"), [content])
    mask = np.zeros(17_771, dtype=np.uint8)
    mask[list(keep)] = 1
    rec = _parse.read_records(files, _parse.KIND_RATINGS, mask, backend=backend)
    assert as_rows(rec) == [r for r in reference_parse(content) if r[1] in keep]


@given(content=netflix_file(), keep=st.none() | st.sets(st.integers(1, 17_770), max_size=5))
def test_count_is_exact_for_well_formed_input(content: bytes, keep: set[int] | None) -> None:
    mask = None
    if keep is not None:
        mask = np.zeros(17_771, dtype=np.uint8)
        mask[list(keep)] = 1
    rows = reference_parse(content)
    want = len([r for r in rows if keep is None or r[1] in keep])
    for count, _ in _parse.BACKENDS.values():
        for exact in (False, True):
            got = count(content, _parse.KIND_RATINGS, mask, exact)
            assert got == (want, content.count(b"\n"))


# -- errors ---------------------------------------------------------------------------------
BAD_LINES = [
    "",  # blank line
    "123,4",  # truncated
    "123,4,2005-1",  # truncated date
    "123,6,2005-01-01",  # rating out of range
    "123,0,2005-01-01",
    "123,45,2005-01-01",
    "12a,4,2005-01-01",  # non-numeric id
    "-12,4,2005-01-01",
    " 12,4,2005-01-01",
    "12,4,2005-01-01 ",
    "12,4,2005-02-30",  # impossible date
    "12,4,2005-02-29",  # not a leap year
    "12,4,1900-02-29",
    "12,4,2005-13-01",
    "12,4,2005-00-10",
    "12,4,2005-01-00",
    "12,4,0000-01-01",
    "12,4,2005/01/01",
    "12,4,2005-01-01,7",  # extra field
    "0,4,2005-01-01",  # id 0
    "2147483648,4,2005-01-01",  # id past int32
    "00000000001,4,2005-01-01",  # 11 digits
    "x:",
    "0:",
    "1:x",
    "1::",
    ":",
    "12,4.0,2005-01-01",
    "12;4;2005-01-01",
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bad", BAD_LINES)
def test_each_malformed_line_names_file_line_and_text(
    tmp_path: Path, backend: str, bad: str
) -> None:
    good = "1:\n10,3,2005-01-02\n11,5,2004-02-29\n"
    files = write_files(tmp_path, [good.encode(), (good + bad + "\n" + good).encode()])
    with pytest.raises(DataFormatError) as info:
        _parse.read_records(files, _parse.KIND_RATINGS, backend=backend)
    err = info.value
    assert err.path == str(files[1])
    assert err.line == 4
    assert err.text == bad
    assert f"{files[1]}, line 4" in str(err)


@pytest.mark.parametrize("backend", BACKENDS)
def test_record_before_any_header(tmp_path: Path, backend: str) -> None:
    files = write_files(tmp_path, [b"10,3,2005-01-02\n1:\n"])
    with pytest.raises(DataFormatError, match="before any 'N:'") as info:
        _parse.read_records(files, _parse.KIND_RATINGS, backend=backend)
    assert (info.value.line, info.value.text) == (1, "10,3,2005-01-02")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b"1:\n10,3,2005-01-02\n\n", 3),  # a second newline at the end is a blank line
        (b"1:\r\n10,3,2005-01-02\r\n\r\n", 3),
        (b"\n1:\n", 1),
        (b"1:\n10,3,2005-01-02\n\n11,3,2005-01-02", 3),
    ],
)
def test_blank_lines_are_errors(tmp_path: Path, backend: str, content: bytes, line: int) -> None:
    files = write_files(tmp_path, [content])
    with pytest.raises(DataFormatError, match="blank line") as info:
        _parse.read_records(files, _parse.KIND_RATINGS, backend=backend)
    assert info.value.line == line


@pytest.mark.parametrize("backend", BACKENDS)
@given(
    content=netflix_file().filter(lambda b: b.count(b"\n") >= 2),
    bad=st.sampled_from([b for b in BAD_LINES if b]),
    where=st.integers(0, 1000),
    chunk_bytes=st.sampled_from([1, 50, 1 << 20]),
)
def test_first_bad_line_is_reported_wherever_it_is(
    tmp_path_factory: pytest.TempPathFactory,
    backend: str,
    content: bytes,
    bad: str,
    where: int,
    chunk_bytes: int,
) -> None:
    lines = content.split(b"\n")
    at = where % (len(lines) - 1)
    lines.insert(at, bad.encode())
    corrupted = b"\n".join(lines)
    with pytest.raises(RefError) as ref:
        reference_parse(corrupted)
    files = write_files(tmp_path_factory.mktemp("nf"), [corrupted])
    with pytest.raises(DataFormatError) as info:
        _parse.read_records(
            files, _parse.KIND_RATINGS, backend=backend, chunk_bytes=chunk_bytes, workers=2
        )
    assert info.value.line == ref.value.line
    assert info.value.path == str(files[0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_error_found_when_colons_later_fool_the_fast_count(tmp_path: Path, backend: str) -> None:
    """Lines minus ':' falls short here; the first bad line is still the one reported."""
    files = write_files(tmp_path, [b"1:\n10,3,2005-01-02\n11,3,2005-01-02\n12,x\n::::::\n"])
    with pytest.raises(DataFormatError, match="truncated") as info:
        _parse.read_records(files, _parse.KIND_RATINGS, backend=backend)
    assert (info.value.line, info.value.text) == (4, "12,x")


def test_error_messages_say_what_is_wrong() -> None:
    k = _parse.KIND_RATINGS
    assert "rating" in _parse.describe(b"1,6,2005-01-01", k, _parse.MALFORMED)
    assert "no such date" in _parse.describe(b"1,3,2005-02-30", k, _parse.MALFORMED)
    assert "YYYY-MM-DD" in _parse.describe(b"1,3,2005-1", k, _parse.MALFORMED)
    assert "truncated" in _parse.describe(b"123,4", k, _parse.MALFORMED)
    assert "customer id" in _parse.describe(b"x1,4,2005-01-01", k, _parse.MALFORMED)
    assert "movie id" in _parse.describe(b"0:", k, _parse.MALFORMED)
    assert "blank" in _parse.describe(b"\r", k, _parse.MALFORMED)


# -- worked examples --------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_worked_example_crlf_and_missing_final_newline(tmp_path: Path, backend: str) -> None:
    lf = b"1:\n1488844,3,2005-09-06\n822109,5,2005-05-13\n2:\n2059652,4,2005-09-05"
    crlf = lf.replace(b"\n", b"\r\n") + b"\r\n"
    for content in (lf, crlf):
        files = write_files(tmp_path, [content])
        rec = _parse.read_records(files, _parse.KIND_RATINGS, backend=backend)
        assert rec.user_id.tolist() == [1488844, 822109, 2059652]
        assert rec.movie_id.tolist() == [1, 1, 2]
        assert rec.rating is not None and rec.rating.tolist() == [3, 5, 4]
        assert rec.date is not None
        assert rec.date.astype(str).tolist() == ["2005-09-06", "2005-05-13", "2005-09-05"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_file_and_movie_without_ratings(tmp_path: Path, backend: str) -> None:
    files = write_files(tmp_path, [b"", b"5:\n6:\n7,1,2000-02-29\n"])
    rec = _parse.read_records(files, _parse.KIND_RATINGS, backend=backend)
    assert as_rows(rec) == [(7, 6, 1, (dt.date(2000, 2, 29) - EPOCH).days)]


def test_c_kernel_is_built() -> None:
    """The package is installed with its extension; the numpy kernel is only the fallback."""
    assert "c" in _parse.BACKENDS
    assert _parse.default_backend() == "c"


@pytest.mark.parametrize("backend", BACKENDS)
def test_crlf_error_text_has_no_carriage_return(tmp_path: Path, backend: str) -> None:
    files = write_files(tmp_path, [b"1:\r\n10,3,2005-01-02\r\n10,3,2005-01-32\r\n"])
    with pytest.raises(DataFormatError) as info:
        _parse.read_records(files, _parse.KIND_RATINGS, backend=backend)
    assert (info.value.line, info.value.text) == (3, "10,3,2005-01-32")


def test_numpy_kernel_is_used_when_the_extension_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "llmrec.data._netflix_parse", None)  # import now fails
    monkeypatch.delattr("llmrec.data._netflix_parse")
    assert sorted(_parse._load_backends()) == ["numpy"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_progress_bar_does_not_change_the_result(
    tmp_path: Path, backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    files = write_files(tmp_path, [b"1:\n10,3,2005-01-02\n", b"2:\n11,3,2005-01-02\n"])
    rec = _parse.read_records(files, _parse.KIND_RATINGS, backend=backend, progress=True)
    assert as_rows(rec) == reference_parse(b"1:\n10,3,2005-01-02\n2:\n11,3,2005-01-02\n")


@pytest.mark.parametrize("backend", BACKENDS)
def test_large_file_is_mapped_split_and_reported_correctly(tmp_path: Path, backend: str) -> None:
    """A file past the small-file size is memory-mapped and split at 'N:' lines."""
    rng = np.random.default_rng(7)
    lines = []
    for movie in range(1, 401):
        lines.append(f"{movie}:")
        for user, stars, day in zip(
            rng.integers(1, 2_649_430, 200).tolist(),
            rng.integers(1, 6, 200).tolist(),
            rng.integers(0, 2000, 200).tolist(),
            strict=True,
        ):
            lines.append(f"{user},{stars},{EPOCH + dt.timedelta(days=10_000 + day)}")
    content = ("\n".join(lines) + "\n").encode()
    assert len(content) > 1 << 20
    files = write_files(tmp_path, [content])
    rec = _parse.read_records(files, _parse.KIND_RATINGS, backend=backend, chunk_bytes=1 << 18)
    assert as_rows(rec) == reference_parse(content)
    lines[-5] = "123,4,2005-1"
    files = write_files(tmp_path, [("\n".join(lines) + "\n").encode()])
    with pytest.raises(DataFormatError) as info:
        _parse.read_records(files, _parse.KIND_RATINGS, backend=backend, chunk_bytes=1 << 18)
    assert (info.value.line, info.value.text) == (len(lines) - 4, "123,4,2005-1")


def test_the_c_parser_is_built_and_the_default() -> None:
    # setup.py builds the extension as optional so users without a compiler can install;
    # the project's own environment must have it, or the C parser would go untested.
    assert set(_parse.BACKENDS) == {"c", "numpy"}
    assert _parse.default_backend() == "c"

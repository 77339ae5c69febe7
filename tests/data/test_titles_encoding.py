"""Issue 11 item 19: titles files in other encodings, with a BOM, or empty."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from llmrec.data import load_titles
from llmrec.data._encoding import detect_encoding
from llmrec.errors import DataFormatError


def test_utf8_titles_are_detected_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "movie_titles.csv"
    path.write_bytes("6,1997,Café Montréal\n7,NULL,Zoë\n".encode())
    with caplog.at_level(logging.INFO, logger="llmrec.data.netflix"):
        catalog = load_titles(path)
    assert catalog.title(6) == "Café Montréal"
    assert catalog.encoding == "utf-8"
    assert "as utf-8" in caplog.text


def test_the_real_files_latin1_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "movie_titles.csv"
    path.write_bytes(b"1,2003,Dinosaur Planet\n6,1997,Caf\xe9\n")
    catalog = load_titles(path)
    assert catalog.title(6) == "Café"
    assert catalog.encoding == "iso-8859-1"


def test_cp1252_apostrophe_is_read_as_an_apostrophe(tmp_path: Path) -> None:
    path = tmp_path / "movie_titles.csv"
    path.write_bytes(b"8,2001,Ocean\x92s Eleven\n9,1999,Caf\xe9\n")
    catalog = load_titles(path)
    assert catalog.title(8) == "Ocean\u2019s Eleven"
    assert catalog.title(9) == "Café"
    assert catalog.encoding == "cp1252"


def test_byte_order_mark_is_not_part_of_the_first_id(tmp_path: Path) -> None:
    path = tmp_path / "movie_titles.csv"
    path.write_bytes(b"\xef\xbb\xbf1830,2004,Caf\xc3\xa9\r\n1831,NULL,Heat\r\n")
    catalog = load_titles(path)
    assert catalog.movie_ids.tolist() == [1830, 1831]
    assert catalog.title(1830) == "Café"
    assert catalog.encoding == "utf-8"


def test_explicit_encoding_is_used_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "movie_titles.csv"
    path.write_bytes("6,1997,Café\n".encode())
    catalog = load_titles(path, encoding="iso-8859-1")
    assert catalog.title(6) == "CafÃ©"
    assert catalog.encoding == "iso-8859-1"


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf"])
def test_empty_titles_file_is_an_error_naming_it(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "movie_titles.csv"
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match="empty titles file") as info:
        load_titles(path)
    assert info.value.path == str(path)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"plain ascii", "utf-8"),
        ("Zürich".encode(), "utf-8"),
        (b"Z\xfcrich", "iso-8859-1"),
        (b"\x93quoted\x94", "cp1252"),
        (b"\x81odd", "iso-8859-1"),  # 0x81 is undefined in cp1252
    ],
)
def test_detection_rules(raw: bytes, expected: str) -> None:
    assert detect_encoding(raw) == expected

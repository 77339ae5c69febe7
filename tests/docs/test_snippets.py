"""Every Python block of README.md and docs/ runs as written: each page's blocks in order, in one
namespace, in a fresh folder, on the synthetic data, with the network off. Blocks that need an
API key, real data, the network or a GPU say so in a skip marker, and there are few of them.

A failure reads ``docs/PAGE.md:LINE: the block at line LINE failed: Error: ...`` with the
traceback's lines in the page. To see every page's state at once:
``.venv/bin/python tests/docs/docs_snippets.py --keep-going``. The markers a page may carry are
described in ``tests/docs/docs_snippets.py``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def _load() -> ModuleType:
    path = Path(__file__).with_name("docs_snippets.py")
    spec = importlib.util.spec_from_file_location("llmrec_docs_snippets", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


snippets = _load()
ROOT: Path = snippets.ROOT

# At most this many blocks may be skipped over all pages; raise it only for a block that truly
# needs a key, real data, the network or a GPU (and can not show the same on synthetic data).
MAX_SKIPPED = 12


def _parsed() -> tuple[list[Any], list[str]]:
    parsed, errors = [], []
    for path in snippets.pages():
        try:
            parsed.append(snippets.parse(path))
        except snippets.PageError as exc:
            errors.append(str(exc))
    return parsed, errors


PAGES, MARKER_ERRORS = _parsed()


def _param(page: Any) -> Any:
    marks = [pytest.mark.slow] if page.slow else []
    return pytest.param(page, id=page.path, marks=marks)


def test_the_markers_are_well_formed() -> None:
    assert not MARKER_ERRORS, "\n".join(MARKER_ERRORS)


@pytest.mark.parametrize("page", [_param(p) for p in PAGES if p.visible])
def test_the_page_runs(page: Any, tmp_path: Path) -> None:
    timeout = 2400 if page.slow else 600
    try:
        proc = snippets.run_page(ROOT / page.path, tmp_path, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stderr or b"")[-1500:]
        text = tail.decode(errors="replace") if isinstance(tail, bytes) else tail
        pytest.fail(f"{page.path}: did not finish in {timeout} s\n{text}", pytrace=False)
    if proc.returncode != 0:
        report = proc.stderr.split("LLMREC-DOCS FAILURE\n", 1)
        message = report[1] if len(report) == 2 else proc.stderr[-3000:]
        pytest.fail(message, pytrace=False)


def test_skipped_blocks_are_few_and_each_needs_a_key_real_data_the_network_or_a_gpu() -> None:
    skipped = [b for p in PAGES for b in p.skipped]
    listing = "\n".join(
        f"  {b.where}: {b.skip} -> {', '.join(snippets.skip_kinds(b.skip))}" for b in skipped
    )
    print(f"{len(skipped)} skipped blocks:\n{listing}")
    for block in skipped:
        assert snippets.skip_kinds(block.skip), block.where
    assert len(skipped) <= MAX_SKIPPED, f"{len(skipped)} skipped blocks:\n{listing}"
    total = sum(len(p.visible) for p in PAGES)
    assert total >= 40, "the docs' Python blocks were not found"


# --- the checker itself ------------------------------------------------------------------------


def _page(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "page.md"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_failing_block_is_named_by_page_and_line(tmp_path: Path) -> None:
    path = _page(
        tmp_path,
        """\
        # A page

        <!-- llmrec-docs: setup
        hidden = 2
        -->

        ```python
        x = hidden + 1
        ```

        Prose.

        ```python
        y = x + 1
        z = undefined_name
        ```
        """,
    )
    work = tmp_path / "work"
    work.mkdir()
    proc = snippets.run_page(path, work, timeout=120)
    assert proc.returncode == 1
    failure = proc.stderr.split("LLMREC-DOCS FAILURE\n", 1)[1]
    assert failure.startswith(f"{path.as_posix()}:14: the block at line 14 failed: NameError")
    assert "line 15" in failure and "z = undefined_name" in failure  # the page's own line


def test_blocks_share_one_namespace_and_skips_are_not_run(tmp_path: Path) -> None:
    path = _page(
        tmp_path,
        """\
        <!-- llmrec-docs: setup
        from pathlib import Path
        Path("data.txt").write_text("3")
        -->

        ```python
        n = int(open("data.txt").read())
        ```

        <!-- llmrec-docs: skip (needs an OpenAI API key) -->
        ```python
        raise RuntimeError("a skipped block ran")
        ```

        ```python
        assert n == 3
        import os
        assert "OPENAI_API_KEY" not in os.environ
        assert os.path.expanduser("~") == os.getcwd()
        ```
        """,
    )
    work = tmp_path / "work"
    work.mkdir()
    proc = snippets.run_page(path, work, timeout=120)
    assert proc.returncode == 0, proc.stderr
    page = snippets.parse(path)
    assert [b.hidden for b in page.blocks] == [True, False, False, False]
    assert [b.line for b in page.blocks] == [2, 7, 12, 16]
    assert page.skipped[0].skip == "needs an OpenAI API key"


def test_the_network_is_off_but_loopback_works(tmp_path: Path) -> None:
    path = _page(
        tmp_path,
        """\
        ```python
        import socket
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        socket.create_connection(server.getsockname(), timeout=5).close()
        try:
            socket.create_connection(("192.0.2.1", 443), timeout=5)
        except OSError as exc:
            assert "network off" in str(exc), exc
        else:
            raise AssertionError("reached a remote address")
        ```
        """,
    )
    work = tmp_path / "work"
    work.mkdir()
    proc = snippets.run_page(path, work, timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("<!-- llmrec-docs: skip (trains for minutes) -->\n```python\npass\n```\n", "names none"),
        ("<!-- llmrec-docs: skip (needs a GPU) -->\nProse.\n```python\npass\n```\n", "between"),
        ("<!-- llmrec-docs: skipp (needs a GPU) -->\n", "unknown llmrec-docs marker"),
        ("<!-- llmrec-docs: skip needs a GPU -->\n```python\npass\n```\n", "(why)"),
    ],
)
def test_malformed_markers_are_reported(tmp_path: Path, text: str, complaint: str) -> None:
    with pytest.raises(snippets.PageError, match=r"page\.md:1: .*" + _escape(complaint)):
        snippets.parse(_page(tmp_path, text))


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_a_marker_quoted_in_prose_is_not_a_marker(tmp_path: Path) -> None:
    page = snippets.parse(
        _page(
            tmp_path,
            "Write `<!-- llmrec-docs: skip (needs ...) -->` before it.\n```python\n1\n```\n",
        )
    )
    assert [(b.line, b.skip) for b in page.blocks] == [(3, None)]

"""Run the Python blocks of a documentation page, in order, in one namespace.

The pages are README.md and every ``docs/**/*.md``. What a page can say to this runner, in HTML
comments that start a line (hidden when the Markdown is rendered):

``<!-- llmrec-docs: setup ... -->``
    Python run at that place in the page, before the blocks that follow it (hidden set-up: the
    files the prose refers to, written from the synthetic data; a local OpenAI server).
``<!-- llmrec-docs: skip (needs ...) -->``
    just before a block: the block is not run. The reason must name what is missing: an API
    key, real data, the network or a GPU (see :data:`SKIP_KINDS`).
``<!-- llmrec-docs: slow (why) -->``
    the page's test is marked ``slow`` (left out of ``make test-fast``).

A page runs in a fresh empty working directory (also ``HOME``, so ``~/...`` paths land there),
without ``OPENAI_API_KEY`` or ``OPENAI_BASE_URL``, with Hugging Face offline and every socket
connection to a host other than loopback refused. A failure names the page and the line in the
page: each block is compiled with the page as its file name and its own line numbers.

Run it by hand: ``python tests/docs/docs_snippets.py docs/truth.md [more pages]`` (in a
temporary folder of its own), or ``--keep-going`` to try every block and print a table.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import linecache
import os
import re
import socket
import subprocess
import sys
import tempfile
import textwrap
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

# A skip names one of these; each kind is recognised by the words of its reason.
SKIP_KINDS: dict[str, re.Pattern[str]] = {
    "key": re.compile(r"\bAPI key\b|\bkey\b", re.I),
    "real data": re.compile(
        r"real data|Netflix|MovieLens|ml-100k|ml-1m|ml-25m|Amazon|the study's files", re.I
    ),
    "network": re.compile(r"\bnetwork\b|\binternet\b|\bdownload", re.I),
    "GPU": re.compile(r"\bGPU\b|\bCUDA\b", re.I),
}

_DIRECTIVE = re.compile(r"<!--\s*llmrec-docs:\s*(?P<kind>[\w-]+)(?P<body>.*?)-->", re.S)
_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,})\s*(?P<lang>[\w+-]*)[^\n]*$")


class PageError(Exception):
    """A page's markers are malformed: names the page and line."""


@dataclasses.dataclass(frozen=True)
class Block:
    """One piece of Python to run: a visible block or a hidden set-up."""

    page: str
    line: int  # the 1-based line in the page of the code's first line
    source: str
    hidden: bool = False
    skip: str | None = None  # the reason, for a block marked skip

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


@dataclasses.dataclass(frozen=True)
class Page:
    path: str  # relative to the repository root, with / separators
    blocks: tuple[Block, ...]
    slow: str | None = None  # the reason, for a page marked slow

    @property
    def visible(self) -> list[Block]:
        return [b for b in self.blocks if not b.hidden]

    @property
    def skipped(self) -> list[Block]:
        return [b for b in self.blocks if b.skip is not None]


def pages(root: Path = ROOT) -> list[Path]:
    """README.md and every Markdown page under docs/, in a stable order."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def skip_kinds(reason: str) -> list[str]:
    """The allowed kinds a skip reason names (empty: the reason is not an allowed one)."""
    return [kind for kind, pattern in SKIP_KINDS.items() if pattern.search(reason)]


def parse(path: Path, root: Path = ROOT) -> Page:
    """The page's Python blocks and hidden set-ups, in order; raises :class:`PageError`."""
    try:
        name = path.resolve().relative_to(root).as_posix()
    except ValueError:
        name = path.as_posix()
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    blocks: list[Block] = []
    slow: str | None = None
    pending_skip: tuple[int, str] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE_OPEN.match(line)
        if fence and not line.strip().startswith("<!--"):
            end = _closing_fence(lines, i, fence.group("ticks"), name)
            if fence.group("lang") == "python":
                body = textwrap.dedent("\n".join(lines[i + 1 : end]))
                skip = None
                if pending_skip is not None:
                    skip = pending_skip[1]
                    pending_skip = None
                blocks.append(Block(name, i + 2, body, skip=skip))
            else:
                pending_skip = None  # a skip before a shell or text block changes nothing
            i = end + 1
            continue
        if line.lstrip().startswith("<!--") and "llmrec-docs" in line:  # not one quoted in prose
            start = i
            comment = line
            while "-->" not in comment and i + 1 < len(lines):
                i += 1
                comment += "\n" + lines[i]
            match = _DIRECTIVE.search(comment)
            if match is None:
                raise PageError(f"{name}:{start + 1}: unreadable llmrec-docs marker {line!r}")
            kind, body = match.group("kind"), match.group("body")
            if kind == "skip":
                reason = _reason(body, name, start + 1, kind)
                if not skip_kinds(reason):
                    raise PageError(
                        f"{name}:{start + 1}: skip reason {reason!r} names none of "
                        f"{', '.join(SKIP_KINDS)} (say what the block needs, e.g. "
                        "'(needs an OpenAI API key)'; anything else should run here)"
                    )
                pending_skip = (start + 1, reason)
            elif kind == "slow":
                slow = _reason(body, name, start + 1, kind)
            elif kind == "setup":
                code_start = start + 1 + (0 if "\n" not in body else 1)
                code = body.split("\n", 1)[1] if "\n" in body else body
                if not code.strip():
                    raise PageError(f"{name}:{start + 1}: empty setup marker")
                blocks.append(Block(name, code_start, textwrap.dedent(code), hidden=True))
            else:
                raise PageError(
                    f"{name}:{start + 1}: unknown llmrec-docs marker {kind!r} "
                    "(known: setup, skip, slow)"
                )
        elif line.strip() and pending_skip is not None:
            raise PageError(
                f"{name}:{pending_skip[0]}: a skip marker must come just before a ```python "
                f"block; line {i + 1} comes between"
            )
        i += 1
    if pending_skip is not None:
        raise PageError(f"{name}:{pending_skip[0]}: a skip marker with no block after it")
    return Page(name, tuple(blocks), slow)


def _closing_fence(lines: list[str], start: int, ticks: str, page: str) -> int:
    for j in range(start + 1, len(lines)):
        if lines[j].strip() == ticks:
            return j
    raise PageError(f"{page}:{start + 1}: code block never closed")


def _reason(body: str, page: str, line: int, kind: str) -> str:
    match = re.fullmatch(r"\s*\((.+)\)\s*", body, re.S)
    if match is None:
        raise PageError(f"{page}:{line}: write the {kind} marker as `llmrec-docs: {kind} (why)`")
    return " ".join(match.group(1).split())


# --- running, inside the page's own process ---------------------------------------------------

_LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0", ""}


class NetworkOff(OSError):
    """A docs block tried to reach a host other than this machine."""


def _is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    return isinstance(host, str) and (host in _LOOPBACK or host.startswith("127."))


def network_off() -> None:
    """Refuse every connection and name lookup that leaves this machine."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise NetworkOff(
                f"the docs run with the network off: connecting to {address!r} refused "
                "(use the local OpenAI server, or mark the block "
                "`<!-- llmrec-docs: skip (needs the network) -->`)"
            )

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback(host):
            raise NetworkOff(f"the docs run with the network off: name lookup of {host!r} refused")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo


def page_env(workdir: Path) -> dict[str, str]:
    """The environment a page runs in: no key, no remote endpoint, Hugging Face offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.setdefault("OMP_NUM_THREADS", "1")  # torch on shared cores: one thread is faster
    env.update(
        HOME=str(workdir),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        MPLBACKEND="Agg",
        TQDM_DISABLE="1",
        PYTHONHASHSEED="0",
    )
    return env


def _compiled(block: Block) -> Any:
    # Pad with blank lines so a traceback's line number is the line in the page, and let
    # tracebacks show the page's lines (the page's name is relative to the repository).
    page = ROOT / block.page if not Path(block.page).is_absolute() else Path(block.page)
    if page.is_file():
        text = page.read_text(encoding="utf-8")
        linecache.cache[block.page] = (len(text), None, text.splitlines(True), block.page)
    return compile("\n" * (block.line - 1) + block.source, block.page, "exec")


def _failure(block: Block, exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)[1:]  # drop this runner's frame
    shown = traceback.format_list(frames[-8:])
    what = "the hidden setup at" if block.hidden else "the block at"
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return f"{block.page}:{block.line}: {what} line {block.line} failed: {detail}\n" + "".join(
        shown
    )


def run_blocks(page: Page, *, keep_going: bool = False) -> list[tuple[Block, str]]:
    """Exec the page's blocks in one namespace; returns (block, outcome) for each, where the
    outcome is "ok", "skipped", "not run" or the failure text."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    outcomes: list[tuple[Block, str]] = []
    failed = False
    for block in page.blocks:
        if block.skip is not None:
            outcomes.append((block, "skipped"))
            continue
        if failed and not keep_going:
            outcomes.append((block, "not run"))
            continue
        try:
            exec(_compiled(block), namespace)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt from a block count too
            if isinstance(exc, KeyboardInterrupt):
                raise
            failed = True
            outcomes.append((block, _failure(block, exc)))
        else:
            outcomes.append((block, "ok"))
        sys.stdout.flush()
    return outcomes


def run_page_here(path: Path) -> int:
    """Run one page in this process (already in its working directory); 0 when all ran."""
    network_off()
    page = parse(path)
    outcomes = run_blocks(page)
    failures = [text for _, text in outcomes if text not in ("ok", "skipped", "not run")]
    for text in failures:
        print(f"\nLLMREC-DOCS FAILURE\n{text}", file=sys.stderr)
    return 1 if failures else 0


def run_page(path: Path, workdir: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run one page in a fresh process with its working directory ``workdir``."""
    return subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--here", str(path.resolve())],
        cwd=workdir,
        env=page_env(workdir),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextlib.contextmanager
def _chdir(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _table(paths: Sequence[Path]) -> int:
    """Every block of the pages, tried even after a failure: the state of the docs at a glance."""
    code = 0
    totals = {"ok": 0, "skipped": 0, "failed": 0, "not run": 0}
    for path in paths:
        try:
            page = parse(path)
        except PageError as exc:
            print(f"== {exc}")
            code = 1
            continue
        with tempfile.TemporaryDirectory(prefix="llmrec-docs-") as tmp:
            proc = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--here-table", str(path)],
                cwd=tmp,
                env=page_env(Path(tmp)),
                capture_output=True,
                text=True,
                timeout=1800,
            )
        print(f"== {page.path}: {len(page.visible)} blocks")
        rows = [r for r in proc.stdout.splitlines() if r.startswith("ROW\t")]
        if not rows and page.blocks:
            print(proc.stderr[-1500:])
            code = 1
        for row in rows:
            _, where, hidden, outcome = row.split("\t", 3)
            kind = outcome.split(":", 1)[0]
            if hidden == "0":
                totals[kind] = totals.get(kind, 0) + 1
            print(f"  {where:36} {'(setup) ' if hidden == '1' else ''}{outcome}")
            code |= kind == "failed"
    print("totals:", ", ".join(f"{k} {v}" for k, v in totals.items()))
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", type=Path, help="default: README.md and docs/")
    parser.add_argument("--keep-going", action="store_true", help="try every block, print a table")
    parser.add_argument("--here", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--here-table", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.here or args.here_table:
        sys.path[0] = ""  # as in an interactive session: the working directory is importable
    paths = [p.resolve() for p in args.pages] or pages()
    if args.here:
        return run_page_here(paths[0])
    if args.here_table:
        network_off()
        for block, outcome in run_blocks(parse(paths[0]), keep_going=True):
            first = outcome.splitlines()[0] if outcome else outcome
            if outcome not in ("ok", "skipped", "not run"):
                first = "failed: " + first.split("failed: ", 1)[-1]
            print(f"ROW\t{block.where}\t{int(block.hidden)}\t{first}", flush=True)
        return 0
    # Pages share one cache folder (the synthetic data is generated once), never the user's.
    os.environ.setdefault("LLMREC_CACHE_DIR", tempfile.mkdtemp(prefix="llmrec-docs-cache-"))
    if args.keep_going:
        return _table(paths)
    code = 0
    for path in paths:
        with tempfile.TemporaryDirectory(prefix="llmrec-docs-") as tmp:
            proc = run_page(path, Path(tmp))
        status = "ok" if proc.returncode == 0 else "FAILED"
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {status}")
        if proc.returncode:
            print(proc.stderr[-3000:])
            code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())

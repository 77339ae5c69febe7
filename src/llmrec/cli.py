"""The ``llmrec`` command.

Each area of the library contributes its own sub-commands through a ``register(subparsers)``
function in its ``_cli`` module; this file only assembles them, so a command's code lives beside
the code it drives.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys
from collections.abc import Sequence

from llmrec import __version__
from llmrec.errors import LLMRecError

#: What to do about the system errors a user can fix, by errno.
_OS_HINTS = {
    errno.ENOSPC: "free some space and rerun; finished stages are kept and reused",
    errno.EDQUOT: "free some space and rerun; finished stages are kept and reused",
    errno.EROFS: "choose a writable folder",
    errno.EACCES: "choose a folder you can write to",
}


def describe_os_error(exc: OSError) -> str:
    """One line for a system error: what failed, on which file, and what to do about it."""
    what = exc.strerror or str(exc)
    where = f"{exc.filename}: " if exc.filename else ""
    hint = _OS_HINTS.get(exc.errno or 0)
    return f"{where}{what}" + (f"; {hint}" if hint else "")


# Modules whose ``register(subparsers)`` adds sub-commands, in the order they are listed.
_COMMAND_MODULES = (
    "llmrec.experiment._cli",
    "llmrec.data._cli",
    "llmrec.truth._cli",
    "llmrec.finetune._cli",
    "llmrec.probes._cli",
    "llmrec.testing._cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmrec",
        description="Large language models as recommenders: the Netflix Prize study, end to end.",
    )
    parser.add_argument("--version", action="version", version=f"llmrec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code (errors print one clear line)."""
    # Text read from files may hold a lone surrogate (a JSON "\\ud800" escape, or bytes decoded
    # with surrogateescape): print it escaped instead of dying with UnicodeEncodeError.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except LLMRecError as exc:
        print(f"llmrec: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into a reader that stopped early (`| head`)
        sys.stderr.close()
        return 0
    except OSError as exc:  # the system refused a read or write: full disk, read-only folder
        print(f"llmrec: error: {describe_os_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("llmrec: interrupted; finished work is kept and a rerun resumes", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

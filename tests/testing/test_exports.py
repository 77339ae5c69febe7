"""``llmrec.testing`` exposes a short, sorted, working ``__all__``, imported lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import llmrec.testing


def test_all_is_sorted_and_every_name_resolves() -> None:
    names = llmrec.testing.__all__
    assert names == sorted(names)
    for name in names:
        assert getattr(llmrec.testing, name).__name__ == name
    assert set(names) <= set(dir(llmrec.testing))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = llmrec.testing.Nope


def test_importing_the_package_does_not_import_the_server() -> None:
    code = (
        "import sys, llmrec.testing;"
        "print([m for m in sys.modules if m.startswith(('llmrec.testing.server',"
        " 'llmrec.testing.openai_server'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_server_keeps_its_old_import_path() -> None:
    from llmrec.testing import openai_server, server

    assert server.LocalOpenAIServer is openai_server.LocalOpenAIServer
    assert server.RecordedRequest is openai_server.RecordedRequest
    assert llmrec.testing.LocalOpenAIServer is openai_server.LocalOpenAIServer

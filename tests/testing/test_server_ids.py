"""Issue 11 item 23: the local server counts each kind of id on its own, as documented."""

from __future__ import annotations

import hashlib

from llmrec.testing.openai_server._state import IdMaker


def _expected(prefix: str, n: int) -> str:
    return prefix + hashlib.sha256(f"{prefix}{n}".encode()).hexdigest()[:24]


def test_each_kind_of_id_has_its_own_counter() -> None:
    ids = IdMaker()
    assert ids.new("chatcmpl-") == _expected("chatcmpl-", 1)
    assert ids.new("chatcmpl-") == _expected("chatcmpl-", 2)
    # the first file id does not depend on how many completions came before it
    assert ids.new("file-") == _expected("file-", 1)
    assert ids.new("batch_") == _expected("batch_", 1)
    assert ids.new("chatcmpl-") == _expected("chatcmpl-", 3)


def test_ids_are_unique_within_a_kind() -> None:
    ids = IdMaker()
    made = [ids.new(p) for _ in range(50) for p in ("file-", "ftjob-", "req_")]
    assert len(set(made)) == len(made)

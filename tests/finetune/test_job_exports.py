"""``llmrec.finetune`` exposes a short, sorted ``__all__`` whose names all exist."""

from __future__ import annotations

import llmrec.finetune


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's order for ``__all__``: CONSTANTS, then Classes, then functions, each A to Z."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_every_name_exists() -> None:
    names = llmrec.finetune.__all__
    assert names == sorted(names, key=_isort_key)
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(llmrec.finetune, name), name
    assert {"FineTuner", "JobState", "RunManifest", "export_chat_jsonl"} <= set(names)

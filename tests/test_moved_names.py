"""Names that moved keep working from where they were: each old path gives the same object."""

from __future__ import annotations

import importlib

import pytest

MOVED = [
    # (old module, name, new module)
    ("llmrec.finetune.local", "MissingExtraError", "llmrec._extras"),
    ("llmrec.finetune.local._deps", "MissingExtraError", "llmrec._extras"),
    ("llmrec.finetune.local._deps", "require", "llmrec._extras"),
    ("llmrec.finetune.local._deps", "quiet_peft", "llmrec._extras"),
    ("llmrec.finetune.local._deps", "library_versions", "llmrec._extras"),
    ("llmrec.finetune.local._deps", "TRAIN_PACKAGES", "llmrec._extras"),
    ("llmrec.finetune.manifest", "file_sha256", "llmrec._io"),
    ("llmrec.metrics._table", "text_table", "llmrec.metrics.table"),
    ("llmrec.metrics._table", "html_table", "llmrec.metrics.table"),
    ("llmrec.recommenders.openai_config", "default_cache_path", "llmrec.recommenders.llm.config"),
    ("llmrec.testing", "LocalOpenAIServer", "llmrec.testing.openai_server"),
    ("llmrec.testing.server", "LocalOpenAIServer", "llmrec.testing.openai_server"),
    ("llmrec.testing.server", "RecordedRequest", "llmrec.testing.openai_server"),
    ("llmrec.testing.server", "main", "llmrec.testing.openai_server"),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVED)
def test_the_old_path_gives_the_new_object(old: str, name: str, new: str) -> None:
    assert getattr(importlib.import_module(old), name) is getattr(
        importlib.import_module(new), name
    )


def test_a_missing_extra_is_still_caught_as_before() -> None:
    from llmrec._extras import MissingExtraError, require
    from llmrec.errors import ConfigError

    with pytest.raises(MissingExtraError, match=r"pip install 'llmrec\[train\]'") as caught:
        require("llmrec_no_such_package")
    assert isinstance(caught.value, ConfigError) and isinstance(caught.value, ImportError)

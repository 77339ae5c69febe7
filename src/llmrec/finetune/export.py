"""Write a :class:`~llmrec.truth.ProfileDataset` as an OpenAI chat fine-tuning file (JSON Lines).

One line per example, in dataset order: ``{"messages": [system, user, assistant]}`` built by
:meth:`llmrec.prompts.PromptTemplate.training_example` (T + F, the profile C, the gold list).
The file is UTF-8 (``ensure_ascii=False``, so accented titles stay readable) and written
atomically: an interrupted export leaves any previous file untouched.
"""

from __future__ import annotations

import json
from pathlib import Path

from llmrec._io import atomic_open
from llmrec._progress import progress
from llmrec.data.catalog import Catalog
from llmrec.errors import DataFormatError
from llmrec.prompts.template import PromptTemplate
from llmrec.truth.dataset import ProfileDataset

__all__ = ["export_chat_jsonl"]


def export_chat_jsonl(
    dataset: ProfileDataset,
    template: PromptTemplate,
    catalog: Catalog,
    path: str | Path,
    *,
    show_progress: bool = False,
) -> Path:
    """Write one chat example per user of ``dataset`` to ``path``; return the path.

    Raises :class:`~llmrec.errors.DataFormatError` naming the user when a profile or gold movie
    is missing from ``catalog`` or an example has an empty profile or gold list (OpenAI rejects
    empty messages).
    """
    out = Path(path)
    with atomic_open(out, "w") as handle:
        for example in progress(dataset, enabled=show_progress, total=len(dataset), desc="export"):
            if not example.profile or not example.gold:
                raise DataFormatError(
                    f"user {example.user_id} has an empty "
                    f"{'profile' if not example.profile else 'gold list'}; "
                    "filter such users before exporting",
                    path=out,
                )
            try:
                record = template.training_example(example.profile, example.gold, catalog)
            except KeyError as exc:
                raise DataFormatError(f"user {example.user_id}: {exc.args[0]}", path=out) from None
            handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
    return out

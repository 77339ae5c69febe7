"""The TALLRec stage: a ``[truth.NAME]`` table with ``kind = "tallrec"``.

TALLRec's task is pointwise: given ten rated movies, will the user like the next one (yes/no)?
The stage ``tallrec:NAME`` builds the peer's train, valid and test files exactly
(:func:`llmrec.protocols.tallrec.build`) from the run's data into ``tallrec/NAME/``
(``train.json``, ``valid.json``, ``test.json`` in TALLRec's Alpaca layout and
``tallrec.meta.json`` with each file's SHA-256), keyed by the data and the options, so a rerun
reuses them. The files are what a TALLRec fine-tuning run trains and is tested on.

Every backend is then scored on the test rows by :mod:`llmrec.experiment.stages.pointwise`
(AUC and gAUC: P("Yes") for a backend that reads likelihoods, the target's score otherwise).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from llmrec.experiment.store import stage_key

if TYPE_CHECKING:
    from llmrec.experiment.config.truth import TallRecTruthSpec
    from llmrec.experiment.context import LoadedData, RunContext

__all__ = ["TALLREC_PARTS", "tallrec_files"]

TALLREC_PARTS = ("train", "valid", "test")


def tallrec_files(
    ctx: RunContext, name: str, spec: TallRecTruthSpec, data: LoadedData
) -> tuple[str, dict[str, Any]]:
    """Build (or reuse) TALLRec's files for ``name``: the stage's key and the files' stats."""
    folder = f"tallrec/{name}"
    files = [f"{folder}/{part}.json" for part in TALLREC_PARTS]
    meta_path = f"{folder}/tallrec.meta.json"
    key = stage_key(data.key, spec.model_dump(mode="json"))

    def work() -> None:
        from llmrec.protocols import tallrec

        splits = tallrec.build(data.ratings, data.catalog, **spec.protocol_options())
        splits.write(ctx.out / folder)

    ctx.store.run(f"tallrec:{name}", key, [*files, meta_path], work)
    meta = ctx.read_json(meta_path)
    sizes = {
        part: len(json.loads((ctx.out / path).read_text("utf-8")))
        for part, path in zip(TALLREC_PARTS, files, strict=True)
    }
    stats: dict[str, Any] = {
        "protocol": "tallrec",
        "options": spec.protocol_options(),
        "files": files,
        "sha256": meta.get("sha256", {}),
        "rows": sizes,
        "scored": False,
    }
    return key, stats

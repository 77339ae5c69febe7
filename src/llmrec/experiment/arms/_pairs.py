"""The preference files every DPO arm learns from: the free stage ``dpo-files:NAME``.

From the same train (and validation) split the SFT arm learns from
(:func:`llmrec.finetune.export_preference_jsonl`): chosen = the gold list, rejected from the
named builder (``popularity`` or ``random``), counted on the ratings the backends are fitted on,
so no held-out rating of a test user is seen. Free, so a dry run counts its tokens exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmrec._io import write_json_atomic
from llmrec.experiment.store import stage_key

if TYPE_CHECKING:
    from llmrec.data import Catalog, Ratings
    from llmrec.experiment.context import PreparedTruth, RunContext

__all__ = ["pair_paths", "write_pairs"]


def pair_paths(name: str) -> dict[str, str]:
    """The DPO files of truth ``name``: pairs, their summary, and the trained arm's record."""
    return {
        "train": f"finetune/{name}.dpo.train.jsonl",
        "val": f"finetune/{name}.dpo.val.jsonl",
        "summary": f"finetune/{name}.dpo.summary.json",
        "record": f"finetune/{name}.dpo.json",
    }


def write_pairs(
    ctx: RunContext,
    truth: PreparedTruth,
    ratings: Ratings,
    catalog: Catalog,
    *,
    rejected: str,
    seed: int,
) -> dict[str, Any]:
    """Write (or reuse) ``truth``'s preference files; ``{"key": ..., "files": summary}``."""
    from llmrec.experiment.truths import fitting_ratings
    from llmrec.finetune import export_preference_jsonl

    config, parts, name = ctx.config, truth.parts, truth.name
    paths = pair_paths(name)
    has_val = len(parts["val"]) > 0
    key = stage_key(truth.key, config.template.model_dump(mode="json"), rejected, seed, "dpo-files")

    def work() -> None:
        probe = ctx.probe_for(truth.spec)
        fitting = fitting_ratings(truth.spec, ratings, truth.test.user_ids, probe=probe)
        record: dict[str, Any] = {"rejected": rejected, "seed": seed}
        for part in ("train", "val") if has_val else ("train",):
            pairs = export_preference_jsonl(
                parts[part],
                config.template,
                catalog,
                ctx.out / paths[part],
                rejected=rejected,
                ratings=fitting,
                seed=seed,
            )
            record[part] = {**pairs.to_dict(), "path": paths[part]}
        write_json_atomic(ctx.out / paths["summary"], record)

    outputs = [paths["train"], paths["summary"], *([paths["val"]] if has_val else [])]
    ctx.store.run(f"dpo-files:{name}", key, outputs, work)
    return {"key": key, "files": ctx.read_json(paths["summary"])}

"""The preference files every DPO arm learns from: the free stage ``dpo-files:NAME``.

From the same train (and validation) split the SFT arm learns from
(:func:`llmrec.finetune.export_preference_jsonl`): chosen = the gold list, rejected from the
named builder (``popularity`` or ``random``), counted on the ratings the backends are fitted on,
so no held-out rating of a test user is seen. Free, so a dry run counts its tokens exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from llmrec._io import write_json_atomic
from llmrec.experiment.store import stage_key

if TYPE_CHECKING:
    from llmrec.experiment.context import LoadedData, PreparedTruth, RunContext

__all__ = ["PairSettings", "pair_paths", "pairs_text", "write_pairs"]


class PairSettings(Protocol):
    """What the preference files depend on in a DPO arm's table."""

    @property
    def rejected(self) -> str: ...
    @property
    def seed(self) -> int: ...


def pair_paths(name: str) -> dict[str, str]:
    """The DPO files of truth ``name``: pairs, their summary, and the trained arm's record."""
    return {
        "train": f"finetune/{name}.dpo.train.jsonl",
        "val": f"finetune/{name}.dpo.val.jsonl",
        "summary": f"finetune/{name}.dpo.summary.json",
        "record": f"finetune/{name}.dpo.json",
    }


def pairs_text(info: Mapping[str, Any]) -> str:
    """What a DPO arm learned from, for the report: the train split's pairs, how they were
    built and what was dropped (``info``: the arm's record, with the files' summary)."""
    train = info.get("files", {}).get("train", {})
    dropped = ", ".join(f"{n:,} {why}" for why, n in sorted(train.get("dropped", {}).items()))
    dropped = f"; dropped {dropped}" if dropped else ""
    return (
        f"{train.get('n_pairs', 0):,} pairs from the train split (chosen: the gold list; "
        f"rejected: {info.get('rejected')} lists{dropped})"
    )


def write_pairs(
    ctx: RunContext, truth: PreparedTruth, data: LoadedData, settings: PairSettings
) -> dict[str, Any]:
    """Write (or reuse) ``truth``'s preference files with the rejected-list builder and seed
    of ``settings`` (an arm's DPO table); ``{"key": ..., "files": summary}``."""
    from llmrec.experiment.truths import fitting_ratings
    from llmrec.finetune import export_preference_jsonl

    config, parts, name = ctx.config, truth.parts, truth.name
    rejected, seed, ratings, catalog = settings.rejected, settings.seed, data.ratings, data.catalog
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

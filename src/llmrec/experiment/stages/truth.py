"""The truth stages: build one configured truth, split it, and give the ratings every backend
is fitted on for it (checked for leakage). The rules are in :mod:`llmrec.experiment.truths`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmrec.errors import ConfigError
from llmrec.experiment.config.truth import NextItemTruthSpec
from llmrec.experiment.context import PreparedTruth
from llmrec.experiment.store import stage_key
from llmrec.experiment.truths import build_truth, check_fitting, fitting_ratings, stage_inputs
from llmrec.truth import ProfileDataset

if TYPE_CHECKING:
    from llmrec.data import Ratings
    from llmrec.experiment.context import RunContext

__all__ = ["PARTS", "fitting_set", "next_item_candidates", "prepare_truth"]

PARTS = ("train", "val", "test")


def next_item_candidates(name: str) -> str:
    """Where a next-item truth's stored candidate sets are, inside the output folder."""
    return f"truth/{name}.candidates.jsonl"


def prepare_truth(ctx: RunContext, name: str, ratings: Ratings, data_key: str) -> PreparedTruth:
    """The stages ``truth:NAME`` (``truth/NAME.jsonl``) and ``split:NAME`` (its train, val and
    test parts), each reused when its inputs are unchanged."""
    spec = ctx.config.truth[name]
    probe = ctx.probe_for(spec)
    truth_key = stage_key(data_key, *stage_inputs(spec, probe))
    path = f"truth/{name}.jsonl"
    outputs = [path]
    if isinstance(spec, NextItemTruthSpec):  # its stored 1 + 19 sets are part of the truth
        outputs.append(next_item_candidates(name))

    def build() -> None:
        if isinstance(spec, NextItemTruthSpec):
            from llmrec.protocols import next_item

            try:
                built = next_item.build(ratings, **spec.protocol_options())
            except ConfigError as exc:
                raise ConfigError(f"[truth.{name}] (kind = 'next_item'): {exc}") from None
            ds = built.dataset
            built.candidates.meta["truth"] = name
            built.candidates.save(ctx.out / outputs[1])
        else:
            ds = build_truth(spec, ratings, probe=probe, progress=ctx.progress)
        ds.meta["name"] = name
        ds.save(ctx.out / path)

    ctx.store.run(f"truth:{name}", truth_key, outputs, build)
    dataset = ProfileDataset.load(ctx.out / path)

    s = ctx.config.split
    key = stage_key(truth_key, s.model_dump(mode="json"))
    paths = {part: f"truth/{name}.{part}.jsonl" for part in PARTS}

    def split() -> None:
        parts = dataset.split(s.train, s.val, s.test, seed=s.seed)
        for part, ds in zip(PARTS, parts, strict=True):
            ds.save(ctx.out / paths[part])

    ctx.store.run(f"split:{name}", key, list(paths.values()), split)
    parts = {part: ProfileDataset.load(ctx.out / p) for part, p in paths.items()}
    return PreparedTruth(name=name, spec=spec, key=key, dataset=dataset, parts=parts)


def fitting_set(ctx: RunContext, truth: PreparedTruth, ratings: Ratings) -> Ratings:
    """The ratings every backend is fitted on for ``truth``, checked: none of them shows a
    backend what it is scored on (:class:`~llmrec.errors.LeakageError` otherwise)."""
    probe = ctx.probe_for(truth.spec)
    users = truth.test.user_ids
    gold = {e.user_id: tuple(e.gold) for e in truth.test}
    fitting = fitting_ratings(truth.spec, ratings, users, probe=probe, gold=gold)
    check_fitting(truth.spec, fitting, ratings, users, probe=probe, gold=gold)
    return fitting

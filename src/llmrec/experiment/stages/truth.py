"""The truth stages: build one configured truth, split it, and give the ratings every backend
is fitted on for it (checked for leakage). The rules are in :mod:`llmrec.experiment.truths`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmrec.errors import ConfigError
from llmrec.experiment.config.truth import NextItemTruthSpec
from llmrec.experiment.context import PreparedTruth
from llmrec.experiment.store import stage_key
from llmrec.experiment.truths import build_truth, check_fitting, fitting_ratings, stage_inputs
from llmrec.truth import ProfileDataset

if TYPE_CHECKING:
    from llmrec.data import Ratings
    from llmrec.experiment.context import RunContext

__all__ = ["PARTS", "empty_truth", "fitting_set", "next_item_candidates", "prepare_truth"]

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
    if len(dataset) == 0:
        raise empty_truth(name, spec, ratings, dataset)

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


def empty_truth(name: str, spec: Any, ratings: Ratings, dataset: ProfileDataset) -> ConfigError:
    """Why the truth ``[truth.NAME]`` has no examples, naming the setting to change (instead of
    a later stage failing on an empty file that does not say which truth it came from)."""
    import numpy as np

    what = f"[truth.{name}] (kind = {spec.kind!r}) has no examples"
    held, total = int(dataset.meta.get("n_held_out", 0)), len(ratings)
    if total == 0:
        return ConfigError(f"{what}: the data holds no ratings")
    first, last = (str(d) for d in (np.min(ratings.date), np.max(ratings.date)))
    if spec.kind == "time_split" and held in (0, total):
        side = "after the last" if held == 0 else "on or before the first"
        return ConfigError(
            f"{what}: cutoff = {str(spec.cutoff)!r} is {side} rating (the ratings run from "
            f"{first} to {last}); choose a cutoff between them"
        )
    if spec.kind == "probe" and held == 0:
        return ConfigError(
            f"{what}: the probe set (probe.txt of the data) is empty or holds none of its ratings"
        )
    return ConfigError(
        f"{what}: {held:,} of {total:,} ratings are held out, but no user qualifies "
        f"(ineligible users: {dataset.meta.get('ineligible', {})})"
    )


def fitting_set(ctx: RunContext, truth: PreparedTruth, ratings: Ratings) -> Ratings:
    """The ratings every backend is fitted on for ``truth``, checked: none of them shows a
    backend what it is scored on (:class:`~llmrec.errors.LeakageError` otherwise)."""
    probe = ctx.probe_for(truth.spec)
    users = truth.test.user_ids
    gold = {e.user_id: tuple(e.gold) for e in truth.test}
    fitting = fitting_ratings(truth.spec, ratings, users, probe=probe, gold=gold)
    check_fitting(truth.spec, fitting, ratings, users, probe=probe, gold=gold)
    return fitting

"""The candidate-ranking protocol in the experiment: a truth with ``ranking = "candidates"``.

For such a truth the run, instead of asking every backend for ``k`` movies out of the whole
catalogue,

1. samples one candidate set per test user (:class:`~llmrec.truth.CandidateSampler` over every
   rating of the data, so a negative is a movie the user never rated, in the history or held
   out) as the stage ``candidates:NAME``: ``candidates/NAME.jsonl`` with its fingerprint, reused
   by a rerun whose split and sampler settings are unchanged, after checking it: the content
   must match the fingerprint in ``NAME.jsonl.meta.json``, cover exactly the test users (less
   those skipped) and hold each user's gold as positives (:func:`check_stored_sets`; a
   ``DataFormatError`` naming the file otherwise). A test user with fewer unrated movies than
   the negatives needed is skipped and counted (``too_few_negatives = "skip"``) or stops the
   run (``"fail"``);
2. prices every language-model backend's ranking requests (``estimate_rank_cost``, every
   presentation order) in the run's plan, so the whole-run budget check covers them before
   anything is sent (a backend that cannot price ranking is an unknown cost);
3. runs every backend's :meth:`~llmrec.recommenders.Recommender.rank_many` on the same sets, in
   ``repeats`` seeded presentation orders (repeat 0 is the sampled order), as the stage
   ``rank:NAME:LABEL``: ``ranks/NAME/LABEL.rR.jsonl``, one row per user with the candidates as
   shown and the answer; language-model answers also go through the run's response cache;
4. scores HR@1/3/5 and NDCG@5/10 over the candidates (:data:`RANKING_METRICS`), strict and
   valid-only side by side with the validity rate, and with ``repeats > 1`` the mean and
   interval over repeats, the top-1 flip rate and the top-1 first-listed rate
   (:class:`~llmrec.experiment.ranking_results.RankingResult`); every two language-model
   backends (a model ranking by generation and by likelihood, say) are compared by paired
   tests on the same sets (:mod:`llmrec.experiment.ranking_tests`).

Every backend is asked for ``k`` (the experiment's list length) ranked candidates.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Hashable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from llmrec._io import atomic_open, write_json_atomic
from llmrec.errors import ConfigError, DataFormatError
from llmrec.experiment.config.ranking import RankingFields
from llmrec.experiment.plan import PlanLine
from llmrec.experiment.ranking_results import (
    RankingBackend,
    RankingCell,
    RankingRepeat,
    RankingResult,
)
from llmrec.experiment.stages.training import read_training, write_training
from llmrec.experiment.store import stage_key
from llmrec.truth import CandidateSampler, CandidateSets

if TYPE_CHECKING:
    from llmrec.data import Catalog, Ratings
    from llmrec.experiment.config import BackendSpec
    from llmrec.experiment.context import PreparedTruth, RunContext
    from llmrec.experiment.results import BackendEntry
    from llmrec.recommenders.base import Recommendation
    from llmrec.truth import ProfileDataset

__all__ = [
    "NEXT_ITEM_METRICS",
    "RANKING_METRICS",
    "CandidateRanking",
    "check_stored_sets",
    "sample_candidates",
]

#: The metrics of the candidate protocol (the usual ones of LLMRank, LLaRA and RecLM-eval).
RANKING_METRICS = ("hit@1", "hit@3", "hit@5", "ndcg@5", "ndcg@10")
#: The metrics of a next-item truth (one target among 1 + 19: HR, NDCG and MRR, as RecLM-eval).
NEXT_ITEM_METRICS = ("hit@1", "hit@5", "hit@10", "ndcg@5", "ndcg@10", "mrr@10")


def sample_candidates(
    ctx: RunContext, truth: PreparedTruth, ratings: Ratings
) -> CandidateRanking | None:
    """The candidate sets of ``truth``, sampled (or reused), if it ranks candidates; ``None``
    for a ``"full"`` truth."""
    spec = truth.spec
    if not isinstance(spec, RankingFields) or spec.ranking != "candidates":
        return None
    if spec.kind == "next_item":
        return CandidateRanking.stored(ctx, truth.name, spec, truth.key, truth.test)
    return CandidateRanking.sample(ctx, truth.name, spec, truth.key, truth.test, ratings)


class CandidateRanking:
    """One candidate-ranking truth of a run: its sets, their orders and the backends' files."""

    def __init__(
        self,
        ctx: RunContext,
        name: str,
        spec: RankingFields,
        key: str,
        test: ProfileDataset,
        sets: CandidateSets,
        skipped: int = 0,
    ) -> None:
        self.ctx = ctx
        self.name = name
        self.spec = spec
        self.key = key
        self.test = test if not skipped else test.subset(sets.user_ids)
        self.sets = sets
        self.skipped = skipped
        self.orders = sets.orders(spec.repeats, spec.candidate_seed)
        self.files: dict[str, list[str]] = {}
        self.path = f"candidates/{name}.jsonl"
        self.metrics: tuple[str, ...] = RANKING_METRICS

    @classmethod
    def stored(
        cls, ctx: RunContext, name: str, spec: RankingFields, split_key: str, test: ProfileDataset
    ) -> CandidateRanking:
        """A next-item truth's 1 + 19 sets, stored by its truth stage, scored with HR, NDCG
        and MRR at 1, 5 and 10 (:data:`NEXT_ITEM_METRICS`)."""
        from llmrec.experiment.stages.truth import next_item_candidates

        path = next_item_candidates(name)
        sets = CandidateSets.load(ctx.out / path)
        ranking = cls(ctx, name, spec, stage_key(split_key, sets.fingerprint()), test, sets)
        ranking.path = path
        ranking.metrics = NEXT_ITEM_METRICS
        return ranking

    @property
    def k(self) -> int:
        return int(self.ctx.config.k)

    # -- 1. the sets ----------------------------------------------------------------------
    @classmethod
    def sample(
        cls,
        ctx: RunContext,
        name: str,
        spec: RankingFields,
        split_key: str,
        test: ProfileDataset,
        ratings: Ratings,
    ) -> CandidateRanking:
        sampler = CandidateSampler(
            n_candidates=spec.n_candidates,
            negatives=spec.negatives,
            max_positives=spec.max_positives,
            seed=spec.candidate_seed,
        )
        path = f"candidates/{name}.jsonl"
        key = stage_key(split_key, sampler.model_dump(mode="json"))

        skip = spec.too_few_negatives == "skip"
        where = f"[truth.{name}] (ranking = 'candidates')"

        def work() -> None:
            try:
                sets = sampler.sample(test, ratings, skip_short=skip)
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None
            sets.meta["truth"] = name
            sets.save(ctx.out / path)

        ran = ctx.store.run(f"candidates:{name}", key, [path, path + ".meta.json"], work)
        sets = CandidateSets.load(ctx.out / path)
        if not ran:  # found in --out: checked before it is used (or paid for) again
            check_stored_sets(ctx.out / path, sets, test, spec.max_positives)
        skipped = [int(u) for u in sets.meta.get("skipped_users", [])]
        if skipped and not skip:
            raise ConfigError(
                f"{where}: {len(skipped)} test user(s) have fewer unrated movies than the "
                f"negatives needed (first: user {skipped[0]}) and too_few_negatives = 'fail'; "
                "lower n_candidates, or set too_few_negatives = 'skip' to leave them out"
            )
        return cls(ctx, name, spec, stage_key(key, sets.fingerprint()), test, sets, len(skipped))

    def _lists(self, order: CandidateSets) -> list[tuple[int, ...]]:
        return [order[u] for u in self.test.user_ids]

    # -- 2. the plan ----------------------------------------------------------------------
    def cost_line(
        self, spec: BackendSpec, rec: Any, catalog: Catalog, *, will_run: bool
    ) -> PlanLine:
        """What ranking every order costs a language-model backend (``usd`` ``None``: unknown)."""
        profiles = self.test.profiles
        requests = tokens_in = tokens_out = 0
        usd: float | None = 0.0
        worst: float | None = 0.0
        model = getattr(rec, "model_id", "?")
        estimate = getattr(rec, "estimate_rank_cost", None)
        for order in self.orders:
            if estimate is None:  # a plugin without the ranking estimate: unknown, not zero
                requests += len(profiles)
                usd = None
                continue
            est = estimate(profiles, self._lists(order), self.k, catalog)
            requests += est.requests
            tokens_in += est.input_tokens
            tokens_out += est.output_tokens
            usd = None if usd is None or est.usd is None else usd + est.usd
            est_worst = getattr(est, "worst_usd", None)
            worst = None if worst is None or est_worst is None else worst + est_worst
            model = est.model
        return PlanLine(
            step=f"{spec.display} ranking on {self.name} ({len(profiles)} test users × "
            f"{len(self.orders)} order(s) of {self.spec.n_candidates} candidates, model {model})",
            requests=requests,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            usd=usd,
            worst_usd=worst if requests and usd is not None else None,
            will_run=will_run,
        )

    def stage(self, spec: BackendSpec, rec: Any) -> tuple[str, str]:
        """The stage name and key of one backend's rankings."""
        key = stage_key(self.key, spec.name, rec.to_config()["config"], self.k, self.spec.repeats)
        return f"rank:{self.name}:{spec.display}", key

    # -- 3. the rankings ------------------------------------------------------------------
    def run(
        self,
        spec: BackendSpec,
        rec: Any,
        entry: BackendEntry,
        train_ratings: Ratings,
        catalog: Catalog,
        train: ProfileDataset,
    ) -> BackendEntry:
        """Fit ``rec`` and rank every order (or reuse the finished stage)."""
        ctx = self.ctx
        stage, key = self.stage(spec, rec)
        paths = [f"ranks/{self.name}/{spec.display}.r{r}.jsonl" for r in range(len(self.orders))]
        config_path = f"ranks/{self.name}/{spec.display}.config.json"
        training = f"ranks/{self.name}/{spec.display}.training.json"
        failed = [0]

        def work() -> None:
            write_json_atomic(ctx.out / config_path, {**rec.to_config(), "k": self.k})
            rec.fit(train_ratings, catalog, train)
            write_training(ctx.out, training, rec)
            for order, path in zip(self.orders, paths, strict=True):
                lists = self._lists(order)
                recs = rec.rank_many(self.test.profiles, lists, self.k, progress=ctx.progress)
                _write_ranks(ctx.out / path, self.test.user_ids, lists, recs)
                failed[0] += sum(1 for r in recs if "failed" in (r.diagnostics or {}))

        ctx.store.run(stage, key, [*paths, config_path], work)
        if failed[0]:  # failed answers are not cached: the next run asks for them again
            ctx.store.forget(stage)
        self.files[entry.label] = paths
        read_training(ctx.out, training, entry)
        return entry

    # -- 4. the scores --------------------------------------------------------------------
    def result(self, entries: list[BackendEntry], *, evaluate: bool) -> RankingResult:
        """The candidate sets and (``evaluate``) every ranked backend's scores."""
        truth = {u: self.sets.positives(u) for u in self.test.user_ids}
        out = RankingResult(
            n_candidates=self.spec.n_candidates,
            negatives=self.spec.negatives,
            max_positives=self.spec.max_positives,
            repeats=self.spec.repeats,
            seed=self.spec.candidate_seed,
            k=self.k,
            metrics=list(self.metrics),
            candidates_file=self.path,
            fingerprint=self.sets.fingerprint(),
            order_fingerprints=[o.fingerprint() for o in self.orders],
            n_users=len(truth),
            mean_positives=sum(map(len, truth.values())) / len(truth) if truth else 0.0,
            skipped_users=self.skipped,
            backends={},
        )
        if not evaluate:
            return out
        config = self.ctx.config
        for entry in entries:
            files = self.files.get(entry.label)
            if files is not None:
                rows = [_read(self.ctx.out / f) for f in files]
                out.backends[entry.label] = score_backend(
                    files,
                    rows,
                    truth,
                    n_bootstrap=config.n_bootstrap,
                    seed=config.seed,
                    metrics=self.metrics,
                )
        # every two language-model backends on the same sets (e.g. generation vs likelihood)
        from llmrec.experiment.pvalues import adjust_family
        from llmrec.experiment.ranking_tests import ranking_comparisons

        llm = {e.label: self.files[e.label] for e in entries if e.llm and e.label in out.backends}
        tests = ranking_comparisons(self.ctx, self.name, self.key, llm, truth, self.metrics)
        if tests:
            out.comparisons = adjust_family(tests, config.p_adjust)
            out.p_adjust = config.p_adjust
        return out


def check_stored_sets(
    path: Path, sets: CandidateSets, test: ProfileDataset, max_positives: int | None
) -> None:
    """Raise :class:`~llmrec.errors.DataFormatError` naming ``path`` unless the stored sets are
    the ones sampled for ``test``: their content matches the fingerprint in the metadata, they
    cover exactly the test users not skipped, and each user's positives are the user's gold
    (the first ``max_positives``). An edited positive would change HR and NDCG silently."""
    again = "; delete it and its .meta.json to sample the sets again"
    recorded = sets.meta.get("fingerprint")
    if recorded != sets.fingerprint():
        raise DataFormatError(
            f"the candidate sets do not match the fingerprint recorded in {path.name}.meta.json "
            f"({str(recorded)[:16]}…, the file gives {sets.fingerprint()[:16]}…): the file was "
            f"edited or damaged{again}",
            path=path,
        )
    skipped = {int(u) for u in sets.meta.get("skipped_users", [])}
    expected = set(test.user_ids) - skipped
    missing, extra = sorted(expected - set(sets)), sorted(set(sets) - expected)
    if missing or extra:
        which = f"test user {missing[0]} has no set" if missing else f"user {extra[0]} is not"
        raise DataFormatError(
            f"the candidate sets are not those of this truth's test users ({which}"
            f"{'' if missing else ' a test user'}){again}",
            path=path,
        )
    for example in test:
        if example.user_id in skipped:
            continue
        gold = tuple(example.gold if max_positives is None else example.gold[:max_positives])
        if sets.positives(example.user_id) != gold:
            raise DataFormatError(
                f"user {example.user_id}'s positives {list(sets.positives(example.user_id))} "
                f"are not the truth's gold {list(gold)}{again}",
                path=path,
            )


def _write_ranks(
    path: Path, users: list[int], lists: list[tuple[int, ...]], recs: list[Recommendation]
) -> None:
    with atomic_open(path, "w") as fh:
        for user, shown, rec in zip(users, lists, recs, strict=True):
            row = {"user_id": user, "candidates": list(shown), **rec.to_dict()}
            fh.write(json.dumps(row, sort_keys=True) + "\n")


def _read(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _clean(x: float) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


def _is_valid(row: dict[str, Any]) -> bool:
    """:attr:`Recommendation.valid` of a saved row: a movie named, and no failed request."""
    return bool(row["movie_ids"]) and "failed" not in (row.get("diagnostics") or {})


def score_backend(
    files: list[str],
    rows: list[list[dict[str, Any]]],
    truth: dict[int, tuple[int, ...]],
    *,
    n_bootstrap: int,
    seed: int,
    metrics: Sequence[str] = RANKING_METRICS,
) -> RankingBackend:
    """Scores of one backend from its saved rows (one list of rows per repeat)."""
    from llmrec.metrics import evaluate_validity, summarize_repeats

    metrics = list(metrics)
    rankings: list[Mapping[Hashable, Sequence[Hashable]]] = [
        {int(r["user_id"]): tuple(r["movie_ids"]) for r in rep} for rep in rows
    ]
    valid = [{int(r["user_id"]) for r in rep if _is_valid(r)} for rep in rows]
    orders: list[Mapping[Hashable, Sequence[Hashable]]] = [
        {int(r["user_id"]): tuple(r["candidates"]) for r in rep} for rep in rows
    ]
    gold: Mapping[Hashable, Collection[Hashable]] = dict(truth.items())
    summary = summarize_repeats(rankings, gold, metrics, valid=valid, orders=orders)
    if summary.valid_only is None or summary.validity_rate is None:  # pragma: no cover
        raise RuntimeError("summarize_repeats left out the valid-only block")
    per_repeat = [
        RankingRepeat(
            strict={m: _clean(summary.strict[m].values[r]) for m in metrics},
            valid_only={m: _clean(summary.valid_only[m].values[r]) for m in metrics},
            n_valid=len(valid[r] & truth.keys()),
            validity_rate=_clean(summary.validity_rate.values[r]),
        )
        for r in range(len(rows))
    ]
    if len(rows) == 1:  # one order: the bootstrap over users
        report = evaluate_validity(
            rankings[0], truth, valid[0], metrics, n_bootstrap=n_bootstrap, seed=seed
        )
        strict, valid_only = (
            {
                m: RankingCell(
                    mean=_clean(rep.means[m]),
                    ci_low=_clean(rep.ci[m][0]),
                    ci_high=_clean(rep.ci[m][1]),
                )
                for m in metrics
            }
            for rep in (report.strict, report.valid_only)
        )
        interval: Literal["bootstrap over users", "t over repeats"] = "bootstrap over users"
    else:  # several orders: the mean over repeats, Student's t over the repeat means
        strict, valid_only = (
            {
                m: RankingCell(mean=_clean(s.mean), ci_low=_clean(s.low), ci_high=_clean(s.high))
                for m, s in stats.items()
            }
            for stats in (summary.strict, summary.valid_only)
        )
        interval = "t over repeats"
    return RankingBackend(
        files=files,
        n_users=len(truth),
        validity_rate=_clean(summary.validity_rate.mean),
        strict=strict,
        valid_only=valid_only,
        interval=interval,
        per_repeat=per_repeat,
        top1_flip_rate=_clean(summary.top1_flip_rate),
        top1_first_listed=_clean(summary.top1_first_listed)
        if summary.top1_first_listed is not None
        else None,
        llm=_llm_lines([r for rep in rows for r in rep]),
    )


def _llm_lines(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Requests, tokens, cost and failures of a language-model backend (``None``: not one)."""
    if not any(r.get("raw_text") is not None for r in rows):
        return None
    diags = [r.get("diagnostics") or {} for r in rows]
    usage = [r.get("usage") or {} for r in rows]
    paid = [float(r.get("cost_usd") or 0.0) for r in rows]
    return {
        "responses": len(rows),
        "invalid_answers": sum(1 for r in rows if not _is_valid(r)),
        "invalid_items": sum(int(d.get("n_invalid", 0)) for d in diags),
        "prompt_tokens": sum(int(u.get("prompt_tokens", 0)) for u in usage),
        "completion_tokens": sum(int(u.get("completion_tokens", 0)) for u in usage),
        "cost_usd": sum(paid),
        "cost_paid_this_run_usd": sum(
            c for c, r in zip(paid, rows, strict=True) if not r.get("cached")
        ),
        "served_from_cache": sum(1 for r in rows if r.get("cached")),
        "failed_answers": sum(1 for d in diags if "failed" in d),
    }

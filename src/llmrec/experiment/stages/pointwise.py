"""The pointwise protocol: every backend scored on a TALLRec truth's test rows, read by AUC.

For a ``[truth.NAME]`` with ``kind = "tallrec"``, after its files (:mod:`.tallrec`):

1. **plan** (:func:`plan_pointwise`, before the run's budget check): every backend is built as
   for any truth and asked what it can do, never by name:

   * a language-model backend whose ``likelihood`` capability holds ``"next_token_logprobs"``
     scores P("Yes") per row (:func:`llmrec.protocols.tallrec.score`, TALLRec's rule); its
     requests (one prompt-only request per row, exact input tokens) are a line of the plan;
   * a language-model backend without it is skipped, the reason in the report;
   * any other recommender (classic, sequential) scores the row's target as the one candidate
     after the row's history, oldest first (:meth:`~llmrec.recommenders.Recommender.rank_many`
     with ``candidates = [target]``; the backend's own score, e.g. item-kNN's summed
     similarity, EASE's ``x·B``, SASRec's logit, popularity's count): one pass over the rows,
     the score of the target turned into AUC (a target the backend does not know is scored
     below everything and counted);
   * a backend that runs a fine-tuning arm's model trained in this run is skipped (the arms
     train on a ranking truth's chat files, not on TALLRec's rows; give it a ``model``).

2. **score** (:func:`score_pointwise`): each backend is fitted on every rating of the data but
   the test rows' targets, and writes ``tallrec/NAME/scores/LABEL.csv`` (row, user, target,
   label, score) as the stage ``score:NAME:LABEL``, keyed by the files and the backend's
   config, so a rerun reuses it; language-model readings go through the run's response cache
   as they arrive, so a run stopped half-way pays for nothing twice.

3. **evaluate**: AUC and gAUC with 95 % bootstrap intervals over users
   (:func:`llmrec.metrics.evaluate_auc`), and between every two scored backends on the same
   rows: paired tests (t, Wilcoxon, randomisation, Cohen's d_z) of the per-user AUCs, and the
   pooled AUC's difference with its paired user-bootstrap interval and p-value
   (:func:`llmrec.metrics.compare_auc`), as the stage ``pointwise-tests:NAME``
   (``metrics/NAME.pointwise_comparisons.json``), adjusted for multiple tests like every table
   of paired tests (``p_adjust``; the AUC p-values over the table's pairs).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from llmrec._io import atomic_open, write_json_atomic
from llmrec.errors import DataFormatError
from llmrec.experiment.plan import PlanLine
from llmrec.experiment.pointwise_results import (
    PointwiseBackend,
    PointwiseCell,
    PointwiseResult,
    Scorer,
)
from llmrec.experiment.results import BackendEntry, DatasetResult
from llmrec.experiment.stages.backends import build_backend
from llmrec.experiment.stages.tallrec import tallrec_files
from llmrec.experiment.store import stage_key

if TYPE_CHECKING:
    from pathlib import Path

    from llmrec.data import Ratings
    from llmrec.experiment.arms.base import FineTuningArm
    from llmrec.experiment.config.truth import TallRecTruthSpec
    from llmrec.experiment.context import LoadedData, RunContext
    from llmrec.metrics import MetricReport
    from llmrec.protocols.tallrec import TallRecSet

__all__ = ["PlannedPointwise", "fitting_without_targets", "plan_pointwise", "score_pointwise"]

_HEADER = ["row", "user_id", "target", "liked", "score"]


@dataclass
class _Scorer:
    entry: BackendEntry
    rec: Any
    how: Scorer
    stage: str
    key: str
    path: str
    requests: int | None = None
    input_tokens: int | None = None


@dataclass
class PlannedPointwise:
    """A pointwise truth after its free stages: the test rows and every backend's plan."""

    name: str
    key: str
    stats: dict[str, Any]
    test: TallRecSet
    fitting: Ratings
    entries: list[BackendEntry] = field(default_factory=list)
    scorers: list[_Scorer] = field(default_factory=list)


def fitting_without_targets(ratings: Ratings, test: TallRecSet) -> Ratings:
    """Every rating but the test rows' targets (each ``(user, target)`` pair left out), so no
    backend is fitted on a rating it is asked to predict."""
    users = np.asarray(ratings.user_id, dtype=np.int64)
    movies = np.asarray(ratings.movie_id, dtype=np.int64)
    width = int(max(movies.max(initial=0), test.target.max(initial=0))) + 1
    held = test.user_id.astype(np.int64) * width + test.target.astype(np.int64)
    keep = np.flatnonzero(~np.isin(users * width + movies, held))
    return ratings.take(keep)


def plan_pointwise(
    ctx: RunContext,
    name: str,
    spec: TallRecTruthSpec,
    data: LoadedData,
    arms: list[FineTuningArm],
) -> PlannedPointwise:
    """TALLRec's files, the test rows, and every backend built and priced (nothing sent)."""
    from llmrec.protocols import tallrec
    from llmrec.recommenders.capabilities import LanguageModelBackend
    from llmrec.recommenders.llm.transports.base import NEXT_TOKEN_LOGPROBS

    key, stats = tallrec_files(ctx, name, spec, data)
    test = tallrec.build(data.ratings, data.catalog, **spec.protocol_options()).test
    planned = PlannedPointwise(name, key, stats, test, fitting_without_targets(data.ratings, test))
    by_method = {arm.method: arm for arm in arms}
    conversations = [tallrec.chat_messages(r) for r in test.to_alpaca()]
    for backend_spec in ctx.config.backends:
        built = build_backend(ctx, backend_spec, arms=by_method, known={})
        entry, rec = built.entry, built.rec
        planned.entries.append(entry)
        label = backend_spec.display
        if built.awaits_arm:
            entry.skipped = (
                f"runs the model fine-tuning arm {built.arm!r} trains on a ranking truth's chat "
                "files, not on TALLRec's rows; give it a `model` to score one"
            )
            continue
        how: Scorer = "target score"
        if isinstance(rec, LanguageModelBackend):
            reads = frozenset(getattr(rec, "likelihood", frozenset()))
            if NEXT_TOKEN_LOGPROBS not in reads:
                entry.skipped = (
                    "cannot score likelihoods: P(Yes) needs the 'next_token_logprobs' "
                    f"capability; it declares {sorted(reads) or 'none (generation only)'}"
                )
                continue
            how = "likelihood"
        stage = f"score:{name}:{label}"
        skey = stage_key(key, backend_spec.name, rec.to_config()["config"], how, "tallrec")
        scorer = _Scorer(entry, rec, how, stage, skey, f"tallrec/{name}/scores/{label}.csv")
        if how == "likelihood":
            est = rec.estimate_score_cost(conversations)
            line = PlanLine(
                step=f"{label} scores P(Yes) on {name} ({len(test)} test rows, model {est.model})",
                requests=est.requests,
                input_tokens=est.input_tokens,
                output_tokens=est.output_tokens,
                usd=est.usd,
                worst_usd=est.usd,
                will_run=built.why_not is None,
            )
            ctx.add_line(line, finished=ctx.store.is_done(stage, skey))
            scorer.requests, scorer.input_tokens = est.requests, est.input_tokens
            if built.why_not is not None:
                entry.skipped, entry.estimated_cost_usd = built.why_not, est.usd
                continue
        elif built.why_not is not None:  # pragma: no cover - only language models lack keys
            entry.skipped = built.why_not
            continue
        planned.scorers.append(scorer)
    return planned


def _target_scores(rec: Any, test: TallRecSet, progress: bool) -> tuple[list[float], int]:
    """Each row's target scored as the one candidate after the row's history (the target left
    out of its own history if the user rated it twice), and how many targets were unknown."""
    targets = test.target.tolist()
    history = test.history.tolist()
    profiles = [tuple(m for m in row if m != t) for row, t in zip(history, targets, strict=True)]
    recs = rec.rank_many(profiles, [(t,) for t in targets], None, progress=progress)
    unscored = sum(int(r.diagnostics.get("n_unscored", 0)) for r in recs)
    return [float(r.scores[0]) for r in recs], unscored


def _run_scorer(ctx: RunContext, planned: PlannedPointwise, scorer: _Scorer, catalog: Any) -> int:
    """Fit and score (or reuse the finished stage); returns the unknown targets counted."""
    test = planned.test
    unscored = [0]

    def work() -> None:
        from llmrec.protocols import tallrec

        rec = scorer.rec.fit(planned.fitting, catalog)
        if scorer.how == "likelihood":
            scores = tallrec.score(rec, test.to_alpaca()).tolist()
        else:
            scores, unscored[0] = _target_scores(rec, test, ctx.progress)
        with atomic_open(ctx.out / scorer.path, "w") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(_HEADER)
            users, targets, liked = test.user_id.tolist(), test.target.tolist(), test.liked.tolist()
            rows = zip(users, targets, liked, scores, strict=True)
            for i, (user, target, yes, score) in enumerate(rows):
                writer.writerow([i, user, target, int(yes), repr(float(score))])
        write_json_atomic(ctx.out / _meta(scorer.path), {"n_unscored": unscored[0]})

    ctx.store.run(scorer.stage, scorer.key, [scorer.path, _meta(scorer.path)], work)
    meta = ctx.read_json(_meta(scorer.path))
    return int(meta.get("n_unscored", 0))


def _meta(path: str) -> str:
    return path.removesuffix(".csv") + ".meta.json"


def read_scores(path: Path, test: TallRecSet) -> npt.NDArray[np.float64]:
    """The scores of a stored file, checked against the test rows (a ``DataFormatError`` naming
    the file and line when a row is missing, moved or not a finite number)."""
    with open(path, encoding="utf-8", newline="") as fh:
        lines = list(csv.reader(fh))
    if not lines or lines[0] != _HEADER:
        raise DataFormatError(f"the header is not {','.join(_HEADER)}", path=path, line=1)
    body = lines[1:]
    if len(body) != len(test):
        raise DataFormatError(f"{len(body)} rows for {len(test)} test rows", path=path)
    users, targets = test.user_id.tolist(), test.target.tolist()
    out = np.empty(len(body), dtype=np.float64)
    for i, row in enumerate(body):
        try:
            given = (int(row[0]), int(row[1]), int(row[2]))
            out[i] = float(row[4])
        except (ValueError, IndexError):
            raise DataFormatError(f"not a score row: {row!r}", path=path, line=i + 2) from None
        if given != (i, users[i], targets[i]) or not np.isfinite(out[i]):
            raise DataFormatError(
                f"row {row!r} is not test row {i} (user {users[i]}, target {targets[i]}) "
                "with a finite score; delete the file to score again",
                path=path,
                line=i + 2,
            )
    return out


def _cell(mean: float | None, low: float | None, high: float | None) -> PointwiseCell:
    def clean(x: float | None) -> float | None:
        return None if x is None or x != x else float(x)

    return PointwiseCell(mean=clean(mean), ci_low=clean(low), ci_high=clean(high))


def score_pointwise(ctx: RunContext, planned: PlannedPointwise, data: LoadedData) -> DatasetResult:
    """Every planned backend scored (after the budget check) and read by AUC and gAUC."""
    test = planned.test
    stats = dict(planned.stats)
    labels = test.liked
    result = PointwiseResult(
        n_rows=len(test),
        n_users=int(np.unique(test.user_id).size),
        n_positive=int(labels.sum()),
        fitting_ratings=len(planned.fitting),
        backends={},  # given, so that results.json writes it (unset fields are left out)
    )
    reports: dict[str, MetricReport] = {}
    files: dict[str, str] = {}
    scored: dict[str, npt.NDArray[np.float64]] = {}
    for scorer in planned.scorers:
        if ctx.dry_run:
            scorer.entry.planned = True
            continue
        unscored = _run_scorer(ctx, planned, scorer, data.catalog)
        scorer.entry.recommendations = scorer.path
        scores = read_scores(ctx.out / scorer.path, test)
        files[scorer.entry.label] = scorer.path
        if 0 < result.n_positive < len(test):
            from llmrec.metrics import evaluate_auc

            config = ctx.config
            report = evaluate_auc(
                test.user_id, labels, scores, n_bootstrap=config.n_bootstrap, seed=config.seed
            )
            reports[scorer.entry.label] = report
            scored[scorer.entry.label] = scores
            pooled = report.options["auc"]
            auc_cell = _cell(pooled["mean"], pooled["ci_low"], pooled["ci_high"])
            gauc_cell = _cell(report.means["gauc"], *report.ci["gauc"])
        else:
            auc_cell = gauc_cell = _cell(None, None, None)
        result.backends[scorer.entry.label] = PointwiseBackend(
            scorer=scorer.how,
            file=scorer.path,
            n_rows=len(test),
            auc=auc_cell,
            gauc=gauc_cell,
            n_users_gauc=reports[scorer.entry.label].n_evaluated
            if scorer.entry.label in reports
            else 0,
            requests=scorer.requests,
            input_tokens=scorer.input_tokens,
            n_unscored=unscored,
        )
    if not 0 < result.n_positive < len(test):
        result.undefined = (
            f"the {len(test)} test rows hold {result.n_positive} liked and "
            f"{len(test) - result.n_positive} disliked targets; AUC needs both"
        )
    if len(reports) > 1:
        from llmrec.experiment.pvalues import adjust_family

        tests = _paired_tests(ctx, planned, reports, scored, files)
        result.comparisons = _adjust_auc(adjust_family(tests, ctx.config.p_adjust) or {}, ctx)
        result.p_adjust = ctx.config.p_adjust
    stats["scored"] = bool(result.backends)
    sizes = stats["rows"]
    fields: dict[str, Any] = {} if ctx.dry_run else {"pointwise": result}
    return DatasetResult(
        truth_stats=stats,
        n_train=sizes["train"],
        n_val=sizes["valid"],
        n_test=sizes["test"],
        finetune={},
        fine_tuned_model=None,
        backends=planned.entries,
        kind="tallrec",
        **fields,
    )


def _adjust_auc(comparisons: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """The pooled-AUC bootstrap p-values adjusted over the table's pairs (``pvalue_adj``)."""
    method = ctx.config.p_adjust
    cells = [c["auc"] for c in comparisons.values() if isinstance(c.get("auc"), dict)]
    if method == "none" or not cells:
        return comparisons
    from llmrec.metrics import adjust_pvalues

    raw = [float("nan") if c["pvalue"] is None else float(c["pvalue"]) for c in cells]
    for cell, value in zip(cells, adjust_pvalues(raw, method=method).tolist(), strict=True):
        cell["pvalue_adj"] = None if value != value else float(value)
    return comparisons


def _paired_tests(
    ctx: RunContext,
    planned: PlannedPointwise,
    reports: dict[str, MetricReport],
    scores: dict[str, npt.NDArray[np.float64]],
    files: dict[str, str],
) -> dict[str, Any]:
    """Every later scored backend against every earlier one: the paired tests of the per-user
    AUCs (``results.gauc``) and the paired user bootstrap of the pooled AUC (``auc``), as the
    stage ``pointwise-tests:NAME`` (keyed by the score files' bytes and the seed)."""
    from llmrec._io import file_sha256
    from llmrec.experiment.arm_tests import arm_pairs
    from llmrec.metrics import compare, compare_auc

    path = f"metrics/{planned.name}.pointwise_comparisons.json"
    seed, n_boot, test = ctx.config.seed, ctx.config.n_bootstrap, planned.test
    digests = {label: file_sha256(ctx.out / f) for label, f in files.items()}

    def work() -> None:
        out: dict[str, Any] = {}
        for a, b in arm_pairs(list(reports)):
            comparison = compare(reports[a], reports[b], metrics=["gauc"], seed=seed).to_dict()
            pooled = compare_auc(
                test.user_id, test.liked, scores[a], scores[b], n_bootstrap=n_boot, seed=seed
            )
            out[f"{a} vs {b}"] = {"a": a, "b": b, **comparison, "auc": pooled}
        write_json_atomic(ctx.out / path, out)

    key = stage_key(planned.key, digests, seed, n_boot, "pointwise-tests")
    ctx.store.run(f"pointwise-tests:{planned.name}", key, [path], work)
    loaded: dict[str, Any] = json.loads((ctx.out / path).read_text("utf-8"))
    return loaded

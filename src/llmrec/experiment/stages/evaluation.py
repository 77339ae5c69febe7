"""Score every backend's recommendations on one data set's test split."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from llmrec._io import atomic_open, write_json_atomic
from llmrec._io import file_sha256 as _sha256
from llmrec._progress import progress_bar
from llmrec.data import Ratings
from llmrec.experiment.config import ExperimentConfig
from llmrec.experiment.results import BackendEntry, BeyondAccuracy, LLMDiagnostics
from llmrec.experiment.store import StageStore, stage_key
from llmrec.truth import ProfileDataset

if TYPE_CHECKING:
    from llmrec.experiment.context import PreparedTruth, RunContext

__all__ = ["evaluate_dataset", "evaluate_truth"]


def _llm_diagnostics(rows: list[dict[str, Any]]) -> LLMDiagnostics:
    """Hallucination, invalid-output and duplicate rates, tokens and cost of an LLM backend.

    The rates are :mod:`llmrec.metrics.beyond`'s: hallucination rate = unresolved titles /
    titles written; invalid-output rate = responses with no readable list / responses. The
    duplicate rate is repeated titles / titles written, from each answer's diagnostics (the
    written lists themselves are not kept, so ``beyond.duplicate_rate`` of the kept, already
    deduplicated lists would always be 0).
    """
    from llmrec.metrics.beyond import hallucination_rate, invalid_output_rate

    diags = [row.get("diagnostics") or {} for row in rows]
    titles = [int(d.get("n_titles", 0)) for d in diags]
    duplicates = sum(int(d.get("n_duplicates", 0)) for d in diags)
    prompt_tokens = completion_tokens = cached = 0
    cost_paid = cost_cached = 0.0
    for row in rows:
        usage = row.get("usage") or {}
        prompt_tokens += int(usage.get("prompt_tokens", 0))
        completion_tokens += int(usage.get("completion_tokens", 0))
        cost = float(row.get("cost_usd") or 0.0)
        if row.get("cached"):
            cached += 1
            cost_cached += cost
        else:
            cost_paid += cost
    n_titles = sum(titles)
    return LLMDiagnostics(
        responses=len(rows),
        titles=n_titles,
        hallucination_rate=hallucination_rate(
            [int(d.get("n_unresolved", 0)) for d in diags], titles
        ),
        invalid_output_rate=invalid_output_rate(bool(d.get("valid", True)) for d in diags),
        duplicate_rate=duplicates / n_titles if n_titles else 0.0,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=cost_paid + cost_cached,
        cost_paid_this_run_usd=cost_paid,
        served_from_cache=cached,
        failed_answers=sum(1 for d in diags if "failed" in d),
    )


def evaluate_dataset(
    name: str,
    config: ExperimentConfig,
    out: Path,
    test: ProfileDataset,
    entries: list[BackendEntry],
    ratings: Ratings,
    *,
    store: StageStore | None = None,
    upstream_key: str = "",
    progress: bool = False,
    fitting: Ratings | None = None,
) -> dict[str, Any]:
    """Metrics with CIs per backend, paired tests against the baseline, per-user CSV.

    With ``store``, the paired tests (the slow part: randomisation tests) are the stage
    ``significance:NAME``, keyed by ``upstream_key`` (the test split's), the recommendation
    files' bytes and the test settings, so a rerun that changes none of them reuses them.

    The head (tail metrics such as ``precision_tail@5``, and the share of recommended movies in
    the head) is the ``config.n_head`` most-rated movies of ``fitting``, the ratings the backends
    were fitted on (default: ``ratings``), so it never counts a held-out rating.

    Returns the evaluation fields of :class:`~llmrec.experiment.results.DatasetResult`.
    """
    from llmrec.metrics import (
        catalog_coverage,
        evaluate,
        head_items,
        head_share,
        mean_popularity,
    )

    truth = {e.user_id: list(e.gold) for e in test}
    movie_ids, counts = np.unique(ratings.movie_id, return_counts=True)
    popularity = dict(zip(movie_ids.tolist(), counts.tolist(), strict=True))
    n_catalog = int(movie_ids.size)
    fit_ids, fit_counts = np.unique((fitting or ratings).movie_id, return_counts=True)
    head = head_items(dict(zip(fit_ids.tolist(), fit_counts.tolist(), strict=True)), config.n_head)
    reports: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    diagnostics: dict[str, LLMDiagnostics] = {}
    beyond: dict[str, BeyondAccuracy] = {}
    for entry in entries:
        if entry.recommendations is None:
            continue
        label = entry.label
        rows = _read(out / entry.recommendations)
        recs = {int(r["user_id"]): list(r["movie_ids"]) for r in rows}
        report = evaluate(
            recs,
            truth,
            metrics=config.metrics,
            n_bootstrap=config.n_bootstrap,
            seed=config.seed,
            head=head,
        )
        reports[label] = report
        metrics[label] = report.to_dict()
        lists = list(recs.values())
        beyond[label] = BeyondAccuracy(
            catalog_coverage=float(catalog_coverage(lists, n_catalog)),
            mean_popularity=float(mean_popularity(lists, popularity)),
            head_share=_finite(report.head_share),
        )
        if any(r.get("raw_text") is not None for r in rows):  # a language model answered
            diagnostics[label] = _llm_diagnostics(rows)
    gold_lists = list(truth.values())
    beyond["gold"] = BeyondAccuracy(
        catalog_coverage=float(catalog_coverage(gold_lists, n_catalog)),
        mean_popularity=float(mean_popularity(gold_lists, popularity)),
        head_share=_finite(head_share(gold_lists, head)),
    )
    baseline = next(
        (e.label for e in entries if e.backend == config.baseline and e.label in reports),
        None,
    )
    comparisons: dict[str, Any] = {}
    if baseline is not None:
        others = [label for label in reports if label != baseline]
        files = {
            label: _sha256(out / e.recommendations)
            for e in entries
            if (label := e.label) in reports and e.recommendations is not None
        }

        def work() -> None:
            result = _paired_tests(name, reports, baseline, others, config.seed, progress)
            write_json_atomic(out / tests_path, result)

        tests_path = f"metrics/{name}.comparisons.json"
        key = stage_key(upstream_key, files, baseline, config.metrics, config.seed)
        if store is None:
            work()
        else:
            store.run(f"significance:{name}", key, [tests_path], work)
        comparisons = json.loads((out / tests_path).read_text("utf-8"))
    from llmrec.experiment.arm_tests import arm_comparisons

    arms = arm_comparisons(
        name,
        reports,
        entries,
        out=out,
        seed=config.seed,
        store=store,
        upstream_key=upstream_key,
    )
    csv_path = f"metrics/{name}.per_user.csv"
    _write_per_user(out / csv_path, reports)
    return {
        "metrics": metrics,
        "baseline": baseline,
        "comparisons": comparisons,
        "arm_comparisons": arms or None,
        "llm_diagnostics": diagnostics,
        "beyond_accuracy": beyond,
        "per_user_csv": csv_path,
    }


def _paired_tests(
    name: str,
    reports: dict[str, Any],
    baseline: str,
    others: list[str],
    seed: int,
    progress: bool,
) -> dict[str, Any]:
    """Each backend against the baseline, one metric at a time (a progress bar step each).

    One metric at a time gives the same numbers as all at once: every metric's randomisation
    test starts from ``seed``.
    """
    import dataclasses

    from llmrec.metrics import compare

    metrics = list(reports[baseline].metrics)
    out: dict[str, Any] = {}
    bar = progress_bar(
        enabled=progress, total=len(others) * len(metrics), desc=f"paired tests on {name}"
    )
    with bar:
        for label in others:
            parts = []
            for metric in metrics:
                parts.append(
                    compare(reports[label], reports[baseline], metrics=[metric], seed=seed)
                )
                bar.update(1)
            merged = {m: r for part in parts for m, r in part.results.items()}
            out[label] = dataclasses.replace(parts[0], results=merged).to_dict()
    return out


def _finite(value: float | None) -> float | None:
    return None if value is None or value != value else float(value)


def _read(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _write_per_user(path: Path, reports: dict[str, Any]) -> None:
    with atomic_open(path, "w") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        names: list[str] = []
        for report in reports.values():
            names = list(report.values)
            break
        writer.writerow(["backend", "user_id", *names])
        for label, report in reports.items():
            users = list(report.users)
            for i, user in enumerate(users):
                writer.writerow(
                    [label, user, *(f"{float(report.values[m][i]):.6f}" for m in names)]
                )


def evaluate_truth(
    ctx: RunContext,
    truth: PreparedTruth,
    entries: list[BackendEntry],
    ratings: Ratings,
    fitting: Ratings,
) -> dict[str, Any]:
    """The stage: :func:`evaluate_dataset` on ``truth``'s test split, with the run's settings
    and stage record (the paired tests keyed by the split's key)."""
    return evaluate_dataset(
        truth.name,
        ctx.config,
        ctx.out,
        truth.test,
        entries,
        ratings,
        store=ctx.store,
        upstream_key=truth.key,
        progress=ctx.progress,
        fitting=fitting,
    )

"""Score every backend's recommendations on one data set's test split."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from llmrec._io import atomic_open
from llmrec.data import Ratings
from llmrec.experiment.config import ExperimentConfig
from llmrec.truth import ProfileDataset

__all__ = ["evaluate_dataset"]


def _llm_diagnostics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Hallucination, invalid-output and duplicate rates, tokens and cost of an LLM backend.

    Denominators: hallucination rate = unresolved titles / titles written; invalid-output rate
    = responses with no readable list / responses; duplicate rate = repeated titles / titles.
    """
    n = len(rows)
    titles = unresolved = duplicates = invalid = 0
    prompt_tokens = completion_tokens = 0
    cost_paid = cost_cached = 0.0
    cached = 0
    for row in rows:
        diag = row.get("diagnostics") or {}
        titles += int(diag.get("n_titles", 0))
        unresolved += int(diag.get("n_unresolved", 0))
        duplicates += int(diag.get("n_duplicates", 0))
        invalid += 0 if diag.get("valid", True) else 1
        usage = row.get("usage") or {}
        prompt_tokens += int(usage.get("prompt_tokens", 0))
        completion_tokens += int(usage.get("completion_tokens", 0))
        cost = float(row.get("cost_usd") or 0.0)
        if row.get("cached"):
            cached += 1
            cost_cached += cost
        else:
            cost_paid += cost
    return {
        "responses": n,
        "titles": titles,
        "hallucination_rate": unresolved / titles if titles else 0.0,
        "invalid_output_rate": invalid / n if n else 0.0,
        "duplicate_rate": duplicates / titles if titles else 0.0,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "cost_usd": cost_paid + cost_cached,
        "cost_paid_this_run_usd": cost_paid,
        "served_from_cache": cached,
    }


def evaluate_dataset(
    name: str,
    config: ExperimentConfig,
    out: Path,
    test: ProfileDataset,
    entries: list[dict[str, Any]],
    ratings: Ratings,
) -> dict[str, Any]:
    """Metrics with CIs per backend, paired tests against the baseline, per-user CSV."""
    from llmrec.metrics import catalog_coverage, compare, evaluate, mean_popularity

    truth = {e.user_id: list(e.gold) for e in test}
    movie_ids, counts = np.unique(ratings.movie_id, return_counts=True)
    popularity = dict(zip(movie_ids.tolist(), counts.tolist(), strict=True))
    n_catalog = int(movie_ids.size)
    reports: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    diagnostics: dict[str, Any] = {}
    beyond: dict[str, Any] = {}
    for entry in entries:
        if "recommendations" not in entry:
            continue
        label = entry["label"]
        rows = _read(out / entry["recommendations"])
        recs = {int(r["user_id"]): list(r["movie_ids"]) for r in rows}
        report = evaluate(
            recs, truth, metrics=config.metrics, n_bootstrap=config.n_bootstrap, seed=config.seed
        )
        reports[label] = report
        metrics[label] = report.to_dict()
        lists = list(recs.values())
        beyond[label] = {
            "catalog_coverage": float(catalog_coverage(lists, n_catalog)),
            "mean_popularity": float(mean_popularity(lists, popularity)),
        }
        if any(r.get("raw_text") is not None for r in rows):  # a language model answered
            diagnostics[label] = _llm_diagnostics(rows)
    gold_lists = list(truth.values())
    beyond["gold"] = {
        "catalog_coverage": float(catalog_coverage(gold_lists, n_catalog)),
        "mean_popularity": float(mean_popularity(gold_lists, popularity)),
    }
    baseline = next(
        (e["label"] for e in entries if e["backend"] == config.baseline and e["label"] in reports),
        None,
    )
    comparisons: dict[str, Any] = {}
    if baseline is not None:
        for label, report in reports.items():
            if label != baseline:
                comparisons[label] = compare(report, reports[baseline], seed=config.seed).to_dict()
    csv_path = f"metrics/{name}.per_user.csv"
    _write_per_user(out / csv_path, reports)
    return {
        "metrics": metrics,
        "baseline": baseline,
        "comparisons": comparisons,
        "llm_diagnostics": diagnostics,
        "beyond_accuracy": beyond,
        "per_user_csv": csv_path,
    }


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

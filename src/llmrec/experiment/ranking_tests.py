"""Paired tests between the language-model backends that ranked one truth's candidate sets.

Two language-model backends on a candidate truth rank the same sets in the same orders: the
same model read by generation (``ranking = "generate"``) and by likelihood
(``ranking = "likelihood"``), or two models. Every later one (in the config's order) is tested
against every earlier one on each user's strict metric values (an invalid answer is a miss;
with ``repeats > 1`` the user's mean over the orders), with the paired t-test, Wilcoxon
signed-rank test, randomisation test and Cohen's d_z of :func:`llmrec.metrics.compare`. It is
the stage ``rank-tests:NAME`` (``metrics/NAME.ranking_comparisons.json``), keyed by the ranked
files' bytes, and its p-values are adjusted over the table like every table of paired tests
(``p_adjust``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from llmrec._io import write_json_atomic
from llmrec.experiment.store import stage_key

if TYPE_CHECKING:
    from llmrec.experiment.context import RunContext
    from llmrec.metrics import MetricReport

__all__ = ["per_user_report", "ranking_comparisons"]


def per_user_report(
    rows: Sequence[Sequence[Mapping[str, Any]]],
    truth: Mapping[int, Sequence[int]],
    metrics: Sequence[str],
) -> MetricReport:
    """Each user's strict value of every metric, averaged over the repeats (one list of saved
    rows per repeat; a user without a row, or with an empty answer, scores 0)."""
    from llmrec.metrics import evaluate

    reports = [
        evaluate(
            {int(r["user_id"]): list(r["movie_ids"]) for r in rep},
            {u: list(g) for u, g in truth.items()},
            metrics=list(metrics),
            n_bootstrap=0,
        )
        for rep in rows
    ]
    first = reports[0]
    values = {
        m: np.mean(np.stack([rep.values[m] for rep in reports]), axis=0) for m in first.metrics
    }
    for rep in reports[1:]:
        if list(rep.users) != list(first.users):  # pragma: no cover - same truth every repeat
            raise RuntimeError("the repeats scored different users")
    means = {m: float(v.mean()) if v.size else float("nan") for m, v in values.items()}
    return dataclasses.replace(first, values=values, means=means)


def ranking_comparisons(
    ctx: RunContext,
    name: str,
    upstream_key: str,
    files: Mapping[str, Sequence[str]],
    truth: Mapping[int, Sequence[int]],
    metrics: Sequence[str],
) -> dict[str, Any]:
    """``{"B vs A": Comparison.to_dict() + {"a": B, "b": A}}`` for every pair of ``files``'
    backends (label -> ranked files, in the config's order); empty with fewer than two."""
    from llmrec._io import file_sha256
    from llmrec.experiment.arm_tests import arm_pairs
    from llmrec.metrics import compare

    labels = list(files)
    if len(labels) < 2:
        return {}
    path = f"metrics/{name}.ranking_comparisons.json"
    seed = ctx.config.seed
    digests = {label: [file_sha256(ctx.out / f) for f in files[label]] for label in labels}

    def work() -> None:
        reports = {}
        for label in labels:
            rows = []
            for f in files[label]:
                with open(ctx.out / f, encoding="utf-8") as fh:
                    rows.append([json.loads(line) for line in fh])
            reports[label] = per_user_report(rows, truth, metrics)
        out: dict[str, Any] = {}
        for a, b in arm_pairs(labels):
            # one metric at a time, as the other tables: each randomisation test starts at seed
            parts = [compare(reports[a], reports[b], metrics=[m], seed=seed) for m in metrics]
            comparison = parts[0].to_dict()
            comparison["results"] = {m: r for p in parts for m, r in p.to_dict()["results"].items()}
            out[f"{a} vs {b}"] = {"a": a, "b": b, **comparison}
        write_json_atomic(ctx.out / path, out)

    key = stage_key(upstream_key, digests, list(metrics), seed, "rank-tests")
    ctx.store.run(f"rank-tests:{name}", key, [path], work)
    loaded: dict[str, Any] = json.loads((ctx.out / path).read_text("utf-8"))
    return loaded

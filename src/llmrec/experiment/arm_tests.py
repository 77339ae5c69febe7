"""Paired tests between the language-model arms (zero-shot, fine-tuned (SFT), DPO, ...).

The main significance table tests every backend against the baseline (a classic recommender by
default). The study's question is between the language-model arms themselves, so when two or
more of them were evaluated every pair is tested too: each later arm (in the config's order)
against each earlier one, on the users both evaluated (the same test users), with the same
paired t-test, Wilcoxon signed-rank test, randomisation test and Cohen's d_z
(:func:`llmrec.metrics.compare`). It is the stage ``arm-tests:NAME``, keyed like the baseline
tests, written to ``metrics/NAME.arm_comparisons.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmrec._io import write_json_atomic
from llmrec.experiment.results import BackendEntry
from llmrec.experiment.store import StageStore, stage_key

__all__ = ["arm_comparisons", "arm_pairs"]


def arm_pairs(labels: list[str]) -> list[tuple[str, str]]:
    """Every pair ``(later, earlier)`` of ``labels`` in order: (B, A), (C, A), (C, B), ..."""
    return [(b, a) for j, b in enumerate(labels) for a in labels[:j]]


def arm_comparisons(
    name: str,
    reports: dict[str, Any],
    entries: list[BackendEntry],
    *,
    out: Path,
    seed: int,
    store: StageStore | None,
    upstream_key: str,
) -> dict[str, Any]:
    """``{"B vs A": Comparison.to_dict() + {"a": B, "b": A}}`` for every pair of evaluated
    language-model arms (empty with fewer than two)."""
    from llmrec.finetune.manifest import file_sha256
    from llmrec.metrics import compare

    evaluated = {e.label: e.recommendations for e in entries if e.llm and e.label in reports}
    arms = [label for label, path in evaluated.items() if path is not None]
    if len(arms) < 2:
        return {}
    files = {label: file_sha256(out / str(evaluated[label])) for label in arms}
    path = f"metrics/{name}.arm_comparisons.json"
    names = list(reports[arms[0]].metrics)

    def work() -> None:
        result: dict[str, Any] = {}
        for a, b in arm_pairs(arms):
            # one metric at a time, as the baseline tests: each randomisation test starts at seed
            parts = [compare(reports[a], reports[b], metrics=[m], seed=seed) for m in names]
            comparison = parts[0].to_dict()
            comparison["results"] = {m: r for p in parts for m, r in p.to_dict()["results"].items()}
            result[f"{a} vs {b}"] = {"a": a, "b": b, **comparison}
        write_json_atomic(out / path, result)

    key = stage_key(upstream_key, files, names, seed, "arm-tests")
    if store is None:
        work()
    else:
        store.run(f"arm-tests:{name}", key, [path], work)
    loaded: dict[str, Any] = json.loads((out / path).read_text("utf-8"))
    return loaded

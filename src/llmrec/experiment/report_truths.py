"""Report sections of the protocol switch: the backend × truth summary, holdout truth statistics,
and what every backend was fitted on.

Each function returns Markdown (or terminal) lines from the typed results; ``report.py`` places
them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmrec.experiment.results import DatasetResult, Results
from llmrec.experiment.summary import summary_rows
from llmrec.metrics.table import text_table

__all__ = [
    "MEASURES",
    "fitting_lines",
    "gold_head_share",
    "gold_head_text",
    "holdout_truth_lines",
    "summary_section",
    "summary_text",
    "tallrec_lines",
    "truth_measure",
]

#: What each kind of truth measures, one line for the report.
MEASURES = {
    "neighbour": "the study's neighbour consensus: movies most users of the target's taste "
    "watched (largely popularity)",
    "probe": "the Netflix probe set: the movies each user actually rated most recently, held out",
    "last_n": "each user's n most recent ratings, held out",
    "time_split": "every rating on or after a cutoff date, held out (the future, for all users)",
    "next_item": "each user's last item in time order (leave-one-out), ranked among the stored "
    "1 + 19 candidates (LLaRA, LLMRank)",
    "tallrec": "TALLRec's yes/no task: will the user like the movie after ten rated ones",
}


def truth_measure(kind: str, spec: Mapping[str, Any] | None = None) -> str:
    """What a truth measures, with the settings that tell two truths of one kind apart (the
    neighbour truths' share of neighbours, so profileData50 and profileData60 read differently).
    ``spec`` is the truth's entry of the run's config."""
    spec = spec or {}
    if kind == "neighbour":
        share = float(spec.get("watch_factor", 0.5)) * 100
        rating = spec.get("neighbour_min_rating", 5)
        return (
            f"the study's neighbour consensus: movies watched by at least {share:g} % of "
            f"the target's neighbours (users who rated the target's top movies {rating} stars or "
            "more); largely popularity"
        )
    if kind == "last_n" and "n" in spec:
        return f"each user's {spec['n']} most recent ratings, held out"
    if kind == "time_split" and spec.get("cutoff"):
        return f"every rating on or after {spec['cutoff']}, held out (the future, for all users)"
    return MEASURES.get(kind, kind)


_RULES = {
    "other-users": "every rating of the users outside the test split",
    "history": "the test users' history (held-out ratings removed) plus every other user's "
    "ratings; checked: no held-out rating of a test user",
}

_NAMES = {"precision@5": "P@5", "ndcg@10": "NDCG@10"}


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def fitting_lines(ds: DatasetResult) -> list[str]:
    """What the backends were fitted on, for one truth."""
    if ds.fitting is None:
        return []
    rule = _RULES.get(ds.fitting.rule, ds.fitting.rule)
    return [
        f"Backends fitted on {ds.fitting.n_ratings:,} ratings of {ds.fitting.n_users:,} users: "
        f"{rule}.",
        "",
    ]


def tallrec_lines(ds: DatasetResult) -> list[str]:
    """What a TALLRec truth built: its files and row counts (the scores follow)."""
    ts = ds.truth_stats
    options = ", ".join(f"{k} = {v}" for k, v in ts.get("options", {}).items())
    files = ", ".join(f"`{f}`" for f in ts.get("files", []))
    return [
        "TALLRec's pointwise yes/no task (will the user like the next movie?), built exactly as "
        f"the peer's script ({options}): {ds.n_train:,} train / {ds.n_val:,} valid / "
        f"{ds.n_test:,} test rows in {files}.",
        "",
        *(
            []
            if ts.get("scored")
            else [
                "Not scored in this run: no backend could score the rows (AUC over P(Yes) needs "
                "a backend that reads likelihoods; classic recommenders score the target).",
                "",
            ]
        ),
    ]


def gold_head_share(ds: DatasetResult, n_head: int | None = None) -> tuple[float | None, str]:
    """How much of the gold is popularity: one figure and its definition.

    After evaluation it is the gold row of the beyond-accuracy table: the share of gold items
    among the ``n_head`` most-rated movies of the fitting ratings, the head the backends'
    recommendations are measured against. Before (a dry run) it is the truth's own statistic,
    over the most-rated movies of the ratings it was built from."""
    gold = (ds.beyond_accuracy or {}).get("gold")
    if gold is not None and gold.head_share is not None:
        most = "most-rated" if n_head is None else f"{n_head} most-rated"
        return gold.head_share, f"the {most} movies of the fitting ratings"
    top_k = ds.truth_stats.get("top_k", 100)
    return ds.truth_stats.get("popular_share"), f"the {top_k} most-rated movies of the data"


def gold_head_text(ds: DatasetResult, n_head: int | None = None) -> str:
    """The report's sentence on :func:`gold_head_share`."""
    share, among = gold_head_share(ds, n_head)
    value = "n/a" if share is None else f"{share:.1%}"
    return (
        f"Share of gold items in the head ({among}; how much of the truth is popularity): {value}."
    )


def holdout_truth_lines(ds: DatasetResult, n_head: int | None = None) -> list[str]:
    """Split sizes and gold statistics of a holdout truth (no neighbours there)."""
    if ds.kind == "tallrec":
        return tallrec_lines(ds)
    ts = ds.truth_stats
    gold = ts.get("gold_size", {})
    return [
        f"Gold: {MEASURES.get(ds.kind or '', ds.kind or '')}.",
        "",
        f"{ds.n_train:,} train / {ds.n_val:,} validation / {ds.n_test:,} test users. "
        f"{gold_head_text(ds, n_head)}",
        "",
        f"Ground truth: {ts.get('n_examples', 0):,} users with gold of "
        f"{ts.get('n_targets') or 0:,} targets; gold size median {gold.get('median', 0):g}, "
        f"mean {gold.get('mean', 0):.2f}; {ts.get('n_gold_movies', 0):,} distinct gold movies.",
        "",
        *fitting_lines(ds),
    ]


def _head_rows(results: Results) -> list[list[str]]:
    summary = results.summary
    if summary is None:
        return []
    rows = []
    for label in summary.backends:
        row = [label]
        for name in summary.truths:
            beyond = results.datasets[name].beyond_accuracy or {}
            share = beyond[label].head_share if label in beyond else None
            row.append("–" if share is None else f"{share:.1%}")
        rows.append(row)
    return rows


def summary_section(results: Results) -> list[str]:
    """The backend × truth tables: P@5 and NDCG@10 with intervals, and the head share."""
    summary = results.summary
    if summary is None or not summary.truths:
        return []
    kinds = {name: results.datasets[name].kind or "neighbour" for name in summary.truths}
    specs = results.config.get("truth") or {}
    out = [
        "## Summary: every backend on every truth",
        "",
        "Mean over each truth's test users, 95 % bootstrap interval in brackets. What each "
        "truth measures:",
        "",
        *(
            f"- `{name}` ({kind}): {truth_measure(kind, specs.get(name))}"
            for name, kind in kinds.items()
        ),
        "",
    ]
    header = ["backend", *summary.truths]
    for metric in summary.metrics:
        out += [
            f"{_NAMES.get(metric, metric)}:",
            "",
            _table(header, summary_rows(summary, metric)),
            "",
        ]
    head = _head_rows(results)
    if head and any(c != "–" for row in head for c in row[1:]):
        out += [
            "Share of recommended movies in the head (the most-rated movies of the fitting "
            "ratings):",
            "",
            _table(header, head),
            "",
        ]
    return out


def summary_text(results: Results) -> list[str]:
    """The summary for a terminal: one table per headline metric, means only."""
    summary = results.summary
    if summary is None or len(summary.truths) < 2:
        return []
    out = ["Every backend on every truth (mean over test users):"]
    for metric in summary.metrics:
        out.append(f"{_NAMES.get(metric, metric)}")
        out.append(
            text_table(["backend", *summary.truths], summary_rows(summary, metric, intervals=False))
        )
    head = _head_rows(results)
    if head and any(c != "–" for row in head for c in row[1:]):
        out.append("share of recommendations in the head")
        out.append(text_table(["backend", *summary.truths], head))
    out.append("")
    return out

"""The cross-truth summary: every backend on every truth, on the headline metrics.

One number per (backend, truth, metric) with its 95 % bootstrap interval, read from each truth's
metric report, so a reader sees at a glance whether a backend that wins on the neighbour
consensus (mostly popularity) also wins on what users actually rated next (probe, last-N, time
split). The headline metrics are P@5 and NDCG@10 (:data:`SUMMARY_METRICS`); a metric the run
did not compute is left out.
"""

from __future__ import annotations

from collections.abc import Mapping

from llmrec.experiment.results import DatasetResult, Summary, SummaryCell

__all__ = ["SUMMARY_METRICS", "build_summary", "summary_rows"]

SUMMARY_METRICS = ("precision@5", "ndcg@10")


def build_summary(
    datasets: Mapping[str, DatasetResult], metrics: tuple[str, ...] = SUMMARY_METRICS
) -> Summary:
    """The summary of a run's evaluated truths (truths and backends in run order)."""
    truths = [name for name, ds in datasets.items() if ds.metrics]
    backends: list[str] = []
    for name in truths:
        for label in datasets[name].metrics or {}:
            if label not in backends:
                backends.append(label)
    reports = [r for n in truths for r in (datasets[n].metrics or {}).values()]
    present = [m for m in metrics if any(m in r["metrics"] for r in reports)]
    cells = []
    for label in backends:
        for name in truths:
            report = (datasets[name].metrics or {}).get(label)
            if report is None:
                continue
            for m in present:
                value = report["metrics"].get(m)
                if value is None:
                    continue
                cells.append(
                    SummaryCell(
                        backend=label,
                        truth=name,
                        metric=m,
                        mean=value.get("mean"),
                        ci_low=value.get("ci_low"),
                        ci_high=value.get("ci_high"),
                        n_users=int(report.get("n_evaluated", 0)),
                    )
                )
    return Summary(metrics=present, truths=truths, backends=backends, cells=cells)


def _cell_text(cell: SummaryCell | None, *, intervals: bool) -> str:
    if cell is None or cell.mean is None:
        return "–"
    if intervals and cell.ci_low is not None and cell.ci_high is not None:
        return f"{cell.mean:.3f} [{cell.ci_low:.3f}, {cell.ci_high:.3f}]"
    return f"{cell.mean:.3f}"


def summary_rows(summary: Summary, metric: str, *, intervals: bool = True) -> list[list[str]]:
    """Rows of [backend, cell per truth] for one metric."""
    return [
        [
            label,
            *(
                _cell_text(summary.cell(label, t, metric), intervals=intervals)
                for t in summary.truths
            ),
        ]
        for label in summary.backends
    ]

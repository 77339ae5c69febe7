"""The report's spend section: what the run's paid steps were planned to cost, could have cost
(every answer at its ``max_tokens`` cap, the figure the budget is checked against) and cost.

Read from ``results.json``'s ``spend`` (:class:`~llmrec.experiment.results.Spend`), written by
a real run; a dry run has none and gets no section.
"""

from __future__ import annotations

from llmrec.experiment.results import Results

__all__ = ["spend_lines"]


def spend_lines(results: Results) -> list[str]:
    """The ``## Spend`` section of ``report.md`` (empty when the run recorded no spend)."""
    s = results.spend
    if s is None:
        return []
    rows = [
        ("budget (`budget_usd`)", s.budget_usd),
        ("planned: each answer at its expected length", s.planned_usd),
        (
            "worst case: every answer at its `max_tokens` cap (checked against the budget)",
            s.worst_case_usd,
        ),
        ("spent: what the answers sent by this run cost", s.spent_usd),
    ]
    return [
        "## Spend",
        "",
        "| | USD |",
        "|---|---|",
        *(f"| {what} | {usd:.4f} USD |" for what, usd in rows),
        "",
        "Steps finished by an earlier run and answers served from the response cache cost "
        "nothing now and are not counted.",
        "",
    ]

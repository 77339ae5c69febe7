"""The run's budget: every paid step that will run, summed, checked before anything is sent.

A step costs what its backend (or the fine-tuning estimate) says at the run's prices: the
default table with the config's ``prices`` merged over it. A server costs nothing only when the
config says so (``free = true`` for the experiment's ``base_url``, or ``free = true`` in a
backend's config); the presence of ``base_url`` says nothing about price, since OpenAI itself
is reached through one. A step of unknown cost (a model without a price, on a server not marked
free) stops the run unless ``allow_unknown_cost = true``.

The plan prices each answer at its expected length; an answer may run to the output cap
(``max_tokens``), so each line also carries its worst case. The check before anything is sent
compares the **worst case** with the budget (a run planned at 0.0115 USD under a budget of
0.012 USD could spend 0.0321 USD when every answer ran to 400 tokens); while requests are in
flight the run's
:class:`~llmrec.recommenders.llm.spend.SpendLimit` sends only what fits the budget at its worst
case, given what answers have actually cost so far, and stops the run when the next request
could pass it. ``results.json`` records the planned, worst-case and actual spend (``spend``).
"""

from __future__ import annotations

from collections.abc import Iterable

from llmrec.errors import BudgetExceededError
from llmrec.experiment.plan import PlanLine

__all__ = ["UNKNOWN_COST_HELP", "check_budget", "planned_total", "worst_case_total"]

UNKNOWN_COST_HELP = (
    'add the model\'s price to the config (`[prices."MODEL"]` with `input` and `output` in USD '
    "per 1M tokens), mark a server that bills nothing with `free = true` (top level for "
    "base_url, or in the backend's `config` table), or accept an unknown cost with "
    "`allow_unknown_cost = true` in the config (`llmrec reproduce --allow-unknown-cost`)"
)


def planned_total(lines: Iterable[PlanLine]) -> tuple[float, list[PlanLine]]:
    """USD of the steps that will run and whose cost is known, and those whose cost is not."""
    total = 0.0
    unknown: list[PlanLine] = []
    for line in lines:
        if not line.will_run:
            continue
        if line.usd is None:
            unknown.append(line)
        else:
            total += line.usd
    return total, unknown


def worst_case_total(lines: Iterable[PlanLine]) -> float:
    """USD of the steps that will run if every answer ran to its output cap (a step without a
    cap counts at its planned cost; unknown costs count nothing)."""
    total = 0.0
    for line in lines:
        if line.will_run:
            worst = line.worst_usd if line.worst_usd is not None else line.usd
            total += worst or 0.0
    return total


def check_budget(lines: Iterable[PlanLine], budget_usd: float, *, allow_unknown_cost: bool) -> None:
    """Raise :class:`~llmrec.errors.BudgetExceededError` unless the run fits its budget in the
    worst case (every answer at its output cap; :func:`worst_case_total`).

    ``lines`` are the paid steps still to be performed (steps finished by an earlier run cost
    nothing now and are left out by the caller).
    """
    steps = list(lines)
    total, unknown = planned_total(steps)
    if unknown and not allow_unknown_cost:
        names = "; ".join(line.step for line in unknown)
        raise BudgetExceededError(
            f"{len(unknown)} paid step(s) have an unknown cost (no price for their model) and "
            f"cannot be checked against the budget of {budget_usd:.4f} USD: {names}. To run "
            f"them, {UNKNOWN_COST_HELP}"
        )
    worst = worst_case_total(steps)
    if worst > budget_usd:
        listed = "; ".join(
            f"{line.step}: {line.usd:.4f} USD"
            + ("" if line.worst_usd is None else f" (worst case {line.worst_usd:.4f} USD)")
            for line in steps
            if line.will_run and line.usd is not None
        )
        raise BudgetExceededError(
            f"this run could spend {worst:.4f} USD in total if every answer ran to its "
            f"max_tokens cap (planned {total:.4f} USD), above the budget of {budget_usd:.4f} "
            f"USD (budget_usd); nothing was sent. Steps: {listed}. Raise budget_usd in the "
            "config, lower max_tokens, run fewer backends or test users, or mark a server that "
            "bills nothing with `free = true`"
        )

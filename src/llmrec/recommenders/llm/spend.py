"""``SpendLimit``: a budget that holds while requests are in flight.

A plan prices each answer at its expected length, but an answer may run to the output cap
(``max_tokens``), so a run can pass a budget its plan fitted. A language-model backend given a
``SpendLimit`` (``RunSettings.spend_limit``) therefore sends a group of requests only when what
was spent so far plus the group's worst case (input tokens exact, output at the cap) fits the
budget, adds what each answer cost as it arrives, and stops, with
:class:`~llmrec.errors.BudgetExceededError`, once not even the next request could be sent
safely. So what is spent never exceeds the budget (at the prices the backend knows); answers
that arrived are cached, and a rerun with a larger budget sends only the rest.
"""

from __future__ import annotations

import threading
from typing import Any

from llmrec.errors import BudgetExceededError

__all__ = ["SpendLimit"]


class SpendLimit:
    """The run's budget in USD, what is reserved for other steps, and what answers cost so far.

    ``reserved_usd`` is what the run's other paid steps (hosted fine-tuning) may spend; it is
    kept out of the room left for requests. Thread-safe: answers arrive on worker threads.
    """

    def __init__(self, budget_usd: float, *, reserved_usd: float = 0.0) -> None:
        if budget_usd < 0 or reserved_usd < 0:
            raise ValueError(f"budget and reserve must be >= 0, got {budget_usd}, {reserved_usd}")
        self.budget_usd = float(budget_usd)
        self.reserved_usd = float(reserved_usd)
        self.spent_usd = 0.0
        self.planned_usd = 0.0
        self.worst_case_usd = 0.0
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lock")
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def room(self) -> float:
        """USD that requests may still spend."""
        with self._lock:
            return self.budget_usd - self.reserved_usd - self.spent_usd

    def add(self, usd: float | None) -> None:
        """Count what one answer cost (``None``: unknown or nothing)."""
        if usd:
            with self._lock:
                self.spent_usd += float(usd)

    def stop(self, *, model: str, next_worst_usd: float, unsent: int) -> BudgetExceededError:
        """The error that stops sending: what was planned, the worst case, what was spent."""
        return BudgetExceededError(
            f"stopped sending to {model}: {self.spent_usd:.4f} USD spent of the budget of "
            f"{self.budget_usd:.4f} USD (budget_usd; {self.reserved_usd:.4f} USD reserved for "
            f"fine-tuning), and the next request could cost up to {next_worst_usd:.4f} USD "
            f"(output at the max_tokens cap); {unsent} request(s) not sent. The run was planned "
            f"at {self.planned_usd:.4f} USD, {self.worst_case_usd:.4f} USD in the worst case. "
            "Answers received are cached: raise budget_usd (or lower max_tokens) and run again "
            "to send only the rest"
        )

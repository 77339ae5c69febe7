"""What a fine-tuning file check and a training price return, whatever the file's format.

:class:`Finding` and :class:`ValidationReport` come out of :meth:`FileFormat.validate
<llmrec.finetune.formats.FileFormat.validate>`; :class:`TrainingCostEstimate` out of
:meth:`FileFormat.estimate_cost <llmrec.finetune.formats.FileFormat.estimate_cost>`. Training is
billed as ``training-file tokens x n_epochs x training price per 1M tokens / 1e6``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmrec.errors import ValidationError

__all__ = ["MIN_EXAMPLES", "Finding", "TrainingCostEstimate", "ValidationReport"]

MIN_EXAMPLES = 10
"""OpenAI requires at least 10 training examples."""


@dataclass(frozen=True)
class Finding:
    """One problem: ``line`` (1-based; 0 for the whole file), a stable ``code``, a message."""

    line: int
    code: str
    message: str

    def __str__(self) -> str:
        where = "file" if self.line == 0 else f"line {self.line}"
        return f"{where}: [{self.code}] {self.message}"


@dataclass
class ValidationReport:
    """Result of a file check: findings in line order and per-example tokens."""

    path: Path
    model: str
    n_examples: int
    findings: list[Finding] = field(default_factory=list)
    example_tokens: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """``True`` when OpenAI would accept the file (no findings)."""
        return not self.findings

    def __str__(self) -> str:
        head = f"{self.path}: {self.n_examples} examples, {len(self.findings)} findings"
        return "\n".join([head, *(f"  {f}" for f in self.findings)])

    def raise_if_invalid(self) -> None:
        """Raise :class:`~llmrec.errors.ValidationError` listing every finding, if any."""
        if self.findings:
            shown = "\n".join(f"  {f}" for f in self.findings[:50])
            more = len(self.findings) - 50
            tail = f"\n  ... and {more} more" if more > 0 else ""
            raise ValidationError(
                f"{self.path} fails OpenAI's fine-tuning checks for {self.model} "
                f"({len(self.findings)} findings):\n{shown}{tail}",
                findings=list(self.findings),
            )


@dataclass(frozen=True)
class TrainingCostEstimate:
    """Token counts and price of fine-tuning on one training file."""

    path: Path
    model: str
    n_epochs: int
    n_examples: int
    total_tokens: int
    min_tokens: int
    mean_tokens: float
    max_tokens: int
    price_per_million: float
    prices_as_of: str

    @property
    def billed_tokens(self) -> int:
        """Tokens OpenAI charges for: ``total_tokens × n_epochs``."""
        return self.total_tokens * self.n_epochs

    @property
    def usd(self) -> float:
        """Estimated training cost in USD."""
        return self.billed_tokens * self.price_per_million / 1e6

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "model": self.model,
            "n_epochs": self.n_epochs,
            "n_examples": self.n_examples,
            "total_tokens": self.total_tokens,
            "billed_tokens": self.billed_tokens,
            "tokens_per_example": {
                "min": self.min_tokens,
                "mean": self.mean_tokens,
                "max": self.max_tokens,
            },
            "price_per_million": self.price_per_million,
            "prices_as_of": self.prices_as_of,
            "usd": self.usd,
        }

    def __str__(self) -> str:
        return (
            f"{self.path.name}: {self.n_examples:,} examples, {self.total_tokens:,} tokens "
            f"(per example min {self.min_tokens:,} / mean {self.mean_tokens:,.1f} / max "
            f"{self.max_tokens:,}); {self.n_epochs} epochs → {self.billed_tokens:,} billed "
            f"tokens × {self.price_per_million:.2f} USD/1M = {self.usd:.2f} USD "
            f"({self.model}, prices of {self.prices_as_of})"
        )

"""``MemorisationReport``: what a probe found, per item, by popularity bucket and in total.

Three rates, each with its 95 % Wilson interval (:mod:`.interval`):

* **recall** (exact): the title the answer names equals the correct one after
  :func:`~llmrec.data.normalize_title` (case, accents, punctuation, a leading or trailing
  article) and the year, where the expected answer carries one, is the same;
* **resolved recall**: the answer's title resolves (:class:`~llmrec.data.TitleResolver`,
  fuzzy cut-off as the backend's) to the probed item, or to an item with the same normalised
  title and year (the Netflix file lists some films twice); a superset of exact recall;
* **other item**: the answer resolves to a different catalog item (the model names a film of
  the data set, the wrong one).

Failed requests (no answer after every retry) count as misses and are counted in ``failed``.
The report renders itself (:meth:`MemorisationReport.table_rows`, :meth:`to_text`,
:meth:`to_dict`) so a command or an experiment stage shows it without knowing its insides.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llmrec.probes.buckets import BUCKETS
from llmrec.probes.interval import Rate

__all__ = ["BucketResult", "MemorisationReport", "ProbeRow"]


@dataclass(frozen=True)
class ProbeRow:
    """One probed item: the prompt, the answer and how it scored."""

    movie_id: int
    bucket: str | None
    """``head``, ``torso`` or ``tail``; ``None`` without ratings."""
    n_ratings: int | None
    prompt: str
    expected: str
    answer: str
    named: str
    """The title read from the answer (what was compared and resolved)."""
    exact: bool
    resolved: bool
    resolved_id: int | None
    other_item: bool
    failed: bool = False
    cached: bool = False
    cost_usd: float | None = 0.0


@dataclass(frozen=True)
class BucketResult:
    """The rates over one set of rows (a bucket, or all of them)."""

    name: str
    n: int
    exact: int
    resolved: int
    other_item: int
    failed: int

    @classmethod
    def of(cls, name: str, rows: Iterable[ProbeRow]) -> BucketResult:
        rows = list(rows)
        return cls(
            name,
            len(rows),
            sum(r.exact for r in rows),
            sum(r.resolved for r in rows),
            sum(r.other_item for r in rows),
            sum(r.failed for r in rows),
        )

    @property
    def recall(self) -> Rate:
        """Exact recall with its interval."""
        return Rate(self.exact, self.n)

    @property
    def resolved_recall(self) -> Rate:
        return Rate(self.resolved, self.n)

    @property
    def other_item_rate(self) -> Rate:
        return Rate(self.other_item, self.n)


@dataclass
class MemorisationReport:
    """The result of :meth:`MemorisationProbe.run`: per-item rows and the rates they give."""

    probe: dict[str, Any]
    """The probe's settings (``MemorisationProbe.model_dump()``)."""
    model: str
    """The backend's model id."""
    n_catalog: int
    rows: list[ProbeRow]
    skipped: dict[int, str] = field(default_factory=dict)
    """Catalog ids not asked about, with why."""
    cost_usd: float | None = 0.0
    """What the answers cost (cached ones count what they cost when paid; ``None``: unknown)."""
    catalog_name: str = ""
    """A label for the catalog probed (e.g. the data folder, or ``synthetic`` for the floor)."""

    # -- rates ------------------------------------------------------------------------------
    @property
    def total(self) -> BucketResult:
        """The rates over every row."""
        return BucketResult.of("all", self.rows)

    @property
    def recall(self) -> float:
        """Exact recall over every probed item (see the module docstring)."""
        return self.total.recall.rate

    @property
    def resolved_recall(self) -> float:
        return self.total.resolved_recall.rate

    @property
    def other_item_rate(self) -> float:
        return self.total.other_item_rate.rate

    @property
    def by_bucket(self) -> dict[str, BucketResult]:
        """``head``, ``torso``, ``tail`` (those with rows; empty without ratings). Their counts
        add up to :attr:`total`'s."""
        return {
            name: BucketResult.of(name, (r for r in self.rows if r.bucket == name))
            for name in BUCKETS
            if any(r.bucket == name for r in self.rows)
        }

    # -- rendering --------------------------------------------------------------------------
    def table_rows(self) -> list[list[str]]:
        """One row per bucket and one for all: probe, model, bucket, n, the three rates with
        intervals. Headers: :data:`TABLE_HEADERS`."""
        kind = str(self.probe.get("kind", ""))
        out = []
        for result in [*self.by_bucket.values(), self.total]:
            out.append(
                [
                    kind,
                    self.model,
                    result.name,
                    str(result.n),
                    str(result.recall),
                    str(result.resolved_recall),
                    str(result.other_item_rate),
                ]
            )
        return out

    def to_text(self) -> str:
        """A plain-text table of :meth:`table_rows` with a header line."""
        rows = [list(TABLE_HEADERS), *self.table_rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(TABLE_HEADERS))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
        ]
        notes = []
        if self.catalog_name:
            notes.append(f"catalog: {self.catalog_name} ({self.n_catalog:,} items)")
        if self.skipped:
            notes.append(f"not asked: {len(self.skipped):,} items ({_reasons(self.skipped)})")
        if self.total.failed:
            notes.append(f"failed requests (scored as misses): {self.total.failed:,}")
        return "\n".join([*lines, *notes])

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (rates as counts; intervals included for readers)."""

        def result(b: BucketResult) -> dict[str, Any]:
            return {
                **asdict(b),
                "recall": b.recall.rate,
                "recall_interval": list(b.recall.interval),
                "resolved_recall": b.resolved_recall.rate,
                "resolved_recall_interval": list(b.resolved_recall.interval),
                "other_item_rate": b.other_item_rate.rate,
                "other_item_interval": list(b.other_item_rate.interval),
            }

        return {
            "probe": self.probe,
            "model": self.model,
            "catalog": self.catalog_name,
            "n_catalog": self.n_catalog,
            "cost_usd": self.cost_usd,
            "total": result(self.total),
            "by_bucket": {k: result(v) for k, v in self.by_bucket.items()},
            "skipped": {str(k): v for k, v in self.skipped.items()},
            "rows": [asdict(r) for r in self.rows],
        }

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON, atomically."""
        from llmrec._io import write_text_atomic

        out = Path(path)
        write_text_atomic(out, json.dumps(self.to_dict(), ensure_ascii=False, indent=1))
        return out

    @classmethod
    def load(cls, path: str | Path) -> MemorisationReport:
        """Read a report written by :meth:`save`."""
        from llmrec.errors import DataFormatError

        src = Path(path)
        try:
            data = json.loads(src.read_text(encoding="utf-8"))
            return cls(
                probe=data["probe"],
                model=data["model"],
                n_catalog=int(data["n_catalog"]),
                rows=[ProbeRow(**r) for r in data["rows"]],
                skipped={int(k): v for k, v in data["skipped"].items()},
                cost_usd=data["cost_usd"],
                catalog_name=data["catalog"],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise DataFormatError(f"not a memorisation report: {exc}", path=src) from None


TABLE_HEADERS: Sequence[str] = (
    "probe",
    "model",
    "bucket",
    "n",
    "recall (exact)",
    "recall (resolved)",
    "other item",
)
"""Column names of :meth:`MemorisationReport.table_rows`."""


def _reasons(skipped: dict[int, str]) -> str:
    counts: dict[str, int] = {}
    for why in skipped.values():
        counts[why] = counts.get(why, 0) + 1
    return ", ".join(f"{n:,} {why}" for why, n in sorted(counts.items()))

"""llmrec's reference definitions for :class:`~llmrec.testing.MetricContract`, and the named
conventions (and classic bugs) a function may follow instead.

A *claim* is what a project says its function computes (``"precision@k"``, ``"map@k"`` with a
normalisation, graded ``"ndcg@k"``, ...). :func:`reference` gives llmrec's value for the claim,
and :func:`alternatives` the other definitions people write, each named, so that a
disagreement can be explained ("AP normalised by |relevant| instead of min(|relevant|, k)").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeAlias

from llmrec.errors import ConfigError
from llmrec.metrics import (
    average_precision,
    f1_at_k,
    hit_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
)
from llmrec.metrics.ap import APNormalization, ap_reference
from llmrec.metrics.f1 import f1_reference
from llmrec.metrics.hit import hit_reference
from llmrec.metrics.ndcg import ndcg_reference
from llmrec.metrics.precision import precision_reference
from llmrec.metrics.recall import recall_reference
from llmrec.metrics.rr import rr_reference

__all__ = ["Claim", "Convention", "alternatives", "compact", "parse_claim", "reference"]

Gain: TypeAlias = Literal["linear", "exponential"]
Duplicates: TypeAlias = Literal["once", "compacted"]
Value: TypeAlias = Callable[[Sequence[Hashable], Any, int], float]
_Formula: TypeAlias = Callable[[Sequence[bool], int, int], float]

FAMILIES = ("precision", "recall", "f1", "hit", "ndcg", "map", "mrr")
_NORMS: dict[str, str] = {
    "min": "min(|relevant|, k)",
    "relevant": "|relevant|",
    "hits": "the number of hits",
    "k": "k",
}


@dataclass(frozen=True)
class Claim:
    """What a function says it computes."""

    family: str
    cutoff: bool
    normalization: APNormalization = "min"
    graded: bool = False
    gain: Gain = "linear"
    duplicates: Duplicates = "once"

    @property
    def label(self) -> str:
        """A readable name, e.g. ``map@k (normalised by min(|relevant|, k))``."""
        text = self.family + ("@k" if self.cutoff else "")
        if self.family == "map":
            text += f" (normalised by {_NORMS[self.normalization]})"
        if self.graded:
            text += f" (graded relevance, {self.gain} gain)"
        if self.duplicates == "compacted":
            text += " (duplicates compacted)"
        return text


@dataclass(frozen=True)
class Convention:
    """Another definition of the claimed metric: ``name`` says what it does, ``llmrec`` what
    llmrec does instead."""

    name: str
    llmrec: str
    value: Value


def parse_claim(
    metric: object,
    normalization: object,
    relevance: object,
    gain: object,
    duplicates: object = "once",
) -> Claim:
    """Parse a ``MetricContract``'s declared ``metric`` and options into a :class:`Claim`."""
    if not isinstance(metric, str):
        raise ConfigError(f"MetricContract.metric must be a string like 'ndcg@k' (got {metric!r})")
    text = metric.strip().lower()
    cutoff = text.endswith("@k")
    family = text[:-2] if cutoff else text
    norm: object = normalization
    if family.startswith("map_") and family[4:] in ("min", "relevant", "hits"):
        family, norm = "map", family[4:]
    if family not in FAMILIES or (not cutoff and family != "mrr"):
        raise ConfigError(
            f"MetricContract.metric {metric!r} is not one of 'precision@k', 'recall@k', 'f1@k', "
            "'hit@k', 'ndcg@k', 'map@k' (with normalization='min'|'relevant'|'hits'), "
            "'mrr' or 'mrr@k'"
        )
    if norm not in ("min", "relevant", "hits"):
        raise ConfigError(f"normalization must be 'min', 'relevant' or 'hits' (got {norm!r})")
    if relevance not in ("binary", "graded"):
        raise ConfigError(f"relevance must be 'binary' or 'graded' (got {relevance!r})")
    if relevance == "graded" and family != "ndcg":
        raise ConfigError("graded relevance is checked for 'ndcg@k' only")
    if gain not in ("linear", "exponential"):
        raise ConfigError(f"gain must be 'linear' or 'exponential' (got {gain!r})")
    if duplicates not in ("once", "compacted"):
        raise ConfigError(f"duplicates must be 'once' or 'compacted' (got {duplicates!r})")
    return Claim(
        family=family,
        cutoff=cutoff,
        normalization="min" if norm == "min" else "relevant" if norm == "relevant" else "hits",
        graded=relevance == "graded",
        gain="linear" if gain == "linear" else "exponential",
        duplicates="once" if duplicates == "once" else "compacted",
    )


def compact(ranked: Sequence[Hashable]) -> list[Hashable]:
    """``ranked`` with every repeat dropped, so later items move up: ``[1, 1, 2]`` → ``[1, 2]``.

    What an evaluator that stores a run as a dict (ranx, trec_eval, pytrec_eval: item → score)
    sees of a list with a repeated item when the first occurrence is kept.
    """
    return list(dict.fromkeys(ranked))


def relevant_ids(relevant: Collection[Hashable] | Mapping[Hashable, float]) -> set[Hashable]:
    """The relevant ids (grade above 0 for graded relevance)."""
    if isinstance(relevant, Mapping):
        return {i for i, g in relevant.items() if g > 0}
    return set(relevant)


def flags(
    ranked: Sequence[Hashable], relevant: set[Hashable], cut: int, *, once: bool = True
) -> list[bool]:
    """Hit flags of the top ``cut`` ranks (a repeat is a hit again when ``once`` is False)."""
    seen: set[Hashable] = set()
    out = []
    for item in list(ranked)[: max(cut, 0)]:
        out.append(item in relevant and (not once or item not in seen))
        seen.add(item)
    return out


def graded_ndcg(
    ranked: Sequence[Hashable],
    grades: Mapping[Hashable, float],
    k: int,
    *,
    gain: Gain = "linear",
    ideal_count: int | None = None,
    cut: int | None = None,
    once: bool = True,
) -> float:
    """Graded NDCG@K: DCG = Σ_j g(grade_j) / log2(j + 1) over first occurrences in the top K,
    IDCG the same over the K highest grades; ``g`` = grade (Järvelin & Kekäläinen, TOIS 2002)
    or 2^grade − 1 (Burges et al., ICML 2005). 0 when nothing is relevant."""

    def g(x: float) -> float:
        return float(x) if gain == "linear" else 2.0 ** float(x) - 1.0

    seen: set[Hashable] = set()
    dcg = 0.0
    for j, item in enumerate(list(ranked)[: k if cut is None else max(cut, 0)], start=1):
        grade = grades.get(item, 0)
        if grade > 0 and (not once or item not in seen):
            dcg += g(grade) / math.log2(j + 1)
        seen.add(item)
    ideal = sorted((v for v in grades.values() if v > 0), reverse=True)
    ideal = ideal[: k if ideal_count is None else ideal_count]
    idcg = sum(g(v) / math.log2(j + 1) for j, v in enumerate(ideal, start=1))
    return 0.0 if idcg == 0 else dcg / idcg


def reference(claim: Claim) -> Value:
    """llmrec's value of ``claim`` for one user whose relevant set is not empty; with
    ``duplicates="compacted"``, the value of the :func:`compacted <compact>` list."""
    if claim.duplicates == "compacted":
        once = reference(replace(claim, duplicates="once"))
        return lambda r, rel, k: once(compact(r), rel, k)
    if claim.graded:
        return lambda r, rel, k: graded_ndcg(r, rel, k, gain=claim.gain)
    if claim.family == "mrr":
        if claim.cutoff:
            return lambda r, rel, k: reciprocal_rank(r, relevant_ids(rel), k)
        return lambda r, rel, k: reciprocal_rank(r, relevant_ids(rel))
    if claim.family == "map":
        norm = claim.normalization
        return lambda r, rel, k: average_precision(r, relevant_ids(rel), k, normalization=norm)
    fn = {
        "precision": precision_at_k,
        "recall": recall_at_k,
        "f1": f1_at_k,
        "hit": hit_at_k,
        "ndcg": ndcg_at_k,
    }[claim.family]
    return lambda r, rel, k: fn(r, relevant_ids(rel), k)


def _formula(claim: Claim) -> _Formula:
    if claim.family == "map":
        norm = claim.normalization
        return lambda f, n, k: ap_reference(f, n, k, norm)
    formulas: dict[str, _Formula] = {
        "precision": precision_reference,
        "recall": recall_reference,
        "f1": f1_reference,
        "hit": hit_reference,
        "ndcg": ndcg_reference,
        "mrr": rr_reference,
    }
    return formulas[claim.family]


def _binary(formula: _Formula, cut: Callable[[int, int], int], once: bool = True) -> Value:
    """A value from ``formula`` on the hit flags of the top ``cut(k, len(ranked))`` ranks."""

    def value(r: Sequence[Hashable], rel: Any, k: int) -> float:
        ids = relevant_ids(rel)
        return formula(flags(r, ids, cut(k, len(r)), once=once), len(ids), k)

    return value


def _safe(fn: Callable[[], float]) -> float:
    try:
        return fn()
    except ZeroDivisionError:
        return 0.0


_COMPACTED = (
    "compacted duplicates: a repeated item is dropped and later items move up, as in "
    'dict-based evaluators (ranx, trec_eval, pytrec_eval); declare duplicates = "compacted"'
)
_ONCE = "a repeated item counts once, at its first rank, and later items keep their ranks"


def alternatives(claim: Claim) -> list[Convention]:
    """Other definitions of ``claim`` (conventions of other tools and classic bugs), named.

    For a claim with ``duplicates="compacted"`` they are the same conventions on the compacted
    list, plus llmrec's own handling of repeats (a repeat keeps its rank and counts once).
    """
    if claim.duplicates == "compacted":
        once_claim = replace(claim, duplicates="once")
        out = [
            Convention(conv.name, conv.llmrec, _on_compacted(conv.value))
            for conv in _alternatives(once_claim)
        ]
        kept = (
            "a repeated item keeps its rank and counts once (llmrec's default; "
            'declare duplicates = "once")'
        )
        return [*out, Convention(kept, "compacted duplicates", reference(once_claim))]
    return [
        *_alternatives(claim),
        Convention(_COMPACTED, _ONCE, reference(replace(claim, duplicates="compacted"))),
    ]


def _on_compacted(value: Value) -> Value:
    return lambda r, rel, k: value(compact(r), rel, k)


def _alternatives(claim: Claim) -> list[Convention]:
    out: list[Convention] = []
    once = "a repeated item counts once, at its first rank"
    cut_name = "the top k items"
    if claim.graded:
        other: Gain = "exponential" if claim.gain == "linear" else "linear"
        names = {"linear": "the grade itself", "exponential": "2^grade - 1"}
        gain = claim.gain
        out += [
            Convention(
                f"gain {names[other]} instead of {names[gain]}",
                f"gain {names[gain]}",
                lambda r, rel, k: graded_ndcg(r, rel, k, gain=other),
            ),
            Convention(
                "ideal DCG over all relevant items instead of the first k",
                "the ideal DCG sums the k highest grades",
                lambda r, rel, k: graded_ndcg(r, rel, k, gain=gain, ideal_count=len(rel)),
            ),
            Convention(
                "off-by-one cut-off: scores the top k+1 items",
                cut_name,
                lambda r, rel, k: graded_ndcg(r, rel, k, gain=gain, cut=k + 1),
            ),
            Convention(
                "off-by-one cut-off: scores only the top k-1 items",
                cut_name,
                lambda r, rel, k: graded_ndcg(r, rel, k, gain=gain, cut=k - 1),
            ),
            Convention(
                "counts duplicates twice: a repeated item gains again at every rank",
                once,
                lambda r, rel, k: graded_ndcg(r, rel, k, gain=gain, once=False),
            ),
            Convention(
                "ignores the grades (binary relevance)",
                "graded gains",
                lambda r, rel, k: ndcg_at_k(r, relevant_ids(rel), k),
            ),
        ]
        return out
    formula = _formula(claim)
    if claim.family == "mrr":
        if claim.cutoff:
            out.append(
                Convention(
                    "ignores the cut-off k (reciprocal rank over the whole list)",
                    "only the top k count",
                    lambda r, rel, k: reciprocal_rank(r, relevant_ids(rel)),
                )
            )
        else:
            out.append(
                Convention(
                    "applies the cut-off k",
                    "the whole list counts (declare 'mrr@k' for a cut-off)",
                    lambda r, rel, k: reciprocal_rank(r, relevant_ids(rel), k),
                )
            )
    if claim.cutoff:
        out += [
            Convention(
                "off-by-one cut-off: scores the top k+1 items",
                cut_name,
                _binary(formula, lambda k, n: k + 1),
            ),
            Convention(
                "off-by-one cut-off: scores only the top k-1 items",
                cut_name,
                _binary(formula, lambda k, n: k - 1),
            ),
        ]
    whole = (lambda k, n: k) if claim.cutoff else (lambda k, n: n)
    out.append(
        Convention(
            "counts duplicates twice: a repeated relevant item is a hit at every rank",
            once,
            _binary(formula, whole, once=False),
        )
    )
    if claim.family in ("precision", "f1"):
        out.append(
            Convention(
                "divides by the list's length instead of k when fewer than k items were "
                "recommended",
                "the denominator is k, whatever the list's length",
                lambda r, rel, k: _safe(
                    lambda: (precision_reference if claim.family == "precision" else f1_reference)(
                        flags(r, relevant_ids(rel), k),
                        len(relevant_ids(rel)),
                        min(len(r), k),
                    )
                ),
            )
        )
    if claim.family == "recall":
        out.append(
            Convention(
                "divides by min(|relevant|, k) instead of |relevant|",
                "the denominator is |relevant|",
                lambda r, rel, k: recall_reference(
                    flags(r, relevant_ids(rel), k), min(len(relevant_ids(rel)), k), k
                ),
            )
        )
    if claim.family == "ndcg":
        out += [
            Convention(
                "ideal DCG over all relevant items instead of the first k",
                "the ideal DCG counts min(|relevant|, k) hits",
                lambda r, rel, k: ndcg_reference(
                    flags(r, relevant_ids(rel), k), len(relevant_ids(rel)), len(relevant_ids(rel))
                ),
            ),
            Convention(
                "ideal DCG over k hits even when fewer items are relevant",
                "the ideal DCG counts min(|relevant|, k) hits",
                lambda r, rel, k: ndcg_reference(flags(r, relevant_ids(rel), k), k, k),
            ),
        ]
    if claim.family == "map":
        for norm in ("min", "relevant", "hits", "k"):
            if norm == claim.normalization:
                continue
            out.append(
                Convention(
                    f"AP normalised by {_NORMS[norm]} instead of {_NORMS[claim.normalization]}",
                    f"AP is normalised by {_NORMS[claim.normalization]}",
                    _ap(norm),
                )
            )
    return out


def _ap(norm: str) -> Value:
    def value(r: Sequence[Hashable], rel: Any, k: int) -> float:
        ids = relevant_ids(rel)
        f = flags(r, ids, k)
        if norm == "k":
            return ap_reference(f, k, k, "relevant")
        name: APNormalization = (
            "min" if norm == "min" else "relevant" if norm == "relevant" else "hits"
        )
        return ap_reference(f, len(ids), k, name)

    return value

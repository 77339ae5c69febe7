"""One definition per metric: the scalar reference and the vectorised kernel, registered together.

A metric module writes two things:

* ``reference(flags, n_relevant, k)``: the formula, on one user's first-occurrence hit flags of
  the top ``k`` ranks and the number of distinct relevant ids (the readable definition);
* ``kernel(hit_matrix, k)``: the same formula for all users at once.

:func:`define_metric` registers both under the metric's name and generates the public
single-user and batch functions, so the input checks, the empty-relevant policy and the
registry entry are written once for every metric.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from llmrec.metrics._batch import FloatArray, Kernel, run_batch
from llmrec.metrics._common import (
    EmptyRelevant,
    Ranked,
    Relevant,
    check_empty_relevant,
    check_k,
    check_optional_k,
    empty_value,
    hit_list,
)
from llmrec.metrics._hits import BatchInput
from llmrec.metrics.registry import register_metric

__all__ = ["BatchMetric", "MetricDefinition", "Reference", "ScalarMetric", "define_metric"]

_F = TypeVar("_F", bound=Callable[..., object])

Reference = Callable[[Sequence[bool], int, int], float]
"""``reference(flags, n_relevant, k) -> value``: ``flags`` has at most ``k`` entries."""


class ScalarMetric(Protocol):
    """A generated single-user metric function."""

    def __call__(
        self, ranked: Ranked, relevant: Relevant, k: int, *, empty_relevant: EmptyRelevant = ...
    ) -> float: ...


class BatchMetric(Protocol):
    """A generated many-user metric function."""

    def __call__(
        self,
        ranked: BatchInput,
        relevant: BatchInput,
        k: int,
        *,
        empty_relevant: EmptyRelevant = ...,
    ) -> FloatArray: ...


@dataclass(frozen=True)
class MetricDefinition:
    """A metric's name, its scalar ``reference`` and its vectorised ``kernel``."""

    name: str
    reference: Reference
    kernel: Kernel

    def score(
        self, ranked: Ranked, relevant: Relevant, k: int | None, empty_relevant: EmptyRelevant
    ) -> float:
        """One user's value from the reference (``k=None``: the whole list is the cut-off)."""
        check_empty_relevant(empty_relevant)
        flags, n_rel = hit_list(ranked, relevant, k)
        if n_rel == 0:
            return empty_value(empty_relevant)
        return float(self.reference(flags, n_rel, len(flags) if k is None else k))

    def score_batch(
        self,
        ranked: BatchInput,
        relevant: BatchInput,
        k: int | None,
        empty_relevant: EmptyRelevant,
    ) -> FloatArray:
        """Every user's value from the kernel."""
        return run_batch(self.kernel, ranked, relevant, k, empty_relevant)

    def registry_fn(
        self, ranked: Sequence[Hashable], relevant: Collection[Hashable], k: object
    ) -> float:
        """The registry's single-user function: an empty relevant set scores 0."""
        return self.score(ranked, relevant, check_optional_k(k), "zero")

    def scalar_function(self, name: str, doc: str, module: str) -> ScalarMetric:
        """The public ``f(ranked, relevant, k, *, empty_relevant="skip")`` of this metric."""

        def scalar(
            ranked: Ranked, relevant: Relevant, k: int, *, empty_relevant: EmptyRelevant = "skip"
        ) -> float:
            return self.score(ranked, relevant, check_k(k), empty_relevant)

        return _named(scalar, name, doc, module)

    def batch_function(self, name: str, doc: str, module: str) -> BatchMetric:
        """The public ``f_batch(ranked, relevant, k, *, empty_relevant="skip")``."""

        def batch(
            ranked: BatchInput,
            relevant: BatchInput,
            k: int,
            *,
            empty_relevant: EmptyRelevant = "skip",
        ) -> FloatArray:
            return self.score_batch(ranked, relevant, check_k(k), empty_relevant)

        return _named(batch, name, doc, module)


def _named(fn: _F, name: str, doc: str, module: str) -> _F:
    """Give a generated function its public name, docstring and module."""
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    fn.__module__ = module
    return fn


def define_metric(
    name: str,
    reference: Reference,
    kernel: Kernel,
    *,
    needs_k: bool = True,
    aliases: Iterable[str] = (),
    description: str = "",
) -> MetricDefinition:
    """Define metric ``name`` once: keep its reference and kernel together and register both."""
    definition = MetricDefinition(name, reference, kernel)
    register_metric(
        name,
        definition.registry_fn,
        batch=kernel,
        needs_k=needs_k,
        aliases=aliases,
        description=description,
    )
    return definition

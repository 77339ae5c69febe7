"""Each metric is defined once: reference and kernel registered together, functions generated."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given

from llmrec.errors import ConfigError
from llmrec.metrics import (
    average_precision,
    f1_at_k_batch,
    ndcg_at_k,
    precision_at_k,
    precision_at_k_batch,
    reciprocal_rank,
    resolve_metric,
)
from llmrec.metrics._common import check_k, check_optional_k
from llmrec.metrics._hits import build_hit_matrix
from llmrec.metrics.ap import AP
from llmrec.metrics.f1 import F1
from llmrec.metrics.hit import HIT
from llmrec.metrics.ndcg import NDCG
from llmrec.metrics.precision import PRECISION
from llmrec.metrics.recall import RECALL
from llmrec.metrics.rr import RR
from llmrec.testing import strategies as lst

DEFINITIONS = [PRECISION, RECALL, F1, HIT, NDCG, RR, *AP.values()]


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.name)
def test_the_registry_holds_the_definitions_kernel(definition: object) -> None:
    name = definition.name
    spec = resolve_metric(name if name == "mrr" else f"{name}@5")
    assert spec.batch is definition.kernel


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.name)
@given(batch=lst.batches(form="ragged", min_relevant=1))
def test_reference_and_kernel_agree(definition: object, batch: lst.Batch) -> None:
    hm = build_hit_matrix(batch.lists, batch.sets, batch.k)
    kernel = definition.kernel(hm, batch.k)
    reference = [
        definition.score(r, s, batch.k, "skip")
        for r, s in zip(batch.lists, batch.sets, strict=True)
    ]
    np.testing.assert_allclose(kernel, reference, rtol=0, atol=1e-12)


def test_generated_functions_keep_their_public_names_and_signatures() -> None:
    assert precision_at_k.__name__ == "precision_at_k"
    assert precision_at_k_batch.__name__ == "precision_at_k_batch"
    assert "P@K" in (precision_at_k.__doc__ or "")
    params = inspect.signature(precision_at_k).parameters
    assert list(params) == ["ranked", "relevant", "k", "empty_relevant"]
    assert params["empty_relevant"].default == "skip"
    assert list(inspect.signature(f1_at_k_batch).parameters) == [
        "ranked",
        "relevant",
        "k",
        "empty_relevant",
    ]


def test_check_k_returns_int_and_check_optional_k_allows_none() -> None:
    assert check_k(np.int64(3)) == 3 and type(check_k(np.int64(3))) is int
    assert check_optional_k(None) is None
    assert check_optional_k(2) == 2
    for bad in (0, -1, 2.5, True, "3", None):
        with pytest.raises(ConfigError, match="must be a positive integer"):
            check_k(bad)
    with pytest.raises(ConfigError, match="k must be a positive integer"):
        check_optional_k(0)


def test_values_are_unchanged_by_the_single_definition() -> None:
    # the numbers the docstrings and docs have always shown
    assert precision_at_k(["a", "b", "c"], {"a", "c", "z"}, 2) == 0.5
    assert average_precision(["a", "x", "b"], {"a", "b"}, 3) == 0.8333333333333333
    assert reciprocal_rank(["a", "b", "c"], {"c"}) == 0.3333333333333333
    assert round(ndcg_at_k(["x", "a"], {"a"}, 2), 6) == 0.63093
    with pytest.raises(ConfigError, match="k must be a positive integer"):
        precision_at_k(["a"], {"a"}, 0)
    with pytest.raises(ConfigError, match="empty_relevant must be one of"):
        precision_at_k(["a"], {"a"}, 1, empty_relevant="drop")  # type: ignore[arg-type]

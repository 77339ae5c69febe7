"""evaluate, MetricReport and the metric registry."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.errors import ConfigError
from llmrec.metrics import (
    DEFAULT_METRICS,
    MetricReport,
    available_metrics,
    evaluate,
    ndcg_at_k_batch,
    register_metric,
    resolve_metric,
)

RECS = {"ann": ["a", "b", "c"], "bob": ["x", "y", "x"], "eve": ["q"]}
TRUTH = {"ann": {"b"}, "bob": {"x", "z"}, "cid": {"c"}, "dan": set()}


def test_evaluate_worked_example_with_mappings() -> None:
    report = evaluate(RECS, TRUTH, ["precision@2", "mrr", "hit@1"], n_bootstrap=0)
    # dan (empty truth) is skipped; cid has no list → scored as an empty list; eve is ignored
    assert report.users == ["ann", "bob", "cid"]
    assert report.values["precision@2"].tolist() == [0.5, 0.5, 0.0]
    assert report.values["mrr"].tolist() == [0.5, 1.0, 0.0]
    assert report.values["hit@1"].tolist() == [0.0, 1.0, 0.0]
    assert report.means["mrr"] == pytest.approx(0.5)
    assert report["precision@2"] == pytest.approx(1 / 3)
    assert (report.n_evaluated, report.n_skipped, report.n_missing, report.n_ignored) == (
        3,
        1,
        1,
        1,
    )
    # entries: ann 3, bob 3 (one repeat), cid 0 → 1 / 6
    assert report.duplicate_rate == pytest.approx(1 / 6)
    assert math.isnan(report.ci["mrr"][0])


def test_empty_truth_policies() -> None:
    zero = evaluate(RECS, TRUTH, ["precision@2"], empty_truth="zero", n_bootstrap=0)
    assert zero.users == ["ann", "bob", "cid", "dan"]
    assert zero.values["precision@2"].tolist() == [0.5, 0.5, 0.0, 0.0]
    assert zero.n_skipped == 0
    with pytest.raises(ConfigError, match="user 'dan' has an empty truth set"):
        evaluate(RECS, TRUTH, ["precision@2"], empty_truth="raise")


def test_aligned_sequences_and_padded_arrays_agree() -> None:
    rng = np.random.default_rng(0)
    ranked = rng.integers(0, 50, size=(300, 10))
    relevant = rng.integers(-1, 50, size=(300, 8))
    relevant[:5] = -1  # five users with an empty truth set
    a = evaluate(ranked, relevant, n_bootstrap=50)
    b = evaluate(
        [list(r) for r in ranked.tolist()],
        [[x for x in t if x >= 0] for t in relevant.tolist()],
        n_bootstrap=50,
    )
    assert a.users == b.users == list(range(5, 300))
    for name in a.metrics:
        np.testing.assert_array_equal(a.values[name], b.values[name])
        assert a.ci[name] == b.ci[name]
    assert a.n_skipped == 5
    expected = ndcg_at_k_batch(ranked[5:], relevant[5:], 10)
    np.testing.assert_allclose(a.values["ndcg@10"], expected)


def test_default_metrics_and_canonical_names() -> None:
    report = evaluate([["a"]], [["a"]], n_bootstrap=0)
    assert report.metrics == list(DEFAULT_METRICS)
    report = evaluate([["a"]], [["a"]], ["P@3", "hr@2", "RR", "ap@2", "map_relevant@2"])
    assert report.metrics == ["precision@3", "hit@2", "mrr", "map@2", "map_relevant@2"]


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    rng = np.random.default_rng(1)
    ranked = rng.integers(0, 20, size=(400, 5))
    relevant = rng.integers(0, 20, size=(400, 3))
    a = evaluate(ranked, relevant, ["ndcg@5", "recall@5"], seed=3, n_bootstrap=200)
    b = evaluate(ranked, relevant, ["ndcg@5", "recall@5"], seed=3, n_bootstrap=200)
    c = evaluate(ranked, relevant, ["ndcg@5", "recall@5"], seed=4, n_bootstrap=200)
    assert a.ci == b.ci
    assert a.ci != c.ci
    for name in a.metrics:
        lo, hi = a.ci[name]
        assert lo < a.means[name] < hi
        # a 95 % interval of a mean is about ±1.96 standard errors wide
        se = a.values[name].std(ddof=1) / math.sqrt(400)
        assert 2 * 1.5 * se < hi - lo < 2 * 2.5 * se


def test_bootstrap_chunking_does_not_change_the_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each resampled sum is one fixed-order row reduction (integer counts × values, no BLAS
    product), so the interval is the same bits for every chunk size and memory layout."""
    from llmrec.metrics import _bootstrap

    values = np.random.default_rng(0).random((50, 2))
    before = _bootstrap.bootstrap_ci(values, 100, 0.9, 5)
    for cells in (1, 7, 50 * 3, 50 * 64):
        monkeypatch.setattr(_bootstrap, "_CELLS", cells)
        after = _bootstrap.bootstrap_ci(values, 100, 0.9, 5)
        np.testing.assert_array_equal(before[0], after[0])
        np.testing.assert_array_equal(before[1], after[1])
    fortran = _bootstrap.bootstrap_ci(np.asfortranarray(values), 100, 0.9, 5)
    np.testing.assert_array_equal(before[0], fortran[0])


def test_bootstrap_means_are_the_resampled_means() -> None:
    """The resampled means agree with an exactly rounded sum (math.fsum) of the drawn users."""
    import math

    from llmrec.metrics import _bootstrap

    values = np.random.default_rng(1).random((40, 1))
    n_boot, seed = 30, 3
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, 40, size=(n_boot, 40), dtype=np.int64)
    means = np.array([math.fsum(values[row, 0]) / 40 for row in idx])
    lo, hi = _bootstrap.bootstrap_ci(values, n_boot, 0.9, seed)
    want_lo, want_hi = np.quantile(means, 0.05), np.quantile(means, 0.95)
    assert abs(lo[0] - want_lo) < 1e-12 and abs(hi[0] - want_hi) < 1e-12


def test_report_repr_is_short_whatever_the_number_of_users() -> None:
    users = {f"user-{i}": [i, i + 1, i + 2] for i in range(500)}
    truth = {f"user-{i}": {i + 1} for i in range(500)}
    report = evaluate(users, truth, ["precision@3", "mrr"], n_bootstrap=0)
    text = repr(report)
    assert text.startswith("MetricReport(n_evaluated=500, n_skipped=0, means={")
    assert "'precision@3': 0.3333" in text and "array" not in text
    assert len(text) < 200


def test_bad_evaluate_arguments() -> None:
    with pytest.raises(ConfigError, match="both be mappings"):
        evaluate(RECS, [["a"]])
    with pytest.raises(ConfigError, match="differ in length"):
        evaluate([["a"]], [["a"], ["b"]])
    with pytest.raises(ConfigError, match="unknown metric 'nope@3'"):
        evaluate([["a"]], [["a"]], ["nope@3"])
    with pytest.raises(ConfigError, match="needs a cutoff"):
        evaluate([["a"]], [["a"]], ["ndcg"])
    with pytest.raises(ConfigError, match="repeat"):
        evaluate([["a"]], [["a"]], ["p@3", "precision@3"])
    with pytest.raises(ConfigError, match="confidence"):
        evaluate([["a"]], [["a"]], ["p@3"], confidence=1.5)
    with pytest.raises(ConfigError, match="k in 'p@0'"):
        resolve_metric("p@0")
    with pytest.raises(ConfigError, match="cannot parse"):
        resolve_metric("p@@3")


def test_report_renders_as_text_html_dict_and_dataframe() -> None:
    report = evaluate(RECS, TRUTH, ["precision@2", "mrr"], n_bootstrap=100)
    text = report.to_table()
    assert str(report) == text
    lines = text.splitlines()
    assert lines[0].split() == ["metric", "mean", "95%", "CI"]
    assert lines[2].startswith("precision@2") and "0.3333" in lines[2]
    assert "users evaluated: 3; skipped (empty truth): 1" in text
    html = report.to_table(html=True)
    assert report._repr_html_() == html
    assert html.startswith("<table>") and "<td>mrr</td>" in html
    data = report.to_dict(per_user=True)
    assert json.loads(json.dumps(data)) == data
    assert data["metrics"]["mrr"]["mean"] == pytest.approx(0.5)
    assert data["values"]["mrr"] == [0.5, 1.0, 0.0]
    frame = report.to_dataframe()
    assert list(frame.columns) == ["precision@2", "mrr"]
    assert frame.loc["bob", "mrr"] == 1.0
    with pytest.raises(ConfigError, match="not in this report"):
        report["ndcg@3"]


def test_to_dataframe_without_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)
    report = MetricReport([], {}, {}, {}, 0, 0, 0.0)
    with pytest.raises(ConfigError, match="pip install pandas"):
        report.to_dataframe()


def _first_item_is_relevant(ranked: list[object], relevant: set[object], k: int | None) -> float:
    return float(bool(ranked) and ranked[0] in relevant)


def test_user_registered_metric_is_resolved_and_receives_original_ids() -> None:
    seen: list[object] = []

    def spy(ranked: list[object], relevant: set[object], k: int | None) -> float:
        seen.append((tuple(ranked), k))
        return _first_item_is_relevant(ranked, relevant, k)

    register_metric("first_hit_test", spy, needs_k=False, aliases=["fht"], overwrite=True)
    assert "first_hit_test" in available_metrics()
    assert "fht" in available_metrics()["first_hit_test"]
    report = evaluate(RECS, TRUTH, ["fht", "first_hit_test@4", "mrr"], n_bootstrap=0)
    assert report.values["first_hit_test"].tolist() == [0.0, 1.0, 0.0]
    assert (("a", "b", "c"), None) in seen and (("a", "b", "c"), 4) in seen
    with pytest.raises(ConfigError, match="already registered"):
        register_metric("first_hit_test", spy)
    with pytest.raises(ConfigError, match="plain identifier"):
        register_metric("bad@name", spy)


def test_builtin_registry_lists_the_families() -> None:
    names = set(available_metrics())
    assert {"precision", "recall", "f1", "hit", "mrr", "map", "ndcg"} <= names
    assert {"map_relevant", "map_hits"} <= names
    spec = resolve_metric(" NDCG @ 10 ")
    assert (spec.name, spec.family, spec.k) == ("ndcg@10", "ndcg", 10)
    assert spec.single(["a", "b"], {"b"}) == pytest.approx(1 / math.log2(3))


def test_bootstrap_matches_the_resampling_definition() -> None:
    from llmrec.metrics._bootstrap import bootstrap_ci

    values = np.random.default_rng(1).random((120, 3))
    # reference: draw 80 resamples of 120 users with the same generator, take column means
    idx = np.random.default_rng(9).integers(0, 120, size=(80, 120), dtype=np.int64)
    means = values[idx].mean(axis=1)
    lo, hi = bootstrap_ci(values, 80, 0.9, 9)
    np.testing.assert_allclose(lo, np.quantile(means, 0.05, axis=0))
    np.testing.assert_allclose(hi, np.quantile(means, 0.95, axis=0))
    assert np.isnan(bootstrap_ci(values[:0], 80, 0.9, 9)[0]).all()
    with pytest.raises(ConfigError, match="n_bootstrap"):
        bootstrap_ci(values, -1, 0.9, 9)


def test_no_evaluable_user_gives_nan_means_and_a_json_ready_dict() -> None:
    report = evaluate({"a": ["x"]}, {"a": []}, ["ndcg@3"], n_bootstrap=10)
    assert (report.n_evaluated, report.n_skipped) == (0, 1)
    assert math.isnan(report.means["ndcg@3"])
    data = report.to_dict()
    assert data["metrics"]["ndcg@3"] == {"mean": None, "ci_low": None, "ci_high": None}
    json.dumps(data, allow_nan=False)
    assert "users evaluated: 0; skipped (empty truth): 1" in str(report)


user_ids = st.sampled_from(["u1", "u2", "u3", "u4", "u5", "u6"])
id_lists = st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), max_size=8)


@given(
    recs=st.dictionaries(user_ids, id_lists, max_size=6),
    truth=st.dictionaries(user_ids, st.sets(st.sampled_from(["a", "b", "c", "x"])), max_size=6),
)
def test_evaluate_equals_single_user_functions_on_any_mapping(
    recs: dict[str, list[str]], truth: dict[str, set[str]]
) -> None:
    from llmrec.metrics import average_precision, f1_at_k, reciprocal_rank

    report = evaluate(recs, truth, ["f1@3", "mrr", "map@4"], n_bootstrap=0)
    expected_users = [u for u in truth if truth[u]]
    assert report.users == expected_users
    assert report.n_skipped == len(truth) - len(expected_users)
    assert report.n_missing == sum(1 for u in expected_users if u not in recs)
    assert report.n_ignored == sum(1 for u in recs if u not in truth)
    for i, u in enumerate(expected_users):
        ranked = recs.get(u, [])
        assert report.values["f1@3"][i] == pytest.approx(f1_at_k(ranked, truth[u], 3))
        assert report.values["mrr"][i] == pytest.approx(reciprocal_rank(ranked, truth[u]))
        assert report.values["map@4"][i] == pytest.approx(average_precision(ranked, truth[u], 4))

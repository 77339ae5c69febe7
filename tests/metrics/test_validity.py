"""evaluate_validity: strict and valid-only blocks side by side; summarize_repeats' intervals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmrec.errors import ConfigError
from llmrec.metrics import evaluate, evaluate_validity, summarize_repeats, top1_flip_rate

RECS = {"a": [1, 2], "b": [7], "c": [5, 3], "d": None}
TRUTH = {"a": {1}, "b": {2}, "c": {3}, "d": {4}}


def test_example_strict_and_valid_only() -> None:
    # b's answer is marked invalid (its list is ignored in strict), d has no answer at all
    report = evaluate_validity(RECS, TRUTH, {"a", "c", "d"}, ["hit@1", "hit@2"], n_bootstrap=0)
    assert report.n_total == 4 and report.n_valid == 2 and report.validity_rate == 0.5
    assert report.invalid_users == ["b", "d"]  # d was marked valid but gave no answer
    assert report.strict.means == {"hit@1": 0.25, "hit@2": 0.5}
    assert report.valid_only.means == {"hit@1": 0.5, "hit@2": 1.0}
    assert report.strict.n_evaluated == 4 and report.valid_only.n_evaluated == 2
    text = str(report)
    assert "strict" in text and "valid-only" in text and "2 of 4" in text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["validity"] == {
        "n_valid": 2,
        "n_total": 4,
        "validity_rate": 0.5,
        "invalid_users": ["b", "d"],
    }
    assert data["strict"]["metrics"]["hit@2"]["mean"] == 0.5
    assert "<table" in report._repr_html_()


def test_an_invalid_answer_scores_as_a_miss_even_when_it_holds_hits() -> None:
    report = evaluate_validity({"a": [1]}, {"a": {1}}, set(), ["hit@1"], n_bootstrap=0)
    assert report.strict["hit@1"] == 0.0
    assert report.n_valid == 0 and np.isnan(report.valid_only["hit@1"])


def test_valid_as_mapping_and_aligned_forms() -> None:
    by_map = evaluate_validity(RECS, TRUTH, {"a": True, "b": False, "c": True}, ["mrr"])
    by_set = evaluate_validity(RECS, TRUTH, ["a", "c"], ["mrr"])
    assert by_map.strict.means == by_set.strict.means
    recs = [[1, 2], [7], [5, 3]]
    truth = [{1}, {2}, {3}]
    aligned = evaluate_validity(recs, truth, [True, False, True], ["mrr"], n_bootstrap=0)
    padded = np.array([[1, 2], [7, -1], [5, 3]])
    arrays = evaluate_validity(padded, truth, np.array([True, False, True]), ["mrr"], n_bootstrap=0)
    assert aligned.strict.means == arrays.strict.means == {"mrr": 0.5}
    assert aligned.valid_only.means == arrays.valid_only.means == {"mrr": 0.75}
    assert aligned.invalid_users == [1]


@pytest.mark.parametrize(
    ("recs", "truth", "valid", "match"),
    [
        (RECS, TRUTH, 3, "collection of valid user ids"),
        ([[1]], [{1}], {0}, "sequence of booleans"),
        ([[1]], [{1}], [True, False], "one boolean per user"),
        ([[1]], [{1}], [1], "one boolean per user"),
        (RECS, [{1}], [True], "both be mappings"),
    ],
)
def test_bad_valid_raises(recs: object, truth: object, valid: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        evaluate_validity(recs, truth, valid, ["mrr"])


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.lists(st.integers(0, 9), max_size=5),
            st.sets(st.integers(0, 9), min_size=1, max_size=3),
            st.booleans(),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_blocks_agree_with_plain_evaluate(rows: list[tuple[list[int], set[int], bool]]) -> None:
    """Strict = evaluate with invalid lists emptied; valid-only = evaluate on the valid users."""
    recs = {i: r for i, (r, _, _) in enumerate(rows)}
    truth = {i: t for i, (_, t, _) in enumerate(rows)}
    valid = {i for i, (_, _, ok) in enumerate(rows) if ok}
    names = ["hit@1", "ndcg@5", "mrr"]
    report = evaluate_validity(recs, truth, valid, names, n_bootstrap=0)
    blanked = {i: (r if i in valid else []) for i, r in recs.items()}
    assert report.strict.means == evaluate(blanked, truth, names, n_bootstrap=0).means
    if valid:
        only = evaluate(
            {i: recs[i] for i in valid}, {i: truth[i] for i in valid}, names, n_bootstrap=0
        )
        assert report.valid_only.means == only.means
        # strict never exceeds what the valid answers score, scaled by their share
        for name in names:
            scaled = report.valid_only.means[name] * len(valid) / len(rows)
            assert report.strict.means[name] == pytest.approx(scaled)


def test_repeat_interval_is_students_t_over_repeats() -> None:
    truth = {"u": {1}, "v": {2}}
    rankings = [{"u": [1], "v": [3]}, {"u": [1], "v": [2]}, {"u": [3], "v": [3]}]
    summary = summarize_repeats(rankings, truth, ["hit@1"], confidence=0.95)
    stat = summary.strict["hit@1"]
    assert stat.values == (0.5, 1.0, 0.0) and stat.mean == 0.5
    half = 4.302652729911275 * 0.5 / np.sqrt(3)  # t(0.975, 2) · s / √3, s = 0.5
    # clipped to the metric's range [0, 1]: the raw interval is [-0.74, 1.74]
    assert stat.low == max(0.5 - half, 0.0) == 0.0 and stat.high == min(0.5 + half, 1.0) == 1.0
    narrow = summarize_repeats([rankings[1]] * 2 + [rankings[0]], truth, ["hit@1"])
    values = np.array([1.0, 1.0, 0.5])
    half = 4.302652729911275 * values.std(ddof=1) / np.sqrt(3)
    assert narrow.strict["hit@1"].low == pytest.approx(values.mean() - half)
    assert narrow.strict["hit@1"].high == 1.0
    assert summary.valid_only is None and summary.top1_first_listed is None
    # u: tops 1, 1, 3 -> 2 of 3 pairs differ; v: 3, 2, 3 -> 2 of 3
    assert summary.top1_flip_rate == pytest.approx(2 / 3)
    one = summarize_repeats(rankings[:1], truth, ["hit@1"])
    assert np.isnan(one.strict["hit@1"].low) and np.isnan(one.top1_flip_rate)
    assert json.loads(json.dumps(one.to_dict()))["top1_flip_rate"] is None
    assert "flip rate" in str(summary)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([1, 2, 3]), st.sampled_from([1, 2, 3])), min_size=2, max_size=4
    )
)
def test_repeat_intervals_stay_in_the_metric_range(tops: list[tuple[int, int]]) -> None:
    # two repeats: t(0.975, 1) = 12.7, so the raw interval of any spread passes [0, 1]
    truth = {"u": {1}, "v": {2}}
    rankings = [{"u": [a], "v": [b]} for a, b in tops]
    summary = summarize_repeats(
        rankings, truth, ["hit@1", "ndcg@5"], valid=[{"u", "v"}] * len(tops)
    )
    for block in (summary.strict, summary.valid_only or {}):
        for stat in block.values():
            assert 0.0 <= stat.low <= stat.mean <= stat.high <= 1.0


def test_flip_rate_counts_a_missing_answer_as_a_different_top() -> None:
    assert top1_flip_rate([{"u": [1]}, {"u": []}], ["u"]) == 1.0
    assert top1_flip_rate([{"u": []}, {}], ["u"]) == 0.0


def test_summarize_repeats_checks_its_inputs() -> None:
    with pytest.raises(ConfigError, match="one entry per repeat"):
        summarize_repeats([{"u": [1]}], {"u": {1}}, ["hit@1"], valid=[{"u"}, {"u"}])
    with pytest.raises(ConfigError, match="non-empty sequence"):
        summarize_repeats([], {"u": {1}}, ["hit@1"])


def test_docstring_example() -> None:
    import doctest

    import llmrec.metrics.validity

    result = doctest.testmod(llmrec.metrics.validity, verbose=False)
    assert result.attempted > 0 and result.failed == 0

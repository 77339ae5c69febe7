"""``MetricContract`` passes correct metric code and names each classic bug in what it fails."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from llmrec.errors import ConfigError
from llmrec.testing import MetricContract

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str | None]]:
    """Run pytest on ``metric_bugs.py`` once: class → test → failure message (None if passed)."""
    out = tmp_path_factory.mktemp("contract")
    report = out / "report.xml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(HERE / "metric_bugs.py"),
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
        ],
        capture_output=True,
        text=True,
        cwd=out,
        timeout=600,
    )
    assert report.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    result: dict[str, dict[str, str | None]] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        cls = case.attrib["classname"].rsplit(".", 1)[-1]
        failure = case.find("failure")
        skipped = case.find("skipped")
        if skipped is not None:
            continue
        message = None if failure is None else (failure.text or "") + failure.attrib["message"]
        result.setdefault(cls, {})[case.attrib["name"]] = message
    return result


@pytest.mark.slow
@pytest.mark.parametrize(
    "cls", ["TestCorrectPrecision", "TestCorrectAP", "TestCorrectAPRelevant", "TestCorrectNDCG"]
)
def test_a_correct_metric_passes_every_check(
    outcomes: dict[str, dict[str, str | None]], cls: str
) -> None:
    assert outcomes[cls], cls
    failed = {name: msg for name, msg in outcomes[cls].items() if msg is not None}
    assert failed == {}


BUGS = {
    "TestBugLength": "divides by the list's length instead of k when fewer than k items",
    "TestBugAPNormalisation": "AP normalised by |relevant| instead of min(|relevant|, k)",
    "TestBugIdealDCG": "ideal DCG over all relevant items instead of the first k",
    "TestBugOffByOne": "off-by-one cut-off: scores the top k+1 items",
    "TestBugDuplicates": "counts duplicates twice",
    "TestBugEmptyList": "It crashes on an empty ranked list",
}


@pytest.mark.slow
@pytest.mark.parametrize("cls", sorted(BUGS))
def test_each_classic_bug_fails_with_a_counterexample_naming_it(
    outcomes: dict[str, dict[str, str | None]], cls: str
) -> None:
    failures = {name: msg for name, msg in outcomes[cls].items() if msg is not None}
    assert failures, f"{cls} passed the contract"
    named = [name for name, msg in failures.items() if BUGS[cls] in msg]
    assert named, f"no failure of {cls} names the bug: {failures}"
    message = failures[named[0]]
    assert message is not None
    # the counterexample is a table with the five columns
    assert "ranking" in message and "relevant" in message and "expected" in message
    assert "got" in message


@pytest.mark.slow
def test_the_bug_is_found_by_generated_cases_too(
    outcomes: dict[str, dict[str, str | None]],
) -> None:
    """Agreement on hypothesis-generated cases alone catches every value bug."""
    for cls in ("TestBugLength", "TestBugAPNormalisation", "TestBugIdealDCG", "TestBugOffByOne"):
        message = outcomes[cls]["test_agrees_with_llmrec_reference"]
        assert message is not None and BUGS[cls] in message, cls
    crash = outcomes["TestBugEmptyList"]["test_empty_ranking_scores_zero"]
    assert crash is not None and "IndexError" in crash


def test_an_unknown_claim_is_a_clear_error() -> None:
    class Bad(MetricContract):
        metric = "precison@k"
        function = staticmethod(lambda r, rel, k: 0.0)

    with pytest.raises(ConfigError, match="'precison@k' is not one of"):
        Bad().test_perfect_ranking()


def test_a_missing_function_is_a_clear_error() -> None:
    class NoFunction(MetricContract):
        metric = "hit@k"

    with pytest.raises(ConfigError, match="must set `function = staticmethod"):
        NoFunction().test_empty_ranking_scores_zero()


@pytest.mark.parametrize(
    ("convention", "fn", "passes"),
    [
        ("zero", lambda r, rel, k: 0.0 if not rel else 1.0, True),
        ("nan", lambda r, rel, k: float("nan") if not rel else 1.0, True),
        ("raise", lambda r, rel, k: len(r) / len(rel), True),
        ("zero", lambda r, rel, k: float("nan") if not rel else 1.0, False),
        ("raise", lambda r, rel, k: 0.0, False),
        ("nan", lambda r, rel, k: len(r) / len(rel), False),
    ],
)
def test_the_empty_relevant_convention_is_checked_as_declared(
    convention: str, fn: object, passes: bool
) -> None:
    class Contract(MetricContract):
        metric = "precision@k"
        empty_relevant = convention
        function = staticmethod(fn)  # type: ignore[arg-type]

    if passes:
        Contract().test_empty_relevant_set()
    else:
        with pytest.raises(AssertionError, match=f"declared empty_relevant='{convention}'"):
            Contract().test_empty_relevant_set()


def test_graded_ndcg_names_the_gain_convention() -> None:
    import math

    def exponential(ranked: list[int], grades: dict[int, int], k: int) -> float:
        seen: set[int] = set()
        dcg = 0.0
        for j, item in enumerate(ranked[:k], start=1):
            if item not in seen and grades.get(item, 0) > 0:
                dcg += (2 ** grades[item] - 1) / math.log2(j + 1)
            seen.add(item)
        ideal = sorted(grades.values(), reverse=True)[:k]
        idcg = sum((2**g - 1) / math.log2(j + 1) for j, g in enumerate(ideal, start=1))
        return dcg / idcg if idcg else 0.0

    class Linear(MetricContract):
        metric = "ndcg@k"
        relevance = "graded"
        function = staticmethod(exponential)

    class Exponential(Linear):
        gain = "exponential"

    Exponential().test_perfect_ranking()
    Exponential().test_a_repeated_item_counts_once()
    with pytest.raises(AssertionError, match="gain 2\\^grade - 1 instead of the grade itself"):
        Linear().test_a_repeated_item_counts_once()


def _dict_based(metric: str) -> Any:
    """A metric as dict-based evaluators compute it: the run is a dict item → score, so a
    repeated item keeps its first score and the items after it move up."""
    import math

    def value(ranked: list[int], relevant: set[int], k: int) -> float:
        run: dict[int, float] = {}
        for rank, item in enumerate(ranked):
            run.setdefault(item, -float(rank))
        top = sorted(run, key=lambda i: -run[i])[:k]
        hits = [item in relevant for item in top]
        if metric == "precision@k":
            return sum(hits) / k
        dcg = sum(1 / math.log2(j + 2) for j, hit in enumerate(hits) if hit)
        return dcg / sum(1 / math.log2(j + 2) for j in range(min(len(relevant), k)))

    return value


@pytest.mark.parametrize("metric", ["precision@k", "ndcg@k"])
def test_compacted_duplicates_are_named_and_declarable(metric: str) -> None:
    class Once(MetricContract):
        function = staticmethod(_dict_based(metric))

    Once.metric = metric

    with pytest.raises(AssertionError) as failure:
        Once().test_a_repeated_item_counts_once()
    message = str(failure.value)
    assert "The function follows another convention: compacted duplicates" in message
    assert 'declare duplicates = "compacted"' in message
    assert "off-by-one" not in message and "counts duplicates twice" not in message

    class Compacted(Once):
        duplicates = "compacted"

    contract = Compacted()
    checks = [n for n in dir(contract) if n.startswith("test_") and n != "test_empty_relevant_set"]
    assert len(checks) == 7
    for name in checks:
        getattr(contract, name)()


def test_the_ndcg_case_without_a_convention_is_explained() -> None:
    """NDCG of [0, 0, 1] for {0, 1} at k=12: compacted it is 1.0, llmrec's value is lower."""

    class Once(MetricContract):
        metric = "ndcg@k"
        function = staticmethod(_dict_based("ndcg@k"))

    explanation = Once()._explain([0, 0, 1], {0, 1}, 12, 1.0)
    assert explanation.startswith("The function follows another convention: compacted")


def test_a_compacted_claim_names_llmrec_s_handling_of_repeats() -> None:
    from llmrec.metrics import precision_at_k

    class Compacted(MetricContract):
        metric = "precision@k"
        duplicates = "compacted"
        function = staticmethod(lambda r, rel, k: precision_at_k(r, rel, k))

    with pytest.raises(AssertionError, match="a repeated item keeps its rank and counts once"):
        Compacted().test_a_repeated_item_counts_once()


def test_an_unknown_duplicates_convention_is_a_clear_error() -> None:
    class Bad(MetricContract):
        metric = "precision@k"
        duplicates = "dropped"
        function = staticmethod(lambda r, rel, k: 0.0)

    with pytest.raises(ConfigError, match="duplicates must be 'once' or 'compacted'"):
        Bad().test_perfect_ranking()

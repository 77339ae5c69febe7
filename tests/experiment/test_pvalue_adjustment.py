"""The report's families of paired tests are corrected for multiple testing (``p_adjust``):
adjusted p-values beside the raw ones in results.json and report.md, the method configurable,
and tiny p-values printed as ``< 1e-4``, never ``0``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.experiment import ExperimentConfig, run
from llmrec.experiment.pvalues import PVALUE_KEYS, adjust_family, format_p
from llmrec.metrics import adjust_pvalues

CONFIG = {
    "data": {"kind": "synthetic", "n_users": 400, "n_movies": 80, "n_ratings": 12_000},
    "truth": {"profileData50": {"n_users": 40}},
    "truth_replace": True,
    "n_bootstrap": 5,
    "backends": [{"name": "popularity"}, {"name": "itemknn"}, {"name": "ease"}],
    "metrics": ["precision@3", "mrr"],
}


def test_adjusted_values_sit_beside_the_raw_ones_over_the_whole_family(tmp_path: Path) -> None:
    result = run(ExperimentConfig.model_validate(CONFIG), tmp_path, progress=False)
    doc = json.loads((tmp_path / "results.json").read_text())["datasets"]["profileData50"]
    assert doc["p_adjust"] == "holm"
    cells = [c for comp in doc["comparisons"].values() for c in comp["results"].values()]
    assert len(cells) == 4  # itemknn and ease × two metrics: one family
    for key in PVALUE_KEYS:
        raw = [np.nan if c[key] is None else c[key] for c in cells]
        want = adjust_pvalues(raw, "holm")
        got = [np.nan if c[f"{key}_adj"] is None else c[f"{key}_adj"] for c in cells]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    report = (tmp_path / "report.md").read_text()
    assert "| t-test p | holm adj. | Wilcoxon p | holm adj. |" in report
    assert "p-values adjusted with `holm`" in report
    # the stored raw tests do not depend on the method: switching it reruns nothing
    off = run(
        ExperimentConfig.model_validate({**CONFIG, "p_adjust": "none"}), tmp_path, progress=False
    )
    assert off.ran == [] and result.ran
    doc = json.loads((tmp_path / "results.json").read_text())["datasets"]["profileData50"]
    assert doc["p_adjust"] == "none"
    assert all(
        "t_pvalue_adj" not in c
        for comp in doc["comparisons"].values()
        for c in comp["results"].values()
    )
    assert "adj." not in (tmp_path / "report.md").read_text()


def test_an_unknown_method_names_the_field() -> None:
    with pytest.raises(ValueError, match="p_adjust"):
        ExperimentConfig.model_validate({**CONFIG, "p_adjust": "sidak"})


@given(st.lists(st.floats(0, 1), min_size=1, max_size=12), st.sampled_from(["holm", "fdr_bh"]))
def test_adjust_family_equals_adjust_pvalues_on_the_flattened_family(
    ps: list[float], method: str
) -> None:
    family = {f"b{i}": {"results": {"m": {k: p for k in PVALUE_KEYS}}} for i, p in enumerate(ps)}
    adjusted = adjust_family(family, method)  # type: ignore[arg-type]
    assert adjusted is not None and "t_pvalue_adj" not in family["b0"]["results"]["m"]
    got = [adjusted[f"b{i}"]["results"]["m"]["wilcoxon_pvalue_adj"] for i in range(len(ps))]
    np.testing.assert_allclose(got, adjust_pvalues(ps, method), rtol=0, atol=1e-12)  # type: ignore[arg-type]
    assert all(a >= p for a, p in zip(got, ps, strict=True))


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "< 1e-4"), (9.9e-5, "< 1e-4"), (1e-4, "0.0001"), (0.0123, "0.0123"), (None, "–")],
)
def test_small_p_values_are_not_printed_as_zero(value: float | None, text: str) -> None:
    assert format_p(value) == text

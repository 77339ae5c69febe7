"""``compare``: paired significance tests between two evaluations of the same users.

For each metric, over the users both reports evaluated, with per-user differences
:math:`d_i = a_i - b_i`:

* **paired t-test** (``scipy.stats.ttest_rel``) and **Cohen's** :math:`d_z = \\bar d / s_d`
  (Cohen, *Statistical Power Analysis*, 1988, eq. 2.3.5);
* **Wilcoxon signed-rank** (``scipy.stats.wilcoxon``, ``zero_method="wilcox"``: zero
  differences are dropped) and the **matched-pairs rank-biserial correlation**
  :math:`r = (R^+ - R^-)/(R^+ + R^-)` (Kerby, *Comprehensive Psychology* 3, 2014);
* a seeded **randomisation test** (``scipy.stats.permutation_test``, signs of the differences
  flipped at random; exact when :math:`2^n` ≤ ``n_permutations``), two-sided, on the mean
  difference (Smucker, Allan & Carterette, CIKM 2007).

Degenerate cases are decided, not left to warnings: when every difference is 0 all p-values
are 1 and every statistic and effect size is 0; when the differences are a non-zero constant the
t statistic is ±inf with p = 0; with fewer than two paired users the tests give ``nan``.
"""

from __future__ import annotations

import inspect
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from llmrec.errors import ConfigError
from llmrec.metrics.report import MetricReport
from llmrec.metrics.table import html_table, text_table

__all__ = ["Comparison", "MetricComparison", "compare"]

_NAN = float("nan")
# Cells (resamples × users) per batch of the randomisation test, to bound memory.
_PERM_CELLS = 1 << 22


@dataclass(frozen=True)
class MetricComparison:
    """Paired comparison of one metric; ``diff`` = mean of a − mean of b over paired users."""

    metric: str
    n: int
    mean_a: float
    mean_b: float
    diff: float
    t_statistic: float
    t_pvalue: float
    cohens_dz: float
    wilcoxon_statistic: float
    wilcoxon_pvalue: float
    rank_biserial: float
    randomization_pvalue: float


@dataclass(frozen=True)
class Comparison:
    """Per-metric paired comparisons of report ``a`` against report ``b``."""

    results: dict[str, MetricComparison]
    n_paired: int
    n_only_a: int
    n_only_b: int
    n_permutations: int
    seed: int

    def __getitem__(self, metric: str) -> MetricComparison:
        if metric not in self.results:
            raise ConfigError(f"metric {metric!r} was not compared (have {list(self.results)})")
        return self.results[metric]

    _HEADER = ("metric", "mean a", "mean b", "a − b", "t p", "d_z", "wilcoxon p", "r_rb", "rand p")

    def _rows(self) -> list[list[str]]:
        rows = []
        for r in self.results.values():
            rows.append(
                [
                    r.metric,
                    f"{r.mean_a:.4f}",
                    f"{r.mean_b:.4f}",
                    f"{r.diff:+.4f}",
                    _p(r.t_pvalue),
                    f"{r.cohens_dz:.3f}",
                    _p(r.wilcoxon_pvalue),
                    f"{r.rank_biserial:.3f}",
                    _p(r.randomization_pvalue),
                ]
            )
        return rows

    def _footer(self) -> str:
        return (
            f"paired users: {self.n_paired:,} (only in a: {self.n_only_a:,}, only in b: "
            f"{self.n_only_b:,}); randomisation: {self.n_permutations:,} sign flips, "
            f"seed {self.seed}"
        )

    def __str__(self) -> str:
        return text_table(self._HEADER, self._rows()) + "\n" + self._footer()

    def _repr_html_(self) -> str:
        return html_table(self._HEADER, self._rows(), caption=self._footer())

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": {name: asdict(r) for name, r in self.results.items()},
            "n_paired": self.n_paired,
            "n_only_a": self.n_only_a,
            "n_only_b": self.n_only_b,
            "n_permutations": self.n_permutations,
            "seed": self.seed,
        }


def _p(value: float) -> str:
    if np.isnan(value):
        return "nan"
    return "<1e-4" if value < 1e-4 else f"{value:.4f}"


def _pair(a: MetricReport, b: MetricReport) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    if a.users == b.users:
        idx = np.arange(len(a.users))
        return idx, idx
    where_b: dict[Hashable, int] = {u: i for i, u in enumerate(b.users)}
    ia, ib = [], []
    for i, u in enumerate(a.users):
        j = where_b.get(u)
        if j is not None:
            ia.append(i)
            ib.append(j)
    return np.asarray(ia, dtype=np.intp), np.asarray(ib, dtype=np.intp)


def _ttest(d: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    """t statistic, two-sided p-value and Cohen's d_z of paired differences ``d``."""
    from scipy import stats

    if d.size < 2:
        return _NAN, _NAN, _NAN
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    if sd <= 1e-12 * max(1.0, abs(mean)):
        if mean == 0.0:
            return 0.0, 1.0, 0.0
        inf = float(np.copysign(np.inf, mean))
        return inf, 0.0, inf
    res = stats.ttest_1samp(d, 0.0)
    return float(res.statistic), float(res.pvalue), mean / sd


def _wilcoxon(d: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    """Wilcoxon statistic, two-sided p-value and matched-pairs rank-biserial correlation."""
    from scipy import stats

    if d.size < 2:
        return _NAN, _NAN, _NAN
    nz = d[d != 0]
    if nz.size == 0:
        return 0.0, 1.0, 0.0
    ranks = stats.rankdata(np.abs(nz))
    r_plus = float(ranks[nz > 0].sum())
    r_minus = float(ranks[nz < 0].sum())
    rank_biserial = (r_plus - r_minus) / (r_plus + r_minus)
    res = stats.wilcoxon(nz, zero_method="wilcox")
    return float(res.statistic), float(res.pvalue), rank_biserial


def _mean_stat(x: npt.NDArray[np.float64], axis: int) -> npt.NDArray[np.float64]:
    return np.asarray(np.mean(x, axis=axis), dtype=np.float64)


def _randomization(d: npt.NDArray[np.float64], n_permutations: int, seed: int) -> float:
    """Two-sided sign-flip randomisation p-value of the mean difference."""
    from scipy import stats

    if d.size < 2:
        return _NAN
    if not np.any(d):
        return 1.0
    rng = np.random.default_rng(seed)
    key = "rng" if "rng" in inspect.signature(stats.permutation_test).parameters else "random_state"
    res = stats.permutation_test(
        (d,),
        _mean_stat,
        permutation_type="samples",
        vectorized=True,
        n_resamples=n_permutations,
        alternative="two-sided",
        batch=max(1, _PERM_CELLS // d.size),
        **{key: rng},
    )
    return float(min(1.0, res.pvalue))


def compare(
    a: MetricReport,
    b: MetricReport,
    *,
    metrics: Sequence[str] | None = None,
    n_permutations: int = 10_000,
    seed: int = 0,
) -> Comparison:
    """Paired tests of ``a`` against ``b`` on every metric both reports hold (or ``metrics``).

    Users are paired by id; users evaluated by only one report are left out and counted.
    ``diff`` and the signs of the statistics are those of a − b.
    """
    if not isinstance(a, MetricReport) or not isinstance(b, MetricReport):
        raise ConfigError("compare takes two MetricReport objects (from llmrec.metrics.evaluate)")
    if isinstance(n_permutations, bool) or not isinstance(n_permutations, int):
        raise ConfigError(f"n_permutations must be an integer (got {n_permutations!r})")
    if n_permutations < 1:
        raise ConfigError(f"n_permutations must be >= 1 (got {n_permutations})")
    names = [m for m in a.metrics if m in b.values] if metrics is None else list(metrics)
    for name in names:
        if name not in a.values or name not in b.values:
            raise ConfigError(f"metric {name!r} is not in both reports")
    if not names:
        raise ConfigError(f"the reports share no metric ({a.metrics} vs {b.metrics})")
    ia, ib = _pair(a, b)
    results = {}
    for name in names:
        va, vb = a.values[name][ia], b.values[name][ib]
        d = va - vb
        t, tp, dz = _ttest(d)
        w, wp, rb = _wilcoxon(d)
        results[name] = MetricComparison(
            metric=name,
            n=int(d.size),
            mean_a=float(va.mean()) if va.size else _NAN,
            mean_b=float(vb.mean()) if vb.size else _NAN,
            diff=float(d.mean()) if d.size else _NAN,
            t_statistic=t,
            t_pvalue=tp,
            cohens_dz=dz,
            wilcoxon_statistic=w,
            wilcoxon_pvalue=wp,
            rank_biserial=rb,
            randomization_pvalue=_randomization(d, n_permutations, seed),
        )
    n = int(ia.size)
    return Comparison(
        results=results,
        n_paired=n,
        n_only_a=len(a.users) - n,
        n_only_b=len(b.users) - n,
        n_permutations=n_permutations,
        seed=seed,
    )

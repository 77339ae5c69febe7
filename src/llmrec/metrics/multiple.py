"""``adjust_pvalues``: corrections for a family of tests (several metrics, several backends).

A report that tests ``m`` hypotheses at level α finds some "significant" by chance alone; these
corrections bound the family-wise error rate (Bonferroni, Holm) or the false discovery rate
(Benjamini-Hochberg). With the ``m`` p-values sorted ascending, :math:`p_{(1)} \\le \\dots \\le
p_{(m)}`:

* **bonferroni**: :math:`\\tilde p_i = \\min(1, m\\,p_i)`;
* **holm** (Holm, *Scand. J. Statist.* 6, 1979): :math:`\\tilde p_{(i)} = \\min(1,
  \\max_{j \\le i} (m - j + 1)\\,p_{(j)})`;
* **fdr_bh** (Benjamini & Hochberg, *J. R. Statist. Soc. B* 57, 1995): :math:`\\tilde p_{(i)} =
  \\min(1, \\min_{j \\ge i} \\tfrac{m}{j}\\,p_{(j)})`.

The results equal ``statsmodels.stats.multitest.multipletests(p, method=...)[1]`` (tested to
1e-12). A ``nan`` p-value (a test that could not be run, see :func:`~llmrec.metrics.compare`)
stays ``nan`` and is not counted in ``m``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from llmrec.errors import ConfigError

__all__ = ["AdjustMethod", "adjust_pvalues"]

AdjustMethod = Literal["holm", "bonferroni", "fdr_bh"]
_METHODS = ("holm", "bonferroni", "fdr_bh")


def adjust_pvalues(
    p: Sequence[float] | npt.ArrayLike, method: AdjustMethod = "holm"
) -> npt.NDArray[np.float64]:
    """The adjusted p-values of one family of tests, in the order given (module docstring).

    ``p`` is a 1-D sequence of p-values in [0, 1] (``nan`` allowed and kept); ``method`` is
    ``"holm"`` (default), ``"bonferroni"`` or ``"fdr_bh"``.
    """
    if method not in _METHODS:
        raise ConfigError(f"method must be one of {', '.join(_METHODS)}; got {method!r}")
    arr = np.asarray(p, dtype=np.float64)
    if arr.ndim != 1:
        raise ConfigError(f"p must be a 1-D sequence of p-values, got shape {arr.shape}")
    finite = ~np.isnan(arr)
    bad = np.flatnonzero(finite & ((arr < 0.0) | (arr > 1.0)))
    if bad.size:
        i = int(bad[0])
        raise ConfigError(f"p-values must lie in [0, 1]; p[{i}] = {float(arr[i])!r}")
    out = np.full(arr.shape, np.nan)
    values = arr[finite]
    m = values.size
    if m == 0:
        return out
    if method == "bonferroni":
        out[finite] = np.minimum(values * m, 1.0)
        return out
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    if method == "holm":
        adjusted = np.maximum.accumulate((m - np.arange(m)) * ranked)
    else:
        adjusted = np.minimum.accumulate((ranked / (np.arange(1, m + 1) / m))[::-1])[::-1]
    back = np.empty(m)
    back[order] = np.minimum(adjusted, 1.0)
    out[finite] = back
    return out

"""Seeded percentile-bootstrap confidence intervals of means, for many metrics at once."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from llmrec.errors import ConfigError

__all__ = ["bootstrap_ci"]

# Resampled indices (resamples × users) held in memory at once: about 32 MB of int64.
_CELLS = 1 << 22


def bootstrap_ci(
    values: npt.NDArray[np.float64], n_bootstrap: int, confidence: float, seed: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Percentile bootstrap interval of the column means of ``values`` (users × metrics).

    Every resample draws ``n`` users with replacement (one index matrix shared by all metrics,
    so intervals of different metrics come from the same resamples) and the interval is the
    ``(1 − confidence)/2`` and ``(1 + confidence)/2`` quantiles of the resampled means.
    Source: Efron & Tibshirani, *An Introduction to the Bootstrap* (1993), ch. 13.
    Resamples are drawn in chunks to bound memory; the draws do not depend on the chunking, and
    each resampled sum is the same row reduction whatever the chunk, so the interval is the same
    bits for every chunk size and every BLAS library (no matrix product is involved).
    Returns ``nan`` bounds when there are no users or ``n_bootstrap`` is 0.
    """
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be strictly between 0 and 1 (got {confidence!r})")
    if n_bootstrap < 0:
        raise ConfigError(f"n_bootstrap must be >= 0 (got {n_bootstrap!r})")
    values = np.ascontiguousarray(values, dtype=np.float64)
    n, m = values.shape
    if n == 0 or n_bootstrap == 0:
        nan = np.full(m, np.nan)
        return nan, nan.copy()
    columns = np.ascontiguousarray(values.T)  # one contiguous row of values per metric
    rng = np.random.default_rng(seed)
    means = np.empty((n_bootstrap, m), dtype=np.float64)
    step = max(1, _CELLS // n)
    for start in range(0, n_bootstrap, step):
        stop = min(n_bootstrap, start + step)
        b = stop - start
        idx = rng.integers(0, n, size=(b, n), dtype=np.int64)
        # how often each user was drawn in each resample (exact integers)
        idx += (np.arange(b, dtype=np.int64) * n)[:, None]
        counts = np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        del idx
        weighted = np.empty_like(counts)
        for j in range(m):
            # one resample's sum is one row: numpy's pairwise summation over a contiguous row
            # of fixed length n, in a fixed order (no BLAS product, whose order the kernel picks)
            np.multiply(counts, columns[j], out=weighted)
            means[start:stop, j] = np.add.reduce(weighted, axis=1) / n
    alpha = (1.0 - confidence) / 2.0
    lo = np.quantile(means, alpha, axis=0)
    hi = np.quantile(means, 1.0 - alpha, axis=0)
    return lo, hi

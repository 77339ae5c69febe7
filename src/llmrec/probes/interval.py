"""The Wilson score interval of a rate: what the probe's rates are reported with.

For ``k`` successes in ``n`` trials, ``p = k / n`` and ``z`` the normal quantile (1.96 for
95 %), the interval is

.. math:: \\frac{p + \\frac{z^2}{2n} \\pm z \\sqrt{\\frac{p(1-p)}{n} + \\frac{z^2}{4n^2}}}
          {1 + \\frac{z^2}{n}}

(Wilson, "Probable inference, the law of succession, and statistical inference", JASA 1927;
recommended over the normal interval by Brown, Cai and DasGupta, Statistical Science 2001). It
stays inside [0, 1], is not degenerate at 0 or ``n`` successes (a probe scoring 0 of 200
still has an upper bound of 1.9 %), and needs no resampling, so reports are deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Rate", "wilson_interval"]

_Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """The Wilson score interval of ``successes / n``; ``(0.0, 1.0)`` when ``n`` is 0."""
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class Rate:
    """``count`` of ``n`` as a rate with its 95 % Wilson interval."""

    count: int
    n: int

    @property
    def rate(self) -> float:
        """``count / n`` (0.0 when ``n`` is 0)."""
        return self.count / self.n if self.n else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.count, self.n)

    def __str__(self) -> str:
        low, high = self.interval
        return f"{100 * self.rate:.1f}% [{100 * low:.1f}, {100 * high:.1f}]"

"""The example package in examples/metric-contract-example passes its own contract tests.

CI runs ``make test`` only, so the example's tests run from here, in a subprocess with this
environment's python and the example's own pytest configuration.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "metric-contract-example"


@pytest.mark.slow
def test_the_example_package_passes_the_metric_contract() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=EXAMPLE,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary
    # eight metric classes, each with the contract's checks
    assert int(summary.split(" passed")[0].split()[-1]) >= 8 * 8

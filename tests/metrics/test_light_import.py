"""``import llmrec.metrics`` and ``import llmrec.testing.strategies`` stay light.

Each import runs in a fresh interpreter; every module it adds to ``sys.modules`` beyond those
of numpy (and hypothesis, for the strategies) must be the standard library, llmrec's error
types or the package itself.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CODE = """
import json, sys
import {baseline}
before = set(sys.modules)
import {target}
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _new_modules(baseline: str, target: str) -> list[str]:
    code = CODE.format(baseline=baseline, target=target)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules: list[str] = json.loads(out.stdout)
    return modules


def _foreign(modules: list[str], allowed: tuple[str, ...]) -> list[str]:
    stdlib = sys.stdlib_module_names
    return [
        m
        for m in modules
        if m.split(".")[0] not in stdlib
        and m.split(".")[0] not in ("numpy", "hypothesis")
        and not m.startswith("_")  # C helpers of the standard library (_json, _decimal, ...)
        and m not in ("llmrec", "llmrec.errors")
        and not m.startswith(allowed)
    ]


@pytest.mark.parametrize(
    ("baseline", "target", "allowed"),
    [
        ("numpy", "llmrec.metrics", ("llmrec.metrics",)),
        (
            "numpy, hypothesis, hypothesis.strategies",
            "llmrec.testing.strategies",
            ("llmrec.testing", "llmrec.metrics"),
        ),
    ],
)
def test_import_pulls_in_only_numpy_hypothesis_and_llmrec_errors(
    baseline: str, target: str, allowed: tuple[str, ...]
) -> None:
    modules = _new_modules(baseline, target)
    assert target in modules
    assert _foreign(modules, allowed) == []
    heavy = ("scipy", "pydantic", "openai", "matplotlib", "pandas", "tiktoken", "llmrec.data")
    assert not [m for m in modules if m.startswith(heavy)]


def test_the_strategies_do_not_import_metrics_server_or_data() -> None:
    modules = _new_modules("numpy, hypothesis", "llmrec.testing.strategies")
    assert not [
        m
        for m in modules
        if m.startswith(("llmrec.testing.server", "llmrec.testing.openai_server", "llmrec.truth"))
    ]

"""The experiment's shape holds: stages and arms take the typed run context (no runner), the
fine-tuning provider is compared in one file (the arm registry), the report imports no stage,
and the config imports no runtime part of the experiment."""

from __future__ import annotations

import ast
from pathlib import Path

import llmrec.experiment

PACKAGE = Path(llmrec.experiment.__file__).parent


def _modules() -> dict[str, ast.Module]:
    return {
        str(p.relative_to(PACKAGE)): ast.parse(p.read_text(encoding="utf-8"))
        for p in sorted(PACKAGE.rglob("*.py"))
    }


def _imported(tree: ast.Module) -> set[str]:
    """Every module imported anywhere in the file, type-only imports included."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def test_no_function_takes_the_runner() -> None:
    found = [
        f"{name}:{node.lineno} {arg.arg}"
        for name, tree in _modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        if arg.arg == "runner"
        or (
            isinstance(arg.annotation, ast.Name)
            and arg.annotation.id in ("Any", "object")
            and arg.arg in ("ctx", "context", "run")
        )
    ]
    assert found == []


def _compares_provider(node: ast.Compare) -> bool:
    parts = [node.left, *node.comparators]
    return any(
        (isinstance(p, ast.Attribute) and p.attr == "provider")
        or (isinstance(p, ast.Name) and p.id == "provider")
        for p in parts
    )


def test_the_provider_is_compared_in_the_arm_registry_only() -> None:
    files = {
        name
        for name, tree in _modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare) and _compares_provider(node)
    }
    assert files == {"arms/registry.py"}


def test_the_report_imports_no_stage() -> None:
    report = ["report.py", "report_truths.py", "ranking_report.py", "figure.py", "summary.py"]
    trees = _modules()
    for name in report:
        bad = {
            m
            for m in _imported(trees[name])
            if m.startswith(("llmrec.experiment.stages", "llmrec.experiment.run"))
            or m in ("llmrec.experiment.context", "llmrec.experiment.candidates")
        }
        assert bad == set(), name


def test_the_config_is_pure_models() -> None:
    """The config package imports only itself, the secrets rules and lower layers."""
    for name, tree in _modules().items():
        if not name.startswith("config/"):
            continue
        runtime = {
            m
            for m in _imported(tree)
            if m.startswith("llmrec.experiment")
            and not m.startswith(("llmrec.experiment.config", "llmrec.experiment.secrets"))
        }
        assert runtime == set(), name

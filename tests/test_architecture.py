"""Structure of the source tree: no import cycles, the base model id written out once or twice."""

from __future__ import annotations

import ast
from pathlib import Path

import llmrec

SRC = Path(llmrec.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(
    tree: ast.AST, module: str, is_package: bool, modules: set[str] | None = None
) -> set[str]:
    """Every module imported anywhere in the file (functions too), except type-only imports
    under ``if TYPE_CHECKING:``. ``from package import name`` counts as importing
    ``package.name`` when that is a module (one of ``modules``), else ``package``; the implicit
    import of parent packages is not counted (Python resolves it before the module runs)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            for a in node.names:
                sub = f"{base}.{a.name}"
                found.add(sub if modules is None or sub in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> llmrec modules it imports (a name imported from a package that is itself a
    module counts as that module)."""
    files = {_module_name(p): p for p in SRC.rglob("*.py")}
    # compiled extensions are modules too (their C source, or the built file)
    extensions = {
        _module_name(p.with_name(p.name.split(".")[0] + ".py"))
        for pattern in ("*.c", "*.so", "*.pyd")
        for p in SRC.rglob(pattern)
    }
    modules = set(files) | extensions
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = _imports(tree, name, path.name == "__init__.py", modules)
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules, or ``None``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_graph_sees_function_level_and_relative_imports() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import llmrec.x\n"
        "def f():\n    from llmrec.recommenders import base\n"
        "from .sibling import thing\n"
    )
    modules = {"llmrec.recommenders.base", "llmrec.recommenders.sibling", "llmrec.x"}
    found = _imports(tree, "llmrec.recommenders.mod", is_package=False, modules=modules)
    assert "llmrec.recommenders.base" in found
    assert "llmrec.recommenders.sibling" in found
    assert "llmrec.x" not in found


def test_no_import_cycle_between_files_under_src() -> None:
    graph = import_graph()
    assert "llmrec.recommenders.base" in graph  # the walk saw the tree
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_base_model_id_is_written_in_at_most_two_source_files() -> None:
    from llmrec.openai_api.models import DEFAULT_MODEL

    holders = sorted(
        str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if DEFAULT_MODEL in p.read_text("utf-8")
    )
    assert 1 <= len(holders) <= 2, holders


def test_the_runner_names_no_backend_model_or_placeholder_key() -> None:
    # config/ lists the study's default backends by registry name: configuration, not logic
    code = [*(SRC / "experiment").glob("*.py"), *(SRC / "experiment" / "stages").glob("*.py")]
    text = "\n".join(p.read_text("utf-8") for p in code)
    for forbidden in ('"openai', 'fine-tuned"', "gpt-4o", "llmrec-local", "_OPENAI_PREFIX"):
        assert forbidden not in text, forbidden
    config = "\n".join(p.read_text("utf-8") for p in (SRC / "experiment/config").glob("*.py"))
    assert "gpt-4o" not in config and "llmrec-local" not in config

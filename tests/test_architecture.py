"""Structure of the source tree: the layer table holds, no import cycles, the base model id
written out once or twice.

The import graph is read with ``ast`` from every file under ``src/llmrec``: imports at module
level, inside functions and under ``if TYPE_CHECKING:`` all count (a type-only import still ties
the two files together for a reader and for the next refactoring). The layer table below is the
one ``docs/architecture.md`` shows; a package imports only from its own layer or the layers
under it, and packages of one layer must not import each other both ways.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pytest

import llmrec

SRC = Path(llmrec.__file__).parent

# Bottom up. A package's layer is the row that names it; a new package must be given a row.
# ``llmrec`` is the root ``__init__`` (the curated public names, re-exported from every layer).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "_io", "_paths", "_progress", "_extras"),
    ("data", "metrics"),
    ("truth", "prompts", "protocols"),
    ("openai_api", "local_models"),
    ("recommenders",),
    ("finetune", "probes"),
    ("experiment", "testing"),
    ("cli", "llmrec"),
)

# Known imports of a higher layer, each with the reason it is still there. Empty: keep it so.
ALLOWED_UPWARD: frozenset[tuple[str, str]] = frozenset()


def _module_name(path: Path, root: Path = SRC) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(
    tree: ast.AST, module: str, is_package: bool, modules: set[str] | None = None
) -> set[str]:
    """Every module imported anywhere in the file: module level, inside functions and under
    ``if TYPE_CHECKING:``. ``from package import name`` counts as importing ``package.name``
    when that is a module (one of ``modules``), else ``package``; the implicit import of parent
    packages is not counted (Python resolves it before the module runs)."""
    found: set[str] = set()
    for node in ast.walk(tree):
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
    return found


def import_graph(root: Path = SRC) -> dict[str, set[str]]:
    """Module -> modules of the same tree it imports (a name imported from a package that is
    itself a module counts as that module)."""
    files = {_module_name(p, root): p for p in root.rglob("*.py")}
    # compiled extensions are modules too (their C source, or the built file)
    extensions = {
        _module_name(p.with_name(p.name.split(".")[0] + ".py"), root)
        for pattern in ("*.c", "*.so", "*.pyd")
        for p in root.rglob(pattern)
    }
    modules = set(files) | extensions
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = _imports(tree, name, path.name == "__init__.py", modules)
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def package_of(module: str) -> str:
    """``llmrec.recommenders.llm.cache`` -> ``recommenders``; the root package is ``llmrec``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def package_graph(graph: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    """Package -> the other packages its modules import."""
    out: dict[str, set[str]] = {package_of(m): set() for m in graph}
    for module, targets in graph.items():
        for target in targets:
            if package_of(target) != package_of(module):
                out[package_of(module)].add(package_of(target))
    return out


def layer_violations(
    graph: Mapping[str, Iterable[str]],
    layers: Sequence[Sequence[str]],
    allowed: frozenset[tuple[str, str]] = frozenset(),
) -> list[str]:
    """Every import of a higher layer as ``module -> target (layer a < layer b)``, and every
    package that the table does not place, except the (module, target) pairs in ``allowed``."""
    rank = {package: i for i, row in enumerate(layers) for package in row}
    problems = sorted(
        f"package {p!r} has no layer: add it to a row of LAYERS and docs/architecture.md"
        for p in {package_of(m) for m in graph}
        if p not in rank
    )
    for module in sorted(graph):
        for target in sorted(graph[module]):
            low, high = rank.get(package_of(module)), rank.get(package_of(target))
            if low is None or high is None or high <= low or (module, target) in allowed:
                continue
            problems.append(f"{module} -> {target} (layer {low} imports layer {high})")
    return problems


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes, or ``None``."""
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


# -- the checker catches what it should --------------------------------------------------------
def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_graph_sees_function_level_type_only_and_relative_imports() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import llmrec.x\n"
        "def f():\n    from llmrec.recommenders import base\n"
        "from .sibling import thing\n"
    )
    modules = {"llmrec.recommenders.base", "llmrec.recommenders.sibling", "llmrec.x"}
    found = _imports(tree, "llmrec.recommenders.mod", is_package=False, modules=modules)
    assert {"llmrec.recommenders.base", "llmrec.recommenders.sibling", "llmrec.x"} <= found


def test_the_layer_check_flags_an_upward_import_and_nothing_else() -> None:
    layers = (("errors",), ("data", "metrics"), ("truth",))
    graph = {
        "pkg.errors": set(),
        "pkg.data.load": {"pkg.errors", "pkg.metrics.f1"},  # same layer: allowed
        "pkg.metrics.f1": {"pkg.truth.split"},  # up a layer: flagged
        "pkg.truth.split": {"pkg.data.load", "pkg.errors"},
    }
    assert layer_violations(graph, layers) == [
        "pkg.metrics.f1 -> pkg.truth.split (layer 1 imports layer 2)"
    ]
    allowed = frozenset({("pkg.metrics.f1", "pkg.truth.split")})
    assert layer_violations(graph, layers, allowed) == []
    graph["pkg.newpkg.mod"] = set()
    assert layer_violations(graph, layers, allowed) == [
        "package 'newpkg' has no layer: add it to a row of LAYERS and docs/architecture.md"
    ]


def test_the_checks_catch_violations_in_a_package_on_disk(tmp_path: Path) -> None:
    """A throw-away package whose low layer reaches up inside a function and under
    ``TYPE_CHECKING``, and whose two modules name each other only for types."""
    root = tmp_path / "pkg"
    files = {
        "__init__.py": "",
        "errors.py": "",
        "data/__init__.py": "",
        "data/load.py": """
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from pkg.data.other import Other
            def load():
                from pkg.truth import split
                return split
        """,
        "data/other.py": """
            from __future__ import annotations
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from pkg.data.load import load
        """,
        "truth/__init__.py": "",
        "truth/split.py": "from ..errors import *\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    graph = import_graph(root)
    assert graph["pkg.truth.split"] == {"pkg.errors"}
    layers = (("errors",), ("data",), ("truth", "pkg"))
    assert layer_violations(graph, layers) == [
        "pkg.data.load -> pkg.truth.split (layer 1 imports layer 2)"
    ]
    assert find_cycle(graph) == ["pkg.data.load", "pkg.data.other", "pkg.data.load"]
    assert find_cycle(package_graph(graph)) is None


# -- the source tree ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    found = import_graph()
    assert "llmrec.recommenders.base" in found  # the walk saw the tree
    return found


def test_every_package_imports_only_its_layer_and_the_layers_below(
    graph: dict[str, set[str]],
) -> None:
    assert layer_violations(graph, LAYERS, ALLOWED_UPWARD) == []


def test_the_allow_list_names_only_imports_that_still_exist(graph: dict[str, set[str]]) -> None:
    assert sorted(p for p in ALLOWED_UPWARD if p[1] not in graph.get(p[0], ())) == []


def test_no_import_cycle_between_packages(graph: dict[str, set[str]]) -> None:
    packages = package_graph(graph)
    assert find_cycle(packages) is None, " -> ".join(find_cycle(packages) or [])


def test_no_import_cycle_between_modules_type_only_imports_included(
    graph: dict[str, set[str]],
) -> None:
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def _loaded_after(statement: str) -> list[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_the_local_model_engine_loads_a_small_part_of_llmrec() -> None:
    everything = _loaded_after("import llmrec.local_models.engine")
    loaded = [m for m in everything if m.split(".")[0] == "llmrec"]
    assert len(loaded) <= 35, loaded
    assert not [m for m in loaded if m.startswith(("llmrec.finetune", "llmrec.recommenders"))]
    assert "torch" not in everything  # the [train] packages load when a model does


# -- single sources of truth -------------------------------------------------------------------
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

"""The house rules, checked on the source: layers, cycles, back doors, private names, sizes.

Imports are read with ``ast`` (function-level imports included, ``if TYPE_CHECKING:`` blocks
excluded), so a lazy import that closes a cycle fails here even if no test executes it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "codec"
TRAINING_STACK = ("lightning", "pytorch_lightning", "hydra", "omegaconf")
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@cache
def tree(name: str) -> ast.Module:
    return ast.parse(modules()[name].read_text(encoding="utf-8"))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node below ``node`` except those under ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield other
                yield from runtime_nodes(other)
            continue
        yield child
        yield from runtime_nodes(child)


def _resolve(name: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = name.split(".")
    if modules()[name].name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports(name: str) -> list[tuple[str, list[str]]]:
    """``(module, names)`` for each runtime import statement of module ``name``."""
    found: list[tuple[str, list[str]]] = []
    for node in runtime_nodes(tree(name)):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((_resolve(name, node), [alias.name for alias in node.names]))
    return found


@cache
def edges(name: str) -> frozenset[str]:
    """The codec modules that ``name`` imports at run time (a ``from pkg import sub`` of a
    submodule counts as importing the submodule)."""
    known = modules()
    out: set[str] = set()
    for target, names in imports(name):
        if not (target == "codec" or target.startswith("codec.")):
            continue
        subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in known]
        out |= set(subs) if subs and len(subs) == len(names) else {target, *subs}
    out.discard(name)
    return frozenset(m for m in out if m in known)


def cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(modules()):
        if v not in index:
            visit(v)
    return found


def closure(name: str) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        for w in edges(todo.pop()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def is_core(name: str) -> bool:
    return not (name == "codec.lightning" or name.startswith("codec.lightning."))


def test_no_import_cycles() -> None:
    assert cycles() == []


def test_core_never_reaches_the_training_layer() -> None:
    for name in filter(is_core, modules()):
        assert not [m for m in closure(name) if not is_core(m)], name
        stack = [t for t, _ in imports(name) if t.split(".")[0] in TRAINING_STACK]
        assert not stack, f"{name} imports {stack}"


def test_core_imports_without_lightning_or_hydra() -> None:
    """Import every core module in a fresh interpreter: nothing pulls the training stack."""
    core = sorted(filter(is_core, modules()))
    script = (
        "import importlib, sys\n"
        f"for name in {core!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {TRAINING_STACK!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "[]"


def test_no_importlib_back_doors() -> None:
    for name in modules():
        used = [t for t, _ in imports(name) if t.split(".")[0] == "importlib"]
        assert not used, f"{name} uses importlib"


def test_files_stay_small() -> None:
    for name, path in modules().items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= MAX_LINES, f"{name}: {lines} lines"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def defined_private_names(name: str) -> set[str]:
    """Private names a module defines: functions, classes, assignments, attributes of self."""
    found: set[str] = set()
    for node in ast.walk(tree(name)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            found.add(node.attr)
        elif isinstance(node, ast.alias) and node.asname:
            found.add(node.asname)
    return {n for n in found if _private(n)}


def test_no_private_name_used_outside_its_module() -> None:
    """``from codec.x import _y`` never; ``obj._y`` only where ``_y`` is defined in this very
    module (a private name defined only in another codec module means reaching into it)."""
    owners: dict[str, set[str]] = {}
    for name in modules():
        for private in defined_private_names(name):
            owners.setdefault(private, set()).add(name)
    problems = []
    for name in modules():
        for target, names in imports(name):
            if target.startswith("codec"):
                problems += [f"{name} imports {target}.{n}" for n in names if _private(n)]
        own = defined_private_names(name)
        for node in ast.walk(tree(name)):
            if (
                isinstance(node, ast.Attribute)
                and _private(node.attr)
                and node.attr not in own
                and node.attr in owners
            ):
                problems.append(f"{name} uses .{node.attr} of {sorted(owners[node.attr])}")
    assert problems == []

"""The house's rules, read from the code's imports (see ARCHITECTURE.md):

- layers import downwards only: core -> warehouse -> retrieval -> training ->
  tools -> agent -> ui -> the command line;
- no circle of imports between modules, lazy (function-level) imports included;
- nothing imports another module's underscored names;
- nothing generic is installed at the top of site-packages: every package is
  under `segassist.`;
- importing the packages starts nothing (no environment change, no thread).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import REPO

FOLDERS = {  # folder in the repository -> the package it installs as, and its floor
    "core": ("segassist.core", 0),
    "warehouse": ("segassist.warehouse", 1),
    "retrieval": ("segassist.retrieval", 2),
    "training": ("segassist.training", 3),
    "tools": ("segassist.tools", 4),
    "agent": ("segassist.agent", 5),
    "ui": ("segassist.ui", 6),
    "segassist": ("segassist", 7),  # the command line
}


def _modules() -> dict[str, Path]:
    found = {}
    for folder, (package, _) in FOLDERS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            if path.name == "vllm_tool_parser.py":  # loaded by vLLM by path, never imported
                continue
            parts = path.relative_to(REPO / folder).with_suffix("").parts
            name = ".".join([package, *parts]).removesuffix(".__init__")
            found[name] = path
    return found


def _floor(module: str) -> int:
    if module == "segassist":
        return 0  # the root package holds only the version
    best = max(
        (p for p, _ in FOLDERS.values() if module == p or module.startswith(p + ".")),
        key=len,
    )
    floor = next(f for p, f in FOLDERS.values() if p == best)
    return floor


def _imports(path: Path, module: str) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every segassist import."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("segassist"):
                    found.append((alias.name, [], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            if base.startswith("segassist"):
                found.append((base, [a.name for a in node.names], node.lineno))
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for target, names, _ in _imports(path, name):
            submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            for candidate in submodules or [target]:  # `from pkg import a, b`: an edge each
                if candidate in modules and candidate != name:
                    graph[name].add(candidate)
    return graph


def test_layers_import_downwards_only():
    upward = []
    for name, path in _modules().items():
        for target, _, line in _imports(path, name):
            if _floor(target) > _floor(name):
                upward.append(f"{path.relative_to(REPO)}:{line} imports {target}")
    assert upward == []


def test_no_circle_of_imports():
    graph = _graph()
    state: dict[str, int] = {}
    circles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert circles == []


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_nothing_takes_another_modules_underscored_names():
    """Neither `from x import _y` nor `x._y` on an imported module."""
    private = []
    for name, path in _modules().items():
        aliases = {}
        for target, names, line in _imports(path, name):
            for taken in names:
                if _private(taken):
                    private.append(f"{path.relative_to(REPO)}:{line} takes {target}.{taken}")
                aliases[taken] = target
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                aliases.update({(a.asname or a.name): a.name for a in node.names})
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and _private(node.attr)
            ):
                private.append(
                    f"{path.relative_to(REPO)}:{node.lineno} uses {node.value.id}.{node.attr}"
                )
    assert private == []


def test_every_package_installs_under_segassist():
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert all(p == "segassist" or p.startswith("segassist.") for p in config["packages"])
    for folder, (package, _) in FOLDERS.items():
        assert config["package-dir"][package] == folder
    # every folder with Python in it is a listed package
    listed = set(config["packages"])
    for name, path in _modules().items():
        if path.name == "__init__.py":
            assert name in listed, f"{name} is not in pyproject's packages"


def test_importing_the_packages_has_no_side_effects():
    """Importing every module changes no environment variable and starts no thread."""
    names = sorted(n for n in _modules() if ".migrations." not in n)  # alembic runs those
    code = (
        "import os, threading, importlib, sys\n"
        "before = dict(os.environ); threads = threading.active_count()\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "changed = sorted(k for k in set(os.environ) | set(before) "
        "if os.environ.get(k) != before.get(k))\n"
        "print(changed, threading.active_count() - threads)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd="/"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[] 0"

"""The package's module-level import graph has no cycle."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "podcast_img2vid"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """The package modules `path` imports at module level (imports inside functions run later)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")}


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in (REPO / PACKAGE).rglob("*.py")}
    return {name: {m for m in imported(path) if m in modules and m != name} for name, path in modules.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (the modules in order, the first repeated at the end), or None."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return [*path[path.index(name):], name]
        if name in done:
            return None
        for target in sorted(edges[name]):
            cycle = visit(target, [*path, name])
            if cycle:
                return cycle
        done.add(name)
        return None

    return next((cycle for name in sorted(edges) if (cycle := visit(name, []))), None)


def test_no_import_cycle():
    edges = graph()
    assert len(edges) > 20
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_check_sees_a_cycle(tmp_path, monkeypatch):
    """The check can fail: two modules importing each other are reported."""
    package = tmp_path / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "a.py").write_text("from .b import x\n", encoding="utf-8")
    (package / "b.py").write_text("from . import a\nx = 1\n", encoding="utf-8")
    monkeypatch.setitem(globals(), "REPO", tmp_path)
    assert find_cycle(graph()) in ([f"{PACKAGE}.a", f"{PACKAGE}.b", f"{PACKAGE}.a"],
                                   [f"{PACKAGE}.b", f"{PACKAGE}.a", f"{PACKAGE}.b"])


SCRIPTS = ("animate_podcast_v2.py", "step2_local_i2v_svd.py")


def script_imports(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it (inside functions too), by its top-level name,
    and the modules it names to importlib or runpy."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0] if not node.level else ".")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith(".py") \
                and " " not in node.value:
            names.add(Path(node.value).stem)  # a script named to runpy.run_path or a loader
    return names


def test_the_scripts_import_only_the_package_and_not_each_other():
    """Both scripts are thin entry points: the standard library and podcast_img2vid, never the
    other script (--step all reads the step-2 script's constants as text)."""
    others = {Path(name).stem for name in SCRIPTS}
    for name in SCRIPTS:
        found = script_imports(REPO / name)
        assert PACKAGE in found
        assert not found & others, f"{name} imports {found & others}"
        assert found <= {PACKAGE, *sys.stdlib_module_names}, f"{name} imports {found - {PACKAGE}}"


def test_the_script_check_sees_a_script_imported(tmp_path):
    script = tmp_path / "x.py"
    for text in ("def main():\n    import step2_local_i2v_svd\n",
                 "import runpy\nrunpy.run_path('step2_local_i2v_svd.py')\n",
                 "from animate_podcast_v2 import main\n"):
        script.write_text(text, encoding="utf-8")
        assert script_imports(script) & {Path(name).stem for name in SCRIPTS}

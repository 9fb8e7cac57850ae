"""The import rules of docs/architecture.md, checked over the source's ``ast``.

The packages form layers: a module may import its own package and the layers
below it, never one above, and packages that share a layer never import each
other.  ``click`` belongs to the command line alone.  Every import counts,
including those inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "cfgc"

# Lowest first; the same number means side by side.
LAYERS = {
    "base": 0,
    "repo": 1,
    "secrets": 2,
    "compile": 3,
    "bundle": 4,
    "review": 5,
    "stores": 5,
    "runtime": 6,
    "api": 7,
    "cli": 8,
}


def package_of(module: str) -> str:
    """The layer name of a dotted module under cfgc (top-level modules are the API)."""
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "cfgc":
        raise ValueError(module)
    return parts[1] if parts[1] in LAYERS else "api"


def module_name(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module) for every import of a cfgc module or of click."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "cfgc":
                found += [(node.lineno, f"cfgc.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
    return [(line, m) for line, m in found if m.split(".")[0] in ("cfgc", "click")]


def violations(root: Path = ROOT) -> list[str]:
    """Every import that breaks a rule, as ``path:line: message``."""
    out: list[str] = []
    for path in sorted(root.rglob("*.py")):
        importer = module_name(path, root)
        if importer in ("cfgc", "cfgc.__main__"):
            continue  # the package face and ``python -m cfgc`` may reach anything
        mine = package_of(importer)
        for line, target in imports(path):
            where = f"{path.relative_to(root.parent)}:{line}"
            if target.split(".")[0] == "click":
                if mine != "cli":
                    out.append(f"{where}: click imported outside cfgc/cli")
                continue
            if target in ("cfgc", "cfgc.__version__"):
                continue
            theirs = package_of(target)
            if theirs == mine:
                continue
            if LAYERS[theirs] > LAYERS[mine]:
                out.append(f"{where}: {mine} imports {target}, a layer above it ({theirs})")
            elif LAYERS[theirs] == LAYERS[mine]:
                out.append(f"{where}: {mine} imports {target}; {mine} and {theirs} sit side by side")
    return out


def test_every_import_follows_the_layers() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    ("importer", "source", "message"),
    [
        ("compile/x.py", "from cfgc.bundle.layout import write_file\n", "a layer above"),
        ("stores/x.py", "from cfgc.review import diff\n", "side by side"),
        ("base/x.py", "def f():\n    import cfgc.runtime.client\n", "a layer above"),
        ("repo/x.py", "import click\n", "click imported outside"),
    ],
)
def test_the_check_catches_a_forbidden_import(tmp_path: Path, importer: str, source: str, message: str) -> None:
    root = tmp_path / "cfgc"
    (root / importer).parent.mkdir(parents=True)
    (root / importer).write_text(source)
    found = violations(root)
    assert len(found) == 1 and message in found[0], found


def test_every_package_says_what_it_is() -> None:
    for pkg in LAYERS:
        if pkg == "api":
            continue
        doc = ast.get_docstring(ast.parse((ROOT / pkg / "__init__.py").read_text()))
        assert doc and "May import" in doc, f"cfgc/{pkg}/__init__.py needs a docstring naming what it may import"

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


def _plant(tmp_path: Path, importer: str, source: str) -> Path:
    """A scratch cfgc tree holding one module ``importer`` with ``source``; its root."""
    root = tmp_path / "cfgc"
    (root / importer).parent.mkdir(parents=True)
    (root / importer).write_text(source)
    return root


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
    root = _plant(tmp_path, importer, source)
    found = violations(root)
    assert len(found) == 1 and message in found[0], found


def test_every_package_says_what_it_is() -> None:
    for pkg in LAYERS:
        if pkg == "api":
            continue
        doc = ast.get_docstring(ast.parse((ROOT / pkg / "__init__.py").read_text()))
        assert doc and "May import" in doc, f"cfgc/{pkg}/__init__.py needs a docstring naming what it may import"


# --- the command line calls the API -----------------------------------------------------------------

# What a cfgc/cli module may import from cfgc: the API (not its private modules), the command line
# itself, and cfgc.base (errors and diagnostics, for rendering failures).
CLI_MAY_IMPORT = ("cfgc.api", "cfgc.cli", "cfgc.base")

# Each exception is argued here; nothing else may reach below the API.
CLI_EXCEPTIONS = {
    # A running sidecar imports nothing of the compiler nor cfgc.api (its memory budget, docs/runtime.md;
    # tests/integration/test_agent_imports.py): it starts from the runtime's own entry, which
    # cfgc.api re-exports as run_agent / AgentConfig.
    ("cfgc.cli.agent", "cfgc.runtime.agent.launch"),
}


def is_private(name: str) -> bool:
    """``_name`` but not ``__dunder__``."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def cli_violations(root: Path = ROOT) -> list[str]:
    """Every import of a cfgc/cli module that reaches below cfgc.api, as ``path:line: message``."""
    out: list[str] = []
    for path in sorted((root / "cli").rglob("*.py")):
        importer = module_name(path, root)
        for line, target in imports(path):
            if target.split(".")[0] != "cfgc" or target in ("cfgc", "cfgc.__version__"):
                continue
            parts = target.split(".")
            allowed = any(target == p or target.startswith(p + ".") for p in CLI_MAY_IMPORT)
            if allowed and not any(is_private(p) for p in parts) or (importer, target) in CLI_EXCEPTIONS:
                continue
            out.append(f"{path.relative_to(root.parent)}:{line}: the command line imports {target}; "
                       "call cfgc.api (re-export what rendering needs there)")
    return out


def private_violations(root: Path = ROOT) -> list[str]:
    """Every use of another module's ``_private`` name, as ``path:line: message``.

    Caught: ``from cfgc.x import _name``; importing a private module
    (``cfgc.x._m``) from outside its own package; ``alias._name`` where
    ``alias`` was bound by an import from cfgc (a module, class or function
    of another module).
    """
    out: list[str] = []
    for path in sorted(root.rglob("*.py")):
        me = module_name(path, root)
        package = me if path.name == "__init__.py" else me.rpartition(".")[0]
        tree = ast.parse(path.read_text(), str(path))
        where = f"{path.relative_to(root.parent)}"
        bound: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and \
                    node.module.split(".")[0] == "cfgc":
                parent = node.module.rpartition(".")[0]
                if any(is_private(p) for p in node.module.split(".")) and parent != package:
                    out.append(f"{where}:{node.lineno}: imports the private module {node.module}")
                for a in node.names:
                    bound.add(a.asname or a.name)
                    if is_private(a.name):
                        out.append(f"{where}:{node.lineno}: imports the private name {a.name} of {node.module}")
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == "cfgc":
                        if any(is_private(p) for p in a.name.split(".")) and a.name.rpartition(".")[0] != package:
                            out.append(f"{where}:{node.lineno}: imports the private module {a.name}")
                        bound.add(a.asname or a.name.split(".")[0])
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and is_private(node.attr):
                base = node.value
                while isinstance(base, ast.Attribute):
                    base = base.value
                if isinstance(base, ast.Name) and base.id in bound:
                    out.append(f"{where}:{node.lineno}: uses the private name {ast.unparse(node)}")
    return out


def test_the_command_line_imports_only_the_api() -> None:
    assert cli_violations() == []


def test_no_module_uses_another_modules_private_names() -> None:
    assert private_violations() == []


@pytest.mark.parametrize(
    ("importer", "source", "message"),
    [
        ("cli/x.py", "from cfgc.stores.publish import publish\n", "the command line imports cfgc.stores.publish"),
        ("cli/x.py", "def f():\n    from cfgc.bundle import signing\n", "imports cfgc.bundle;"),
        ("cli/x.py", "from cfgc.api._pull import pull\n", "imports cfgc.api._pull"),
    ],
)
def test_the_cli_check_catches_a_core_import(tmp_path: Path, importer: str, source: str, message: str) -> None:
    root = _plant(tmp_path, importer, source)
    (root / "cli" / "ok.py").write_text("from cfgc import api\nfrom cfgc.api import render\nfrom cfgc.base import errors\n")
    found = cli_violations(root)
    assert len(found) == 1 and message in found[0], found


@pytest.mark.parametrize(
    ("importer", "source", "message"),
    [
        ("secrets/x.py", "from cfgc.secrets.ops import _keyring\n", "private name _keyring"),
        ("cli/x.py", "from cfgc.bundle import build\nbuild._as_out(1)\n", "build._as_out"),
        ("cli/x.py", "import cfgc.stores.publish\ncfgc.stores.publish._repository\n", "publish._repository"),
        ("cli/x.py", "from cfgc.api import Target\nTarget._explain\n", "Target._explain"),
        ("cli/x.py", "from cfgc.api._repo import compile_repo\n", "private module cfgc.api._repo"),
    ],
)
def test_the_private_check_catches_a_crossing(tmp_path: Path, importer: str, source: str, message: str) -> None:
    root = _plant(tmp_path, importer, source)
    # Allowed: a package's own private modules, a module's own private names, dunders, others' self._x.
    (root / "api").mkdir(exist_ok=True)
    (root / "api" / "__init__.py").write_text("from cfgc.api._repo import compile_repo\n")
    (root / "api" / "ok.py").write_text("import os\n_x = 1\nprint(_x, os.__name__)\nclass A:\n"
                                         "    def f(self):\n        return self._y\n")
    found = private_violations(root)
    assert len(found) == 1 and message in found[0], found

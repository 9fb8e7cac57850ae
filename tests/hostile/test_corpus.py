"""The hostile-repo corpus: each case under ``tests/data/hostile/<case>/`` is a small
config repo that attempts one attack, run through the real ``cfgc`` console script.

A case is a directory with:

``case.yaml``
    ``attack``: what the repo attempts (one sentence, it names the issue's attack);
    ``canaries``: strings that must appear in no output and no file written
    (plaintext credentials, SOPS values); the canary of the file outside the repo
    is always checked;
    ``symlinks``: ``{path in repo: target}``, made before the run; ``{outside}``
    in a target is the directory outside the repo that holds ``secret.txt``;
    ``git``: true to commit ``repo/`` (then ``change/`` and ``remove:`` are applied
    and committed as a second commit, for ``diff``/``check --base`` cases);
    ``commands``: a list of ``{args: [...], exit: N, expect: [substrings],
    reject: [substrings]}``; ``{repo}``, ``{out}``, ``{outside}``, ``{base}`` are
    replaced in args (``{base}`` is the first commit).
``repo/``
    the files of the repo (``change/`` optionally, the second commit's files).

For every command the runner asserts the exit code, that no traceback is printed,
that nothing was created or changed outside ``{out}`` and the repo, and that no
canary appears in stdout, stderr or any file under ``{out}``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.repos import git, git_init

DATA = Path(__file__).resolve().parents[1] / "data" / "hostile"
CASES = sorted(p.name for p in DATA.iterdir() if (p / "case.yaml").is_file()) if DATA.is_dir() else []
OUTSIDE_CANARY = "CANARY-OUTSIDE-7f3a9c-do-not-leak"


def _snapshot(root: Path, skip: tuple[Path, ...]) -> dict[str, str]:
    """Digest of every file below ``root`` except under ``skip``."""
    seen: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        dirnames[:] = [n for n in dirnames if d / n not in skip]
        for name in filenames:
            p = d / name
            if p.is_symlink():
                seen[str(p)] = "link:" + os.readlink(p)
            else:
                seen[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
        for name in dirnames:
            seen.setdefault(str(d / name) + "/", "dir")
    return seen


def _subst(arg: str, ctx: dict[str, str]) -> str:
    for k, v in ctx.items():
        arg = arg.replace("{" + k + "}", v)
    return arg


def _prepare(case: str, tmp: Path) -> tuple[dict[str, Any], dict[str, str]]:
    spec = yaml.safe_load((DATA / case / "case.yaml").read_text())
    outside = tmp / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"token: {OUTSIDE_CANARY}\n")
    (outside / "secret.yaml").write_text(f"endpoint_url: {OUTSIDE_CANARY}\n")
    (outside / "secret.json").write_text(f'{{"type": "object", "description": "{OUTSIDE_CANARY}"}}\n')
    repo = tmp / "work" / "repo"
    shutil.copytree(DATA / case / "repo", repo, symlinks=True)
    ctx = {"repo": str(repo), "out": str(tmp / "work" / "out"), "outside": str(outside)}
    for link, target in (spec.get("symlinks") or {}).items():
        p = repo / link
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.exists() or p.is_symlink():
            p.unlink()
        p.symlink_to(_subst(target, ctx))
    if spec.get("git"):
        ctx["base"] = git_init(repo)
        change = DATA / case / "change"
        if change.is_dir():
            # shutil.copy, not copy2: a copied mtime with an unchanged size makes git
            # take the changed file for unchanged, and the change is silently lost.
            shutil.copytree(change, repo, dirs_exist_ok=True, symlinks=True, copy_function=shutil.copy)
        for rel in spec.get("remove") or []:
            (repo / rel).unlink()
        for link, target in (spec.get("change_symlinks") or {}).items():
            p = repo / link
            if p.exists() or p.is_symlink():
                p.unlink()
            p.symlink_to(_subst(target, ctx))
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "change")
    return spec, ctx


def _files_text(root: Path) -> str:
    if not root.exists():
        return ""
    parts = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            parts.append(p.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


@pytest.mark.parametrize("case", CASES)
def test_hostile_case(case: str, run_cfgc, tmp_path: Path) -> None:
    spec, ctx = _prepare(case, tmp_path)
    assert spec.get("attack"), f"{case}: case.yaml must say what it attempts"
    canaries = [OUTSIDE_CANARY, *(spec.get("canaries") or [])]
    out, repo = Path(ctx["out"]), Path(ctx["repo"])
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg-cache"), "HOME": str(tmp_path / "home")}
    for step in spec["commands"]:
        before = _snapshot(tmp_path, skip=(out, repo, tmp_path / "xdg-cache"))
        args = [_subst(str(a), ctx) for a in step["args"]]
        proc = run_cfgc(*args, cwd=repo, env=env)
        output = proc.stdout + proc.stderr
        where = f"{case}: cfgc {' '.join(args)}\n{output}"
        assert proc.returncode == step["exit"], where
        assert "Traceback" not in output, where
        for s in step.get("expect") or []:
            assert s in output, where
        for s in step.get("reject") or []:
            assert s not in output, where
        after = _snapshot(tmp_path, skip=(out, repo, tmp_path / "xdg-cache"))
        assert before == after, f"{where}\nwritten outside --out: {set(after.items()) ^ set(before.items())}"
        written = _files_text(out)
        for c in canaries:
            assert c not in output, f"{where}\ncanary {c!r} in output"
            assert c not in written, f"{case}: canary {c!r} in {out}"


def test_every_case_names_its_attack() -> None:
    for case in CASES:
        spec = yaml.safe_load((DATA / case / "case.yaml").read_text())
        assert spec.get("attack") and spec.get("commands"), case

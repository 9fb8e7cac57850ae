"""Every command's failures exit with the README's code, say ``error:`` without a traceback,
and, with ``--format json``, still print one JSON document on stdout.

Table-driven over the real console script.  Placeholders in a case's arguments:
``{repo}`` the example repo (a git repo, branch main), ``{plain}`` a copy that is
not in git, ``{bundle}`` a signed bundle, ``{store}`` a file store holding it on
channel prod, ``{key}``/``{pub}`` the key pair that signed it, ``{closed}`` a
127.0.0.1 port nothing listens on, ``{held}`` a 127.0.0.1 port this test holds,
``{tmp}`` a scratch folder.  A case's cwd ``empty`` is a folder with no cfgc.yaml
above it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest

from tests.fixtures.repos import EXAMPLE, cfgc_bin, git_init

NO_REPO = "no cfgc.yaml found"


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    code: int
    says: str
    cwd: str = "repo"
    env: dict[str, str] = field(default_factory=dict)


S3_DOWN = {"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:{closed}", "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}

CASES = [
    # A ref the repo does not have is a usage error naming the user's own option, with close names.
    Case("build-ref-typo", ("build", "--ref", "mian", "--out", "{tmp}/o"), 2,
         "--ref mian: unknown revision 'mian'"),
    Case("validate-ref-typo", ("validate", "--ref", "mian"), 2, "did you mean 'main'?"),
    Case("explain-ref-typo", ("explain", "acme/prod/chat", "models", "--ref", "mian"), 2, "--ref mian: unknown"),
    Case("diff-base-typo", ("diff", "--base", "mian"), 2, "--base mian: unknown revision 'mian'"),
    Case("diff-head-typo", ("diff", "--base", "main", "--head", "mian"), 2, "--head mian: unknown revision"),
    Case("check-base-typo", ("check", "--base", "mian"), 2, "--base mian: unknown revision"),
    # Outside git: the message names the option the command has.
    Case("diff-no-git", ("diff", "--base", "main"), 2, "--base needs a git repository", cwd="plain"),
    Case("check-no-git", ("check", "--base", "main"), 2, "--base needs a git repository", cwd="plain"),
    Case("history-no-git", ("history", "acme/prod/chat", "models"), 2, "cfgc history needs a git repository",
         cwd="plain"),
    Case("build-no-git", ("build", "--ref", "main", "--out", "{tmp}/o"), 2, "--ref needs a git repository",
         cwd="plain"),
    # Stores that do not exist or do not answer: exit 4; malformed URLs: exit 2.
    Case("versions-missing-store", ("versions", "--from", "file:///nonexistent/cfgc"), 4, "does not exist"),
    Case("pull-missing-store", ("pull", "prod", "--from", "file:///nonexistent/cfgc", "--out", "{tmp}/p"), 4,
         "does not exist"),
    Case("pull-target-missing-store", ("pull", "--from", "file:///nonexistent/cfgc", "--channel", "prod",
                                       "--target", "acme/prod/chat", "--key", "{pub}"), 4, "does not exist"),
    Case("promote-missing-store", ("promote", "--to", "file:///nonexistent/cfgc", "--channel", "prod",
                                   "--version", "abcdefabcdef", "--key", "{key}"), 4, "does not exist"),
    Case("refresh-missing-store", ("channel", "refresh", "--to", "file:///nonexistent/cfgc", "--channel", "prod",
                                   "--key", "{key}"), 4, "does not exist"),
    Case("versions-oci-down", ("versions", "--from", "oci://127.0.0.1:{closed}/cfgc"), 4, "unreachable"),
    Case("publish-oci-down", ("publish", "{bundle}", "--to", "oci://127.0.0.1:{closed}/cfgc"), 4, "unreachable"),
    Case("pull-oci-down", ("pull", "prod", "--from", "oci://127.0.0.1:{closed}/cfgc", "--out", "{tmp}/p"), 4,
         "unreachable"),
    Case("versions-s3-down", ("versions", "--from", "s3://bucket/cfgc"), 4, "unreachable", env=S3_DOWN),
    Case("publish-s3-down", ("publish", "{bundle}", "--to", "s3://bucket/cfgc"), 4, "unreachable", env=S3_DOWN),
    Case("versions-bad-url", ("versions", "--from", "http://example.com/x"), 2, "unknown store URL"),
    Case("versions-relative-file-url", ("versions", "--from", "file://relative/x"), 2, "absolute"),
    Case("versions-bad-s3-url", ("versions", "--from", "s3://"), 2, "bad S3 URL"),
    # Missing required options and bad options: exit 2.
    Case("publish-channel-no-key", ("publish", "{bundle}", "--to", "file://{tmp}/s", "--channel", "prod"), 2,
         "needs a signing key"),
    Case("promote-no-key", ("promote", "--to", "file://{store}", "--channel", "prod", "--version",
                            "abcdefabcdef"), 2, "give a signing key"),
    Case("refresh-no-key", ("channel", "refresh", "--to", "file://{store}", "--channel", "prod"), 2,
         "give a signing key"),
    Case("sign-no-key", ("sign", "{bundle}"), 2, "give a signing key"),
    Case("verify-no-key", ("verify", "{bundle}"), 2, "give a public key"),
    Case("versions-no-from", ("versions",), 2, "Missing option '--from'"),
    Case("pull-nothing", ("pull", "--from", "file://{store}"), 2, "name what to pull"),
    Case("pull-target-no-key", ("pull", "prod", "--from", "file://{store}", "--target", "acme/prod/chat"), 2,
         "needs --key"),
    Case("agent-no-listen", ("agent", "--from", "file://{store}", "--channel", "prod", "--key", "{pub}"), 2,
         "Missing option '--listen'"),
    Case("diff-no-base", ("diff",), 2, "Missing option '--base'"),
    Case("explain-no-target", ("explain",), 2, "Missing argument"),
    Case("keys-generate-no-name", ("keys", "generate"), 2, "Missing argument"),
    Case("secrets-encrypt-no-file", ("secrets", "encrypt"), 2, "Missing argument"),
    Case("build-bad-option", ("build", "--bogus"), 2, "No such option"),
    Case("check-bad-format", ("check", "--format", "yaml"), 2, "Invalid value for '--format'"),
    # The environment: a port another process holds is exit 4 naming the address.
    Case("agent-port-held", ("agent", "--from", "file://{store}", "--channel", "prod", "--key", "{pub}",
                             "--listen", "127.0.0.1:{held}"), 4, "address already in use: 127.0.0.1:{held}"),
    # Sharded builds: a bad shard, and a directory that is no part.
    Case("build-shard-bad", ("build", "--shard", "0/3", "--out", "{tmp}/o"), 2, "--shard 0/3"),
    Case("bundle-merge-not-a-part", ("bundle", "merge", "{repo}", "--out", "{tmp}/m"), 2, "is not a bundle part"),
    # Integrity: a bundle signed by another key.
    Case("verify-wrong-key", ("verify", "{bundle}", "--key", "{other}"), 5, "failed verification"),
    # No cfgc.yaml anywhere above the working directory.
    *(Case(f"{args[0]}-no-repo", args, 2, NO_REPO, cwd="empty") for args in [
        ("validate",), ("build", "--out", "{tmp}/o"), ("explain", "acme/prod/chat", "models"), ("check",),
        ("diff", "--base", "main"), ("history", "acme/prod/chat", "models"),
    ]),
]

ERROR_LINE = re.compile(r"^(\S+:\d+(:\d+)?: )?error: \S|^Error: \S", re.MULTILINE)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The repos, keys, bundle, store and ports the cases name (built once)."""
    base = tmp_path_factory.mktemp("exitcodes")
    repo, plain, empty = base / "repo", base / "plain", base / "empty"
    shutil.copytree(EXAMPLE, repo)
    shutil.copytree(EXAMPLE, plain)
    empty.mkdir()
    git_init(repo)

    def cfgc(*args: str) -> None:
        env = {**os.environ, "XDG_CACHE_HOME": str(base / "xdg-cache"), "XDG_STATE_HOME": str(base / "xdg-state")}
        subprocess.run([*cfgc_bin(), *args], check=True, capture_output=True, text=True, timeout=120, env=env)

    cfgc("keys", "generate", str(base / "ci"))
    cfgc("keys", "generate", str(base / "other"))
    cfgc("build", "--repo", str(repo), "--out", str(base / "bundle"))
    cfgc("sign", str(base / "bundle"), "--key", str(base / "ci.key"))
    cfgc("publish", str(base / "bundle"), "--to", f"file://{base / 'store'}", "--channel", "prod",
         "--key", str(base / "ci.key"))
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    try:
        yield {"repo": str(repo), "plain": str(plain), "empty": str(empty), "bundle": str(base / "bundle"),
               "store": str(base / "store"), "key": str(base / "ci.key"), "pub": str(base / "ci.pub"),
               "other": str(base / "other.pub"), "closed": str(closed_port),
               "held": str(held.getsockname()[1]), "tmp": str(base / "scratch")}
    finally:
        held.close()


def _fill(text: str, world: dict[str, str]) -> str:
    return text.format(**world)


def _has_json_format(args: tuple[str, ...]) -> bool:
    """Whether the command these arguments run has ``--format json``."""
    from cfgc.cli.main import cli, register_commands

    register_commands()
    cmd: Any = cli
    for a in args:
        if not isinstance(cmd, click.Group) or a not in cmd.commands:
            break
        cmd = cmd.commands[a]
    fmt = next((p for p in cmd.params if p.name == "fmt"), None)
    return fmt is not None and "json" in getattr(fmt.type, "choices", ())


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_failure_exit_code_and_message(case: Case, world: dict[str, str], run_cfgc) -> None:  # type: ignore[no-untyped-def]
    args = [_fill(a, world) for a in case.args]
    env = {k: _fill(v, world) for k, v in case.env.items()}
    proc = run_cfgc(*args, cwd=Path(world[case.cwd]), env=env)
    assert proc.returncode == case.code, proc.stderr
    assert _fill(case.says, world) in proc.stderr
    assert "Traceback" not in proc.stderr and "this is a bug" not in proc.stderr
    assert ERROR_LINE.search(proc.stderr), proc.stderr
    if not _has_json_format(case.args) or "--format" in case.args:
        return
    as_json = run_cfgc(*args, "--format", "json", cwd=Path(world[case.cwd]), env=env)
    assert as_json.returncode == case.code, as_json.stderr
    doc = json.loads(as_json.stdout)
    assert doc["ok"] is False
    if "diagnostics" in doc:  # the generic failure shape (cfgc/cli/failure.py)
        assert doc["exit_code"] == case.code and doc["errors"] == len(doc["diagnostics"]) >= 1
        assert _fill(case.says, world) in doc["diagnostics"][0]["message"]
    else:  # verify's own report
        assert doc["problems"]


def test_every_command_is_covered() -> None:
    """A new command must join the table (a failure case of its own)."""
    from cfgc.cli.main import cli, register_commands

    register_commands()
    covered = {c.args[0] for c in CASES} | {" ".join(c.args[:2]) for c in CASES}
    for name, cmd in cli.commands.items():
        subs = sorted(cmd.commands) if isinstance(cmd, click.Group) else []
        if name == "init":
            continue  # takes no required input; tests/cli/test_explain_init.py covers its failures
        if not subs:
            assert name in covered, f"cfgc {name} has no failure case in CASES"
        elif name not in ("keys", "secrets"):
            for sub in subs:
                assert f"{name} {sub}" in covered, f"cfgc {name} {sub} has no failure case in CASES"

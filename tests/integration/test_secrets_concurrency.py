"""Concurrent writers of one SOPS file, through the real ``cfgc`` console script.

Each test starts real processes at the same moment (they block on a barrier
file) and then checks the invariant of issue 11: every command that exited 0
has its change in the final file, which decrypts with cfgc and the real sops.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cfgc.base.fslock import file_lock, lock_path
from cfgc.secrets import ops
from cfgc.secrets.keysources import default_keyring
from tests.fixtures.repos import cfgc_bin

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "repo"
KEYS = EXAMPLE / "test-keys-DO-NOT-USE"
ACME = "age14tf7lxhvthh57z3tw0x2vfjytlulmv4q58aw4azjyzw7ns4364cq24t08y"
GLOBEX = "age1q24d0g4czns3uye7h0l2cf9rdmgyqcfxrzcd202elag7689fsq9qf5zpew"
CANARIES = (
    "sk-test-acme-openai-CANARY-7f3k9q2x-fake",
    "sk-ant-test-acme-CANARY-4m8p1z6w-fake",
    "whsec-test-acme-CANARY-9d2h5j8n",
)
WRITERS = 8
# Every child waits for this file, so that all start their read at once.
GO = "import os, sys, time\nwhile not os.path.exists(sys.argv[1]): time.sleep(0.005)\n"


def _rule(*recipients: str) -> str:
    return f"creation_rules:\n  - path_regex: tenants/acme/.*\n    age: {','.join(recipients)}\n"


@pytest.fixture()
def repo(tmp_path: Path, isolated_env: dict[str, str]) -> Path:
    """The acme secrets of the example repo, encrypted for acme and globex."""
    root = tmp_path / "repo"
    (root / "tenants" / "acme").mkdir(parents=True)
    shutil.copy(EXAMPLE / ".sops.yaml", root / ".sops.yaml")
    f = root / "tenants" / "acme" / "secrets.enc.yaml"
    shutil.copy(EXAMPLE / "tenants" / "acme" / "secrets.enc.yaml", f)
    (root / ".sops.yaml").write_text(_rule(ACME, GLOBEX))
    _cfgc(isolated_env, root, "secrets", "updatekeys", str(f), check=True)
    (root / ".sops.yaml").write_text(_rule(ACME))  # globex is to be removed
    return root


@pytest.fixture()
def env(isolated_env: dict[str, str]) -> dict[str, str]:
    return {**isolated_env, "SOPS_AGE_KEY_FILE": str(KEYS / "acme.agekey")}


def _cfgc(
    env: dict[str, str], cwd: Path, *args: str, stdin: str = "", check: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {"SOPS_AGE_KEY_FILE": str(KEYS / "acme.agekey"), **env}
    p = subprocess.run(
        [*cfgc_bin(), *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    _no_canary(p)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def _no_canary(p: subprocess.CompletedProcess[str]) -> None:
    for c in CANARIES:
        assert c not in p.stdout + p.stderr, f"plaintext in the output of {p.args}"


def _race(
    env: dict[str, str], cwd: Path, commands: list[tuple[list[str], str]]
) -> list[subprocess.CompletedProcess[str]]:
    """Start every command at once (each waits for a go file first); their results."""
    go = cwd / ".go"
    launcher = [sys.executable, "-c", GO + "os.execvp(sys.argv[2], sys.argv[2:])", str(go)]
    procs = []
    for args, stdin in commands:
        p = subprocess.Popen(
            [*launcher, *cfgc_bin(), *args],
            env=env,
            cwd=cwd,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        procs.append((p, stdin, args))
    go.touch()
    out = []
    for p, stdin, args in procs:
        stdout, stderr = p.communicate(stdin, timeout=120)
        done = subprocess.CompletedProcess(args, p.returncode, stdout, stderr)
        _no_canary(done)
        assert "Traceback" not in stderr, stderr
        out.append(done)
    go.unlink()
    return out


def _sops_decrypt(sops_bin: str, env: dict[str, str], f: Path) -> str:
    p = subprocess.run(
        [sops_bin, "--decrypt", str(f)], env=env, capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 0, p.stderr
    return p.stdout


def _recipients(f: Path) -> set[str]:
    doc = ops.load_encrypted(f)
    return {k["recipient"] for k in doc["sops"].get("age", [])}


def _data_key(f: Path) -> bytes:
    return ops.open_file(f, default_keyring(str(KEYS / "acme.agekey"))).data_key


def _tree(f: Path) -> dict:
    return ops.decrypt_file(f, default_keyring(str(KEYS / "acme.agekey")))


def test_eight_concurrent_sets_keep_every_key(
    repo: Path, env: dict[str, str], sops_bin: str
) -> None:
    f = repo / "tenants" / "acme" / "secrets.enc.yaml"
    cmds = [(["secrets", "set", str(f), f"writers.k{i}"], f"value-{i}") for i in range(WRITERS)]
    results = _race(env, repo, cmds)
    assert [r.returncode for r in results] == [0] * WRITERS, [r.stderr for r in results]
    assert _tree(f)["writers"] == {f"k{i}": f"value-{i}" for i in range(WRITERS)}
    plain = _sops_decrypt(sops_bin, env, f)
    for i in range(WRITERS):
        assert f"k{i}: value-{i}" in plain
    assert CANARIES[0] in plain  # the values that were there stay
    assert not lock_path(f).exists()


@pytest.mark.parametrize("other", ["rotate", "updatekeys"])
def test_set_racing_a_rekey_loses_nothing(
    repo: Path, env: dict[str, str], sops_bin: str, other: str
) -> None:
    f = repo / "tenants" / "acme" / "secrets.enc.yaml"
    for round_ in range(3):
        key_before = _data_key(f)
        cmds = [
            (["secrets", "set", str(f), f"round{round_}.s{i}"], f"v{round_}-{i}") for i in range(3)
        ]
        cmds.insert(1, (["secrets", other, str(f)], ""))
        results = _race(env, repo, cmds)
        tree = _tree(f)
        for (args, stdin), r in zip(cmds, results, strict=True):
            if r.returncode != 0:
                assert r.returncode == 4 and "another cfgc process" in r.stderr, r.stderr
                continue
            if args[1] == "set":
                assert tree[f"round{round_}"][args[3].split(".")[1]] == stdin
            elif other == "rotate":
                assert _data_key(f) != key_before
            else:
                assert _recipients(f) == {ACME}
        assert f"v{round_}-0" in _sops_decrypt(sops_bin, env, f)


def test_lock_timeout_refuses_with_the_holders_pid(repo: Path, env: dict[str, str]) -> None:
    f = repo / "tenants" / "acme" / "secrets.enc.yaml"
    raw = f.read_bytes()
    with file_lock(f, timeout=5):
        for args in (["set", str(f), "x"], ["rotate", str(f)], ["updatekeys", str(f)]):
            p = _cfgc(
                {**env, "CFGC_SECRETS_LOCK_TIMEOUT": "0.3"}, repo, "secrets", *args, stdin="v"
            )
            assert p.returncode == 4, p.stderr
            assert f"file is being changed by another cfgc process (pid {os.getpid()})" in p.stderr
            assert "Traceback" not in p.stderr
    assert f.read_bytes() == raw
    p = _cfgc(env, repo, "secrets", "set", str(f), "x", stdin="v", check=True)
    assert _tree(f)["x"] == "v"


def test_bad_lock_timeout_is_a_usage_error(repo: Path, env: dict[str, str]) -> None:
    f = repo / "tenants" / "acme" / "secrets.enc.yaml"
    p = _cfgc({**env, "CFGC_SECRETS_LOCK_TIMEOUT": "soon"}, repo, "secrets", "rotate", str(f))
    assert p.returncode == 2 and "CFGC_SECRETS_LOCK_TIMEOUT" in p.stderr


# An editor that, while "the human edits", lets another cfgc change the file.
CONFLICT_EDITOR = """\
import os, subprocess, sys
path = sys.argv[1]
open(os.environ["SEEN"], "w").write(path)
subprocess.run(os.environ["CFGC"].split() + ["secrets", "set", os.environ["TARGET"], "other"],
               input=b"theirs", check=True)
with open(path, "a") as f:
    f.write("mine: edited\\n")
"""


def test_edit_refuses_when_the_file_changed_meanwhile(
    repo: Path, env: dict[str, str], tmp_path: Path
) -> None:
    f = repo / "tenants" / "acme" / "secrets.enc.yaml"
    ed = tmp_path / "ed.py"
    ed.write_text(CONFLICT_EDITOR)
    e = {
        **env,
        "EDITOR": f"{sys.executable} {ed}",
        "CFGC": " ".join(cfgc_bin()),
        "TARGET": str(f),
        "SEEN": str(tmp_path / "seen"),
    }
    p = _cfgc(e, repo, "secrets", "edit", str(f))
    assert p.returncode == 4, p.stderr
    assert "changed by another process" in p.stderr and "run 'cfgc secrets edit' again" in p.stderr
    tree = _tree(f)
    assert tree["other"] == "theirs" and "mine" not in tree
    plain = Path((tmp_path / "seen").read_text())
    assert plain.name.startswith("plain.") and not plain.parent.exists()


def test_no_command_prints_plaintext(repo: Path, env: dict[str, str], tmp_path: Path) -> None:
    """Canary: only decrypt shows values (checked by _cfgc on every other command)."""
    f = repo / "tenants" / "acme" / "secrets.enc.yaml"
    ed = tmp_path / "ed.py"
    ed.write_text("import sys\nopen(sys.argv[1], 'a').write('added: 1\\n')\n")
    for args in (
        ["set", str(f), "providers.openai.api_key"],  # same value: unchanged
        ["set", str(f), "nope.deeper"],
        ["updatekeys", "--dry-run", str(f)],
        ["updatekeys", str(f)],
        ["rotate", str(f)],
        ["edit", str(f)],
    ):
        p = _cfgc(
            {**env, "EDITOR": f"{sys.executable} {ed}"}, repo, "secrets", *args, stdin=CANARIES[0]
        )
        assert p.returncode == 0, p.stderr
    bad = _cfgc(
        {**env, "SOPS_AGE_KEY_FILE": str(KEYS / "globex.agekey")},
        repo,
        "secrets",
        "set",
        str(f),
        "x",
    )
    assert bad.returncode != 0
    shown = subprocess.run(
        [*cfgc_bin(), "secrets", "decrypt", str(f)],
        env=env,
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert CANARIES[0] in shown.stdout  # the canary is really in the file

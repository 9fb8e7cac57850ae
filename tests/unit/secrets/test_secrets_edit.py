"""``cfgc secrets edit``: an invalid edit reopens the editor instead of failing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cfgc.base.errors import ExternalError, InputError
from cfgc.secrets import fileio, ops
from cfgc.secrets.keysources import Keyring

CANARY = "canary-3d1t-Lp0"

# A fake editor: run N writes the N-th text of $EDIT_STEPS (a JSON list) over the
# file after recording what the file held when it was opened.
EDITOR = """\
import json, os, sys
p, log = sys.argv[1], os.environ["EDIT_LOG"]
seen = json.load(open(log)) if os.path.exists(log) else []
seen.append(open(p).read())
json.dump(seen, open(log, "w"))
steps = json.loads(os.environ["EDIT_STEPS"])
open(p, "w").write(steps[min(len(seen), len(steps)) - 1])
"""


@pytest.fixture()
def edit(tmp_path: Path, keyring: Keyring, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Installs the fake editor; returns the log of what each run saw."""
    script = tmp_path / "ed.py"
    script.write_text(EDITOR)
    log = tmp_path / "edits.json"
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    monkeypatch.setenv("EDIT_LOG", str(log))
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setattr("cfgc.cli.secrets._keyring", lambda _f: keyring)
    return log


def _run(steps: list[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    from cfgc.cli.secrets import secrets

    monkeypatch.setenv("EDIT_STEPS", json.dumps(steps))
    return CliRunner().invoke(secrets, ["edit", *args])


@pytest.fixture()
def secret_file(repo: Path, keyring: Keyring) -> Path:
    p = repo / "secrets" / "app.yaml"
    p.write_text(f"db:\n  password: {CANARY}\nother: keep-me\n")
    ops.encrypt_file(p, keyring, in_place=True)
    return p


def test_invalid_yaml_reopens_the_editor(
    secret_file: Path,
    keyring: Keyring,
    edit: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = edit
    broken = f"db:\n  password: {CANARY}\nother: [changed\n"
    fixed = f"db:\n  password: {CANARY}\nother: changed\n"
    res = _run([broken, fixed], monkeypatch, str(secret_file))
    assert res.exit_code == 0, res.output
    seen = json.loads(log.read_text())
    assert len(seen) == 2
    assert seen[1] == broken  # reopened on the text as saved, not the original
    assert "edited file: line 3: invalid YAML" in res.output  # the last line, not past it
    assert "3 more tries" in res.output
    assert CANARY not in res.output
    assert ops.decrypt_file(secret_file, keyring) == {
        "db": {"password": CANARY},
        "other": "changed",
    }


def test_gives_up_after_three_reopenings(
    secret_file: Path, edit: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = edit
    raw = secret_file.read_bytes()
    res = _run([f"a: [{CANARY}\n"], monkeypatch, str(secret_file))
    # the CLI edge (cfgc.cli.main) turns the error into its exit code
    assert isinstance(res.exception, InputError) and res.exception.exit_code == 1
    assert len(json.loads(log.read_text())) == 4  # the first edit and three more
    assert "gave up after 4 edits" in res.exception.message
    assert "unchanged" in res.exception.message
    assert CANARY not in res.output + res.exception.message
    assert secret_file.read_bytes() == raw


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("- just\n- a list\n", "must be a mapping"),
        ("sops: {}\na: 1\n", "reserved"),
        ("a: 1\na: 2\n", "duplicate key 'a'"),
    ],
)
def test_other_invalid_documents_also_reopen(
    bad: str,
    message: str,
    secret_file: Path,
    keyring: Keyring,
    edit: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    res = _run([bad, "a: 1\n"], monkeypatch, str(secret_file))
    assert res.exit_code == 0, res.output
    assert message in res.output
    assert ops.decrypt_file(secret_file, keyring) == {"a": 1}


def test_new_json_file(
    repo: Path, keyring: Keyring, edit: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / ".sops.yaml").write_text(
        (repo / ".sops.yaml").read_text().replace(r"\.yaml$", r"\.(yaml|json)$")
    )
    p = repo / "secrets" / "new.json"
    res = _run(['{"a": ', f'{{"token": "{CANARY}"}}'], monkeypatch, str(p))
    assert res.exit_code == 0, res.output
    assert "invalid JSON" in res.output and "created" in res.output
    assert CANARY not in p.read_text()
    assert fileio.read(p)["sops"]["version"]
    assert ops.decrypt_file(p, keyring) == {"token": CANARY}


def test_editor_failure_does_not_retry(
    secret_file: Path, edit: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDITOR", f"{sys.executable} -c 'raise SystemExit(3)'")
    raw = secret_file.read_bytes()
    res = _run(["x: [\n"], monkeypatch, str(secret_file))
    assert isinstance(res.exception, ExternalError) and res.exception.exit_code == 4
    assert "exited with status 3" in res.exception.message
    assert secret_file.read_bytes() == raw

"""The composite action, run step by step as a runner would, against a fake GitHub API.

action.yml is parsed, its ``${{ }}`` expressions are filled in from the
inputs and the ``github`` context, and each ``run:`` script is executed with
``bash --noprofile --norc -eo pipefail`` and the environment a runner gives
(GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_EVENT_PATH, GITHUB_API_URL...).
A small HTTP server on 127.0.0.1 stands in for the REST API and records
every request, so the test asserts exactly what the action sent.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.repos import ROOT, git, git_init, write_files
from tests.unit.review.report.scenario import CANARIES, CHANGES, CONFIG, FILES

_EXPR = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


class FakeGitHub(BaseHTTPRequestHandler):
    """Issue comments of one repository, in memory."""

    requests: list[tuple[str, str, Any]] = []
    comments: list[dict[str, Any]] = []
    forbid_writes = False  # a fork's read-only token: writes get 403

    def _reply(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> Any:
        n = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(n)) if n else None
        assert self.headers["Authorization"] == "Bearer test-token"
        self.requests.append((self.command, self.path, body))
        return body

    def do_GET(self) -> None:  # noqa: N802
        self._record()
        if self.path.startswith("/repos/octo/config/issues/7/comments"):
            self._reply(200, self.comments)
        else:
            self._reply(404, {"message": "Not Found"})

    def do_POST(self) -> None:  # noqa: N802
        body = self._record()
        if self.forbid_writes:
            self._reply(403, {"message": "Resource not accessible by integration"})
            return
        comment = {"id": 100 + len(self.comments), "body": body["body"]}
        self.comments.append(comment)
        self._reply(201, comment)

    def do_PATCH(self) -> None:  # noqa: N802
        body = self._record()
        cid = int(self.path.rsplit("/", 1)[1])
        for c in self.comments:
            if c["id"] == cid:
                c["body"] = body["body"]
        self._reply(200, {"id": cid, "body": body["body"]})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    FakeGitHub.requests, FakeGitHub.comments = [], [{"id": 1, "body": "an unrelated comment"}]
    FakeGitHub.forbid_writes = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGitHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_action(workspace: Path, api_url: str, with_: dict[str, str], tmp: Path,
               event: dict[str, Any] | None = None) -> tuple[int, str, dict[str, str]]:
    """Run every step of action.yml; returns (exit code, stdout, the action's outputs)."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    assert set(with_) <= set(inputs), f"not an input of action.yml: {set(with_) - set(inputs)}"
    inputs.update(with_)
    github = {"action_path": str(ROOT), "base_ref": "main", "token": "test-token", "event_name": "pull_request"}
    steps: dict[str, dict[str, str]] = {}

    def expr(text: str) -> str:
        def one(m: re.Match[str]) -> str:
            scope, _, name = m.group(1).partition(".")
            if scope == "steps":
                step, _, key = name.partition(".outputs.")
                return steps.get(step, {}).get(key, "")
            return {"inputs": inputs, "github": github}[scope][name]
        return _EXPR.sub(one, text)

    inputs = {k: expr(v) for k, v in inputs.items()}
    event_file = tmp / "event.json"
    event_file.write_text(json.dumps(event or {"number": 7, "pull_request": {"number": 7}}))
    summary = tmp / "summary.md"
    (tmp / "runner-temp").mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "GITHUB_ACTIONS": "true", "CI": "true",
        "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event_file),
        "GITHUB_API_URL": api_url, "GITHUB_REPOSITORY": "octo/config", "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_BASE_REF": "main", "GITHUB_HEAD_REF": "feature",
        "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": str(workspace),
        "RUNNER_TEMP": str(tmp / "runner-temp"),
    }
    stdout = ""
    for n, step in enumerate(action["runs"]["steps"]):
        assert step["shell"] == "bash"
        out_file = tmp / f"output-{n}.txt"  # a runner gives each step its own
        out_file.write_text("")
        step_env = {**env, "GITHUB_OUTPUT": str(out_file),
                    **{k: expr(str(v)) for k, v in (step.get("env") or {}).items()}}
        script = tmp / "step.sh"
        script.write_text(expr(step["run"]))
        r = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=workspace,
                           env=step_env, capture_output=True, text=True, timeout=120)
        stdout += r.stdout
        steps[step.get("id", str(n))] = dict(line.split("=", 1) for line in out_file.read_text().splitlines())
        if r.returncode != 0:  # outputs written before the failure still count
            return r.returncode, stdout + r.stderr, {k: expr(v["value"]) for k, v in action["outputs"].items()}
    return 0, stdout, {k: expr(v["value"]) for k, v in action["outputs"].items()}


@pytest.mark.integration
def test_action_comments_once_then_updates(tmp_path: Path, api: str) -> None:
    workspace = tmp_path / "ws"
    repo = workspace / "config"
    repo.mkdir(parents=True)
    (repo / "cfgc.yaml").write_text(CONFIG)
    write_files(repo, FILES)
    git_init(workspace)
    git(workspace, "checkout", "-q", "-b", "feature")
    write_files(repo, {k: v for k, v in CHANGES.items() if k != "tenants/acme/prod/chat.yaml"})
    git(workspace, "add", "-A")
    git(workspace, "commit", "-qm", "feature")

    code, stdout, outputs = run_action(workspace, api, {"repo": "config"}, tmp_path)
    assert code == 0, stdout
    assert json.loads(outputs["changed-targets"]) == ["acme/dev/chat", "acme/prod/chat", "globex/prod/chat",
                                                      "globex/prod/search"]
    assert outputs["findings"] == "0"
    assert [(m, p) for m, p, _ in FakeGitHub.requests] == [
        ("GET", "/repos/octo/config/issues/7/comments?per_page=100"),
        ("POST", "/repos/octo/config/issues/7/comments")]
    body = FakeGitHub.requests[1][2]["body"]
    assert body.startswith("<!-- cfgc:sticky-comment -->\n## cfgc\n") and "### Config diff: 4 of 4" in body
    assert "### Config check: ✅ passed (4 targets)" in body
    summary = (tmp_path / "summary.md").read_text()
    assert "### Config diff" in summary
    for canary in CANARIES:
        assert canary not in body + summary + stdout

    # A second push: the action finds its comment by the marker and updates it.
    (repo / "policies").mkdir()
    (repo / "policies/p.rego").write_text(
        'package main\n\ndeny contains {"msg": "too slow", "path": "limits.rpm"} if input.config.limits.rpm < 100\n')
    FakeGitHub.requests.clear()
    code, stdout, outputs = run_action(workspace, api, {"repo": "config"}, tmp_path)
    assert code == 1  # the deny fails the job, after the comment is written
    assert [(m, p) for m, p, _ in FakeGitHub.requests] == [
        ("GET", "/repos/octo/config/issues/7/comments?per_page=100"),
        ("PATCH", "/repos/octo/config/issues/comments/101")]
    assert len(FakeGitHub.comments) == 2 and "too slow" in FakeGitHub.comments[1]["body"]
    assert "::error file=config/envs/dev.yaml,line=2,col=3,title=cfgc policy.deny::too slow" in stdout

    FakeGitHub.requests.clear()
    code, stdout, _ = run_action(workspace, api, {"repo": "config", "comment": "false", "command": "diff"}, tmp_path)
    assert code == 0 and FakeGitHub.requests == []


def _pr_workspace(tmp_path: Path, changes: dict[str, str], policy: str | None = None) -> Path:
    """The scenario repo in config/ on main (with ``policy``), a feature branch with ``changes``."""
    workspace = tmp_path / "ws"
    repo = workspace / "config"
    repo.mkdir(parents=True)
    (repo / "cfgc.yaml").write_text(CONFIG)
    write_files(repo, FILES)
    if policy:
        (repo / "policies").mkdir()
        (repo / "policies/p.rego").write_text(policy)
    git_init(workspace)
    git(workspace, "checkout", "-q", "-b", "feature")
    write_files(repo, changes)
    git(workspace, "add", "-A")
    git(workspace, "commit", "-qm", "feature")
    return workspace


RPM_POLICY = 'package main\n\ndeny contains {"msg": "too slow", "path": "limits.rpm"} if input.config.limits.rpm < 100\n'


@pytest.mark.integration
def test_fork_pr_comment_403_is_a_warning_and_the_summary_has_the_report(tmp_path: Path, api: str) -> None:
    workspace = _pr_workspace(tmp_path, {"envs/prod.yaml": "limits:\n  rpm: 2500\n"})
    FakeGitHub.forbid_writes = True
    code, stdout, outputs = run_action(workspace, api, {"repo": "config"}, tmp_path)
    assert code == 0, stdout
    assert ("POST", "/repos/octo/config/issues/7/comments") in [(m, p) for m, p, _ in FakeGitHub.requests]
    assert "::warning title=cfgc::could not write the PR comment: HTTP 403" in stdout
    assert outputs["findings"] == "0" and outputs["errors"] == "0"
    summary = (tmp_path / "summary.md").read_text()
    assert "### Config check: ✅ passed (3 targets)" in summary and "### Config diff" in summary

    # The exit code still reflects the findings: a new error fails the fork PR.
    write_files(workspace / "config", {"envs/prod.yaml": "limits:\n  rpm: 50\n", "policies/p.rego": RPM_POLICY})
    code, stdout, outputs = run_action(workspace, api, {"repo": "config"}, tmp_path)
    assert code == 1 and outputs["new-errors"] == "2" and "HTTP 403" in stdout


@pytest.mark.integration
def test_pr_findings_split_into_new_and_already_on_the_base(tmp_path: Path, api: str) -> None:
    # envs/dev.yaml (rpm 60) already breaks the policy on main; the PR moves that
    # line down (not new) and sets rpm 50 for acme/prod/chat (new).
    workspace = _pr_workspace(tmp_path, {"envs/dev.yaml": "# dev limits\nlimits:\n  rpm: 60\n",
                                         "tenants/acme/prod/chat.yaml": "limits:\n  rpm: 50\n"}, RPM_POLICY)
    sha = git(workspace, "rev-parse", "HEAD").strip()
    code, stdout, outputs = run_action(workspace, api, {"repo": "config", "format": "sarif"}, tmp_path)
    assert code == 1, stdout
    assert (outputs["errors"], outputs["new-errors"]) == ("2", "1")
    assert "::error file=config/tenants/acme/prod/chat.yaml,line=2,col=3,title=cfgc policy.deny::too slow" in stdout
    assert "::notice file=config/envs/dev.yaml,line=3,col=3,title=cfgc policy.deny (error%2C already on" in stdout
    body = FakeGitHub.comments[-1]["body"]
    new, _, old = body.partition("### Config diff")[0].partition("already on the base")
    assert "1 new error" in new and "tenants/acme/prod/chat.yaml" in new and "envs/dev.yaml" not in new
    assert "envs/dev.yaml" in old and "tenants/acme/prod/chat.yaml" not in old
    assert f"](https://github.com/octo/config/blob/{sha}/config/tenants/acme/prod/chat.yaml#L2)" in new
    assert f"](https://github.com/octo/config/blob/{sha}/config/envs/dev.yaml#L3)" in old
    sarif = json.loads((workspace / outputs["report-file"]).read_text())
    states = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r["baselineState"]
              for r in sarif["runs"][0]["results"]}
    assert states == {"config/tenants/acme/prod/chat.yaml": "new", "config/envs/dev.yaml": "unchanged"}

    # Only the old error left: it does not fail the PR, unless fail-on-existing.
    write_files(workspace / "config", {"tenants/acme/prod/chat.yaml": "{}\n"})
    code, stdout, outputs = run_action(workspace, api, {"repo": "config", "comment": "false"}, tmp_path)
    assert code == 0 and (outputs["errors"], outputs["new-errors"]) == ("1", "0"), stdout
    code, _, _ = run_action(workspace, api, {"repo": "config", "comment": "false", "fail-on-existing": "true"},
                            tmp_path)
    assert code == 1


@pytest.mark.integration
def test_target_input_selects_and_a_glob_matching_nothing_is_an_error(tmp_path: Path, api: str) -> None:
    workspace = _pr_workspace(tmp_path, {k: v for k, v in CHANGES.items() if k != "tenants/acme/prod/chat.yaml"})
    code, stdout, outputs = run_action(workspace, api, {"repo": "config", "target": "acme/*", "comment": "false"},
                                       tmp_path)
    assert code == 0, stdout
    assert json.loads(outputs["changed-targets"]) == ["acme/dev/chat", "acme/prod/chat"]
    assert "(2 targets)" in (tmp_path / "summary.md").read_text()

    # Quotes kept (the old word-split 'args') match nothing: exit 2, not "passed".
    code, stdout, _ = run_action(workspace, api, {"repo": "config", "target": "'acme/*'"}, tmp_path)
    assert code == 2 and "matches none of the 4 targets" in stdout, stdout

    # args is split like a shell: --target 'acme/*' is two arguments, quotes removed.
    out = tmp_path / "bundle"
    code, stdout, _ = run_action(workspace, api, {"repo": "config", "base-ref": "", "command": "build",
                                                  "out": str(out), "args": "--target 'acme/*'"}, tmp_path)
    assert code == 0, stdout
    manifest = json.loads((out / "manifest.json").read_text())
    names = sorted(t["name"] if isinstance(t, dict) else t for t in manifest["targets"])
    assert names == ["acme/dev/chat", "acme/prod/chat"]


def test_action_rejects_unknown_command(tmp_path: Path, api: str) -> None:
    code, out, _ = run_action(tmp_path, api, {"command": "deploy"}, tmp_path)
    assert code == 2 and "::error title=cfgc::unsupported command: deploy" in out


def test_action_and_workflows_match_the_public_schemas(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "check-jsonschema"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "check_jsonschema"]
    # The builtin schemas are vendored: no network (an unusable proxy proves it).
    env = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    workflows = sorted(str(p) for p in (ROOT / ".github/workflows").glob("*.yml"))
    assert any(w.endswith("config-repo-example.yml") for w in workflows)
    for schema, files in (("vendor.github-actions", [str(ROOT / "action.yml")]),
                          ("vendor.github-workflows", workflows)):
        r = subprocess.run([*cmd, "--builtin-schema", schema, *files], capture_output=True, text=True,
                           env=env, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["cfgc-check"] and hooks[0]["entry"] == "cfgc check"


def test_zizmor_finds_nothing_in_the_action_and_workflows() -> None:
    exe = Path(sys.executable).parent / "zizmor"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "zizmor"]
    files = [str(ROOT / "action.yml"), *sorted(str(p) for p in (ROOT / ".github/workflows").glob("*.yml"))]
    r = subprocess.run([*cmd, "--offline", "--config", str(ROOT / ".github/zizmor.yml"), *files],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_example_release_turns_the_oidc_token_into_aws_credentials_before_publishing() -> None:
    wf = yaml.safe_load((ROOT / ".github/workflows/config-repo-example.yml").read_text())
    assert wf["permissions"] == {}
    assert wf["jobs"]["review"]["permissions"] == {"contents": "read", "pull-requests": "write"}
    for job in ("release", "refresh-channels"):
        spec = wf["jobs"][job]
        assert spec["permissions"] == {"contents": "read", "id-token": "write"}
        steps = spec["steps"]
        aws = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("aws-actions/configure-aws-"))
        s3 = next(i for i, s in enumerate(steps) if "s3://" in s.get("run", ""))
        assert aws < s3 and "role-to-assume" in steps[aws]["with"]
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    # Every output the run step writes is declared (the step writes them via set_outputs).
    written = set(re.findall(r'"([a-z-]+)": ', (ROOT / "cfgc/review/github.py").read_text().split("set_outputs({", 1)[1]
                             .split("})", 1)[0])) | {"report-file"}
    assert written <= set(action["outputs"])

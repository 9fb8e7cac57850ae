"""deploy/ (Kubernetes manifests) and the Containerfile: valid, hardened, and in step with the CLI."""

from __future__ import annotations

import copy
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from deploy.image.require_locked import locked
from tests.fixtures.repos import cfgc_bin

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = sorted((ROOT / "deploy").glob("*.yaml"))
K8S = "1.30.0"  # oldest version the manifests support (native sidecars are on by default from 1.29)


def docs() -> list[dict[str, Any]]:
    return [d for p in DEPLOY for d in yaml.safe_load_all(p.read_text()) if d]


def agent() -> dict[str, Any]:
    (dep,) = [d for d in docs() if d["kind"] == "Deployment"]
    spec = dep["spec"]["template"]["spec"]
    (c,) = [c for c in spec["initContainers"] if c["name"] == "cfgc-agent"]
    return c


def pod() -> dict[str, Any]:
    (dep,) = [d for d in docs() if d["kind"] == "Deployment"]
    return dep["spec"]["template"]["spec"]


@pytest.mark.parametrize("path", DEPLOY, ids=lambda p: p.name)
def test_manifests_validate_strictly_against_pinned_kubernetes(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, K8S, strict=True)


def test_strict_validation_catches_a_misspelt_field() -> None:
    (dep,) = [d for d in docs() if d["kind"] == "Deployment"]
    bad = copy.deepcopy(dep)
    bad["spec"]["template"]["spec"]["initContainers"][0]["securityContext"]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S, strict=True)


def test_agent_runs_hardened_as_the_image_user() -> None:
    p, c = pod(), agent()
    assert p["securityContext"]["runAsNonRoot"] is True
    assert p["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert p["automountServiceAccountToken"] is False
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    user = re.search(r"^USER (\d+):(\d+)$", (ROOT / "Containerfile").read_text(), re.M)
    assert user and int(user[1]) > 0
    assert p["securityContext"]["runAsUser"] == int(user[1])
    assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["memory"]


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_agent_args_are_accepted_by_the_cli() -> None:
    args = agent()["args"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run([*cfgc_bin(), *args, "--help"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([*cfgc_bin(), *args, "--no-such-flag", "--help"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "no-such-flag" in bad.stderr  # the check above can fail


def _mount(c: dict[str, Any], path: str) -> dict[str, Any]:
    mounts = [m for m in c["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/")]
    assert mounts, f"{path} is on no volume (the root filesystem is read-only)"
    return mounts[0]


def test_agent_files_are_on_volumes_and_only_cache_and_state_are_writable() -> None:
    c, volumes = agent(), {v["name"]: v for v in pod()["volumes"]}
    args = c["args"]
    for writable in (_option(args, "--cache-dir") + "/x", _option(args, "--state-file")):
        m = _mount(c, writable)
        assert not m.get("readOnly") and "emptyDir" in volumes[m["name"]] or "persistentVolumeClaim" in volumes[m["name"]]
    key, age = _option(args, "--key"), _option(args, "--age-key-file")
    assert _mount(c, key)["readOnly"] and "configMap" in volumes[_mount(c, key)["name"]]
    assert _mount(c, age)["readOnly"] and "secret" in volumes[_mount(c, age)["name"]]
    assert {m["name"] for m in c["volumeMounts"] if not m.get("readOnly")} == {"cfgc-cache", "cfgc-state"}


def test_probes_ask_the_agent_listener_for_its_health_routes() -> None:
    c = agent()
    listen = _option(c["args"], "--listen")
    assert listen.startswith("127.0.0.1:")  # --serve-secrets needs loopback
    for probe, route in (("startupProbe", "/health/ready"), ("readinessProbe", "/health/ready"),
                         ("livenessProbe", "/health/live")):
        cmd = " ".join(c[probe]["exec"]["command"])
        assert f"http://{listen}{route}" in cmd and "'Host': 'localhost'" in cmd, probe


def test_containerfile_volumes_hold_cache_and_state() -> None:
    text = (ROOT / "Containerfile").read_text()
    state = re.search(r"CFGC_STATE_FILE=(\S+)", text)
    volumes = re.search(r"^VOLUME (\[.*\])$", text, re.M)
    assert state and volumes
    declared = yaml.safe_load(volumes[1])
    assert str(Path(state[1]).parent) in declared and "/var/cache/cfgc" in declared
    assert re.search(r"pip install [^\n]*--constraint requirements/lock.txt", text)


def test_every_runtime_dependency_is_locked() -> None:
    import tomllib

    lock = locked((ROOT / "requirements" / "lock.txt").read_text())
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in deps:
        name = re.split(r"[<>=!\[ ;]", dep, maxsplit=1)[0]
        assert re.sub(r"[-_.]+", "-", name).lower() in lock, dep


def test_image_workflow_is_a_valid_github_workflow_building_the_containerfile() -> None:
    wf = ROOT / ".github" / "workflows" / "image.yml"
    r = subprocess.run(["check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(wf)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    steps = yaml.safe_load(wf.read_text())["jobs"]["image"]["steps"]
    build = next(s for s in steps if s.get("uses", "").startswith("docker/build-push-action"))
    assert build["with"]["file"] == "Containerfile"

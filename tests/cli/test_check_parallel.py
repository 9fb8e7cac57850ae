"""A large repo is checked on every core with the same findings as on one."""

from __future__ import annotations

import json

CONFIG = """\
version: 1
hierarchy:
  - base/*.yaml
  - svc/{env}/{service}.yaml
targets: "{env}/{service}"
policies: policies
"""
POLICY = """\
package main

import rego.v1

deny contains {"msg": "rpm above 15 in prod", "path": "limits.rpm"} if {
    input.vars.env == "prod"
    input.config.limits.rpm > 15
}
"""


def test_parallel_check_equals_serial(make_repo, run_cfgc) -> None:
    files = {"base/a.yaml": "limits:\n  rpm: 10\n", "policies/limits.rego": POLICY}
    for env in ("dev", "prod"):
        for i in range(210):
            files[f"svc/{env}/s{i:03}.yaml"] = f"id: {i}\n" + ("limits: {rpm: 20}\n" if i % 50 == 0 else "")
    root = make_repo(files, config=CONFIG)
    outs = []
    for jobs in ("1", "2"):
        proc = run_cfgc("check", "--repo", root, "--format", "json", env={"CFGC_JOBS": jobs})
        assert proc.returncode == 1, proc.stderr
        outs.append(json.loads(proc.stdout))
    assert outs[0] == outs[1]
    denies = [d for d in outs[1]["diagnostics"] if "rpm above 15" in d["message"]]
    assert sorted(t for d in denies for t in d["targets"]) == [f"prod/s{i:03}" for i in range(0, 210, 50)]
    assert all(d["file"].startswith("svc/prod/") and d["line"] == 2 for d in denies)

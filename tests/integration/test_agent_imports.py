"""What a ready ``cfgc agent`` process has imported: no compiler, repository, YAML, Jinja or cryptography.

The sidecar is sized at 40 MB plus twice the bytes it serves (docs/runtime.md,
*Memory sizing*); the compiler and its parsers cost ~16 MB it never uses.  The
agent verifies keys and versions in forked children (runtime/isolate.py), so
cryptography (6 to 8 MB of RSS) stays out of it too.  The agent is started for real (``python -m cfgc agent``) with a wrapper thread that,
once /health/ready answers 200 and one target was served, writes ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cfgc.bundle.signing import load_signer
from cfgc.stores.file import FileStore
from tests.fixtures.servers import free_port
from tests.unit.runtime.bundles import Publisher, chat

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

# Runs cfgc's own entry point; a thread dumps sys.modules once the agent is ready and has served.
WRAPPER = """
import http.client, json, os, sys, threading, time

def dump():
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            c.request("GET", "/health/ready", headers={"Host": "localhost"})
            if c.getresponse().status == 200:
                c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
                c.request("GET", "/v1/targets/acme/prod/chat/values/models.primary.timeout_s",
                          headers={"Host": "localhost"})
                served = c.getresponse().read()
                with open(OUT, "w") as f:
                    json.dump({"served": served.decode(), "modules": sorted(sys.modules)}, f)
                os._exit(0)
        except OSError:
            pass
        time.sleep(0.05)
    os._exit(7)

threading.Thread(target=dump, daemon=True).start()
sys.argv = ["cfgc", *ARGS]
from cfgc.cli.main import main
main()
"""

FORBIDDEN = ("cfgc.compile", "cfgc.repo", "cfgc.api", "cfgc.base.loading", "yaml", "yaml_rs", "jinja2",
             "cryptography")


def test_ready_agent_imports_no_compiler_yaml_or_jinja(tmp_path: Path, signing_key) -> None:
    store = FileStore(tmp_path / "store")
    Publisher(store, tmp_path, load_signer(signing_key[0])).publish({"acme/prod/chat": chat(7)})
    port = free_port()
    out = tmp_path / "modules.json"
    args = ["agent", "--from", f"file://{tmp_path / 'store'}", "--channel", "prod", "--key", str(signing_key[1]),
            "--listen", f"127.0.0.1:{port}", "--interval", "0.2", "--state-file", str(tmp_path / "serials.json")]
    code = WRAPPER.replace("PORT", str(port)).replace("OUT", repr(str(out))).replace("ARGS", repr(args))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["served"].strip() == "7"  # the process really was serving when the modules were listed
    modules = result["modules"]
    assert "cfgc.runtime.agent.app" in modules  # the listing is of the agent process
    loaded = [m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert loaded == []

"""A real ``cfgc agent``: its verifiers' fork server holds none of its sockets and dies with it."""

from __future__ import annotations

import contextlib
import os
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from cfgc.bundle.signing import load_signer
from cfgc.stores.file import FileStore
from tests.integration.test_agent import Agent, T
from tests.unit.runtime.bundles import Publisher, chat

pytestmark = pytest.mark.integration


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _sockets(pid: int) -> set[str]:
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:"):
            out.add(link)
    return out


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@contextlib.contextmanager
def _file_agent(tmp_path: Path, signing_key) -> Iterator[tuple[Publisher, Agent]]:
    """An agent on a file store holding version 1, ready; killed at the end if still running."""
    pub = Publisher(FileStore(tmp_path / "store"), tmp_path, load_signer(signing_key[0]))
    pub.publish({T: chat(1)})
    agent = Agent(tmp_path, tmp_path / "store", signing_key[1], "--state-file", str(tmp_path / "serials.json"))
    try:
        agent.wait(lambda: agent.get("/health/ready")[0] == 200, "ready")
        yield pub, agent
    finally:
        if agent.proc.poll() is None:
            agent.proc.kill()


def test_the_fork_server_has_no_agent_socket_serves_updates_and_dies_with_the_agent(
        tmp_path: Path, signing_key) -> None:
    with _file_agent(tmp_path, signing_key) as (pub, agent):
        kids = _children(agent.proc.pid)
        assert len(kids) == 1  # the fork server (each verifier is its child, gone once it answered)
        server = kids[0]
        held = urllib.request.urlopen(agent.base + "/health/live", timeout=5)  # a client connection, kept open
        try:
            agent_sockets = _sockets(agent.proc.pid)
            # The agent holds the listening socket, this client's connection and its end of the pair;
            # the server only its own end.
            assert len(agent_sockets) >= 3 and len(_sockets(server)) == 1
            assert not _sockets(server) & agent_sockets
        finally:
            held.close()
        pub.publish({T: chat(2)})  # verified in a child of the server
        agent.wait(lambda: agent.json("/v1/status")["serial"] == 2, "the new version")  # type: ignore[index]
        assert agent.get("/health/live")[0] == 200
        os.kill(agent.proc.pid, signal.SIGKILL)  # no clean-up runs: the server must go by itself
        agent.proc.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _gone(server):
            time.sleep(0.05)
        assert _gone(server)


def test_without_its_fork_server_the_agent_is_not_live_and_keeps_its_version(tmp_path: Path, signing_key) -> None:
    with _file_agent(tmp_path, signing_key) as (pub, agent):
        os.kill(_children(agent.proc.pid)[0], signal.SIGKILL)
        pub.publish({T: chat(2)})
        agent.wait(lambda: agent.get("/health/live")[0] == 503, "not live")
        agent.wait(lambda: "could not start the verifying process" in str(agent.json("/v1/status")["last_error"]),  # type: ignore[index]
                   "the failure in the status")
        assert agent.json("/v1/status")["serial"] == 1  # type: ignore[index]
        assert agent.get(f"/v1/targets/{T}")[0] == 200
        agent.stop()


def test_over_a_real_registry_the_server_drops_the_agents_connection_and_verifies_updates(
        oci_registry: str, tmp_path: Path, signing_key) -> None:
    import subprocess
    import uuid

    from cfgc.stores import open_store
    from tests.fixtures.repos import cfgc_bin
    from tests.fixtures.servers import free_port

    url = f"oci://{oci_registry}/rt/{uuid.uuid4().hex[:10]}"
    pub = Publisher(open_store(url), tmp_path, load_signer(signing_key[0]))
    pub.publish({T: chat(1)})
    agent = Agent.__new__(Agent)
    agent.port = free_port()
    agent.base = f"http://127.0.0.1:{agent.port}"
    agent.log = tmp_path / "agent.log"
    with open(agent.log, "wb") as out:
        agent.proc = subprocess.Popen(
            [*cfgc_bin(), "agent", "--from", url, "--plain-http", "--channel", "prod", "--key", str(signing_key[1]),
             "--listen", f"127.0.0.1:{agent.port}", "--interval", "0.2", "--state-file", str(tmp_path / "s.json")],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        agent.wait(lambda: agent.get("/health/ready")[0] == 200, "ready")
        server = _children(agent.proc.pid)[0]
        assert len(_sockets(server)) == 1 and not _sockets(server) & _sockets(agent.proc.pid)
        pub.publish({T: chat(2)})
        agent.wait(lambda: agent.json("/v1/status")["serial"] == 2, "the new version")  # type: ignore[index]
        assert agent.get(f"/v1/targets/{T}")[0] == 200
        agent.stop()
    finally:
        if agent.proc.poll() is None:
            agent.proc.kill()

"""`cfgc pull` refuses replayed and expired pointers with or without --out, and a corrupt state file."""

from __future__ import annotations

from pathlib import Path

from cfgc.bundle.signing import load_signer
from cfgc.stores.file import FileStore
from cfgc.stores.publish import PointerTerms, publish, refresh_channel
from tests.fixtures.cli import run
from tests.unit.runtime.bundles import chat, write

T = "acme/prod/chat"


def test_pull_out_refuses_a_replay_and_an_expired_pointer(tmp_path: Path, signing_key) -> None:
    store, signer = FileStore(tmp_path / "store"), load_signer(signing_key[0])
    publish(store, write(tmp_path / "b1", {T: chat(1)}, [signer]), "prod", [signer])
    old = (store.root / "channels/prod.json").read_bytes()
    publish(store, write(tmp_path / "b2", {T: chat(2)}, [signer]), "prod", [signer])
    pull = ("pull", "prod", "--from", store.url, "--key", str(signing_key[1]))
    assert run(*pull, "--out", str(tmp_path / "o1"))[0] == 0
    current = (store.root / "channels/prod.json").read_bytes()
    (store.root / "channels/prod.json").write_bytes(old)
    code, out = run(*pull, "--out", str(tmp_path / "o2"))  # no cache at all: the state file remembers serial 2
    assert code == 5 and "older than serial 2" in out and not (tmp_path / "o2").exists()
    code, out = run(*pull, "--target", T)
    assert code == 5 and "older than serial 2" in out
    (store.root / "channels/prod.json").write_bytes(current)
    refresh_channel(store, "prod", [signer], PointerTerms(expires_in=-1))  # serial 3, already expired
    code, out = run(*pull, "--out", str(tmp_path / "o3"))
    assert code == 5 and "expired at" in out
    assert run(*pull, "--out", str(tmp_path / "o3"), "--allow-expired")[0] == 0
    code, out = run(*pull, "--target", T, "--repository", "someone-else", "--allow-expired",
                    "--state-file", str(tmp_path / "fresh.json"))
    assert code == 5 and "this runtime follows 'someone-else'" in out
    code, out = run(*pull, "--target", T, "--min-serial", "9", "--allow-expired",
                    "--state-file", str(tmp_path / "fresh2.json"))
    assert code == 5 and "older than serial 9" in out


def test_corrupt_state_file_exits_5_with_recovery_advice(tmp_path: Path, signing_key) -> None:
    store, signer = FileStore(tmp_path / "store"), load_signer(signing_key[0])
    publish(store, write(tmp_path / "b1", {T: chat(1)}, [signer]), "prod", [signer])
    state = tmp_path / "serials.json"
    state.write_text("{garbage")
    code, out = run("pull", "prod", "--from", store.url, "--key", str(signing_key[1]), "--out",
                    str(tmp_path / "o"), "--state-file", str(state))
    assert code == 5 and "is corrupt" in out and "--min-serial" in out and "Traceback" not in out
    assert state.read_text() == "{garbage"

"""cfgc.bundle.outdir: one build per output directory at a time; atomic exchange."""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import cfgc.bundle.layout as bundle
from cfgc.base.errors import ExternalError
from cfgc.bundle.build import build_bundle
from cfgc.bundle.outdir import exchange, exclusive
from cfgc.repo.sources import DirSource


def test_second_holder_waits_then_times_out_and_lock_file_goes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from cfgc.bundle.outdir import exclusive
            with exclusive(Path({str(out)!r})):
                print("held", flush=True)
                sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(ExternalError, match="another cfgc build is still writing"), exclusive(out, timeout=0.3):
        pass
    holder.stdin.write("\n")
    holder.stdin.close()
    holder.wait(timeout=30)
    holder.stdout.close()
    with exclusive(out, timeout=5):  # free again once the holder is done
        assert (tmp_path / ".out.lock").exists()
    assert not (tmp_path / ".out.lock").exists()


def test_exchange_swaps_two_directories(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "f").write_text("A")
    (b / "f").write_text("B")
    if not exchange(a, b):
        pytest.skip("no renameat2 exchange on this file system")
    assert (a / "f").read_text() == "B" and (b / "f").read_text() == "A"


def test_disk_full_while_staging_names_out_and_keeps_previous(make_repo, tmp_path: Path, monkeypatch) -> None:
    repo = make_repo({"svc/a.yaml": "x: 1\n"},
                     config="version: 1\nhierarchy:\n  - svc/{service}.yaml\ntargets: '{service}'\n")
    out = tmp_path / "out"
    build_bundle(DirSource(repo), out)
    before = (out / "manifest.json").read_bytes()
    (repo / "svc/a.yaml").write_text("x: 2\n")

    def full(staging: Path, rel: str, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(staging / rel))

    monkeypatch.setattr(bundle, "write_file", full)
    with pytest.raises(ExternalError) as e:
        build_bundle(DirSource(repo), out)
    assert "no space left on device writing" in str(e.value)
    assert str(e.value).endswith("out/manifest.json") and ".tmp-" not in str(e.value)
    assert (out / "manifest.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []

from pathlib import Path

import pytest

from cfgc.base.errors import IntegrityError
from cfgc.secrets.bulk import decrypt_files
from cfgc.secrets.ops import encrypt_file

CANARY = "canary-bulk-5ecr3t"


def make_files(repo: Path, keyring, n: int) -> list[Path]:
    (repo / "secrets").mkdir(exist_ok=True)
    paths = []
    for i in range(n):
        p = repo / "secrets" / f"f{i:03}.yaml"
        p.write_text(f"index: {i}\nvalue: {CANARY}-{i}\n")
        encrypt_file(p, keyring, config=repo / ".sops.yaml", in_place=True)
        paths.append(p)
    return paths


@pytest.mark.parametrize("jobs", [1, 2])
def test_results_in_input_order(repo: Path, keyring, jobs: int) -> None:
    paths = make_files(repo, keyring, 40)
    trees = decrypt_files(list(reversed(paths)), keyring, jobs=jobs)
    assert [t["index"] for t in trees] == list(range(39, -1, -1))
    assert trees[0]["value"] == f"{CANARY}-39"


def test_a_tampered_file_fails_the_call_with_integrity_error(repo: Path, keyring) -> None:
    paths = make_files(repo, keyring, 40)
    text = paths[7].read_text()
    paths[7].write_text(text.replace("index: ENC[AES256_GCM,data:", "index: ENC[AES256_GCM,data:AA", 1))
    with pytest.raises(IntegrityError) as info:
        decrypt_files(paths, keyring, jobs=2)
    assert "f007.yaml" in str(info.value)
    assert CANARY not in str(info.value)

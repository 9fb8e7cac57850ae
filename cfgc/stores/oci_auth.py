"""Registry credentials from the docker config, the way docker finds them.

``$DOCKER_CONFIG/config.json`` (else ``~/.docker/config.json``) is read with
docker's precedence:

1. ``credHelpers[host]`` - run ``docker-credential-<name> get``;
2. else ``credsStore`` - the helper for every other host (``auths`` is then not
   read, as in docker);
3. else ``auths[host]`` - ``auth`` (base64 ``user:password``), ``username`` +
   ``password``, or ``identitytoken``.

A helper is run with the host on stdin and must print
``{"ServerURL", "Username", "Secret"}``; "credentials not found" means no
credentials, anything else is an error.  Its stderr and stdout are never
shown (they may hold secrets); errors name the helper and its exit status.
``Username: "<token>"`` marks ``Secret`` as an identity (OAuth2 refresh) token.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfgc.base.bounded_read import read_file
from cfgc.base.errors import ExternalError, InputError

HELPER_TIMEOUT = 30.0  # seconds for one `docker-credential-<name> get` (cloud helpers call an API)
HELPER_MAX_OUTPUT = 64 * 1024  # bytes of helper stdout accepted
IDENTITY_TOKEN_USER = "<token>"
_HELPER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Credentials:
    """A user name and its secret (password or identity token); the secret never appears in repr."""

    username: str
    secret: str = field(repr=False)

    @property
    def identity_token(self) -> str | None:
        """The OAuth2 refresh token, when the secret is one (docker's ``<token>`` user name)."""
        return self.secret if self.username == IDENTITY_TOKEN_USER else None


def _config() -> dict[str, Any]:
    cfg_dir = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    try:
        value = json.loads(read_file(Path(cfg_dir) / "config.json"))
    except (OSError, ValueError, InputError):
        return {}
    return value if isinstance(value, dict) else {}


def _host_of(key: str) -> str:
    return re.sub(r"^https?://", "", key).split("/", 1)[0]


def docker_credentials(host: str) -> Credentials | None:
    """Credentials for ``host`` (``name[:port]``) from the docker config; None when it has none."""
    cfg = _config()
    helpers = cfg.get("credHelpers")
    if isinstance(helpers, dict) and isinstance(helpers.get(host), str):
        return helper_get(helpers[host], host)
    if isinstance(cfg.get("credsStore"), str) and cfg["credsStore"]:
        return helper_get(cfg["credsStore"], host)  # as docker: the store replaces `auths`
    auths = cfg.get("auths")
    for key, entry in (auths.items() if isinstance(auths, dict) else ()):
        if _host_of(str(key)) == host and isinstance(entry, dict):
            creds = _from_auths_entry(entry)
            if creds is not None:
                return creds
    return None


def _from_auths_entry(entry: dict[str, Any]) -> Credentials | None:
    if entry.get("identitytoken"):
        return Credentials(IDENTITY_TOKEN_USER, str(entry["identitytoken"]))
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(str(entry["auth"])).decode("utf-8").partition(":")
        except ValueError:
            raise ExternalError("docker config: an `auths` entry is not base64 user:password") from None
        return Credentials(user, password)
    if entry.get("username"):
        return Credentials(str(entry["username"]), str(entry.get("password") or ""))
    return None


def helper_get(name: str, host: str) -> Credentials | None:
    """Ask ``docker-credential-<name>`` for ``host``'s credentials; None for "credentials not found"."""
    if not _HELPER_NAME.match(name):
        raise ExternalError(f"docker config: credential helper name {name!r} is not a plain name")
    exe = f"docker-credential-{name}"
    try:
        proc = subprocess.run([exe, "get"], input=host.encode(), capture_output=True,
                              timeout=HELPER_TIMEOUT, check=False)
    except FileNotFoundError:
        raise ExternalError(f"credential helper {exe} (from the docker config) is not on PATH") from None
    except subprocess.TimeoutExpired:
        raise ExternalError(f"credential helper {exe} did not answer in {HELPER_TIMEOUT:.0f} s") from None
    except OSError as e:
        raise ExternalError(f"credential helper {exe} could not run: {e.strerror}") from None
    out = proc.stdout[:HELPER_MAX_OUTPUT + 1]
    if proc.returncode != 0:
        # Helpers say "credentials not found in native keychain" on stdout (docker's
        # credentials.ErrCredentialsNotFound); other output is never shown as it may hold secrets.
        if b"credentials not found" in out.lower() or b"credentials not found" in proc.stderr.lower():
            return None
        raise ExternalError(f"credential helper {exe} failed for {host} (exit {proc.returncode}; "
                            "its output is not shown because it may contain secrets)")
    try:
        if len(out) > HELPER_MAX_OUTPUT:
            raise ValueError("too long")
        value = json.loads(out)
        user, secret = value["Username"], value["Secret"]
        if not isinstance(user, str) or not isinstance(secret, str):
            raise ValueError("not strings")
    except (ValueError, KeyError, TypeError):
        raise ExternalError(f"credential helper {exe} answered {host} with something other than "
                            '{"Username", "Secret"} JSON (not shown)') from None
    return Credentials(user, secret) if user or secret else None

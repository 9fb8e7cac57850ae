"""A minimal OCI distribution API client over ``urllib`` (no third-party HTTP library).

Plain HTTP is used for loopback registries automatically and elsewhere only
when asked (``--plain-http``).  Credentials: explicit username/password, else
the ``auths`` entry for the host in the docker config
(``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``).  Basic and
bearer-token (``WWW-Authenticate: Bearer realm=...``) challenges are answered.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from cfgc.errors import ExternalError, UsageError

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
TIMEOUT = 30.0
READ_RETRIES = (0.05, 0.2, 0.5)


@dataclass(frozen=True)
class Response:
    """Status, headers and body of one HTTP exchange."""

    status: int
    headers: Message
    body: bytes = field(repr=False)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


class _NoRedirectForWrites(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if req.get_method() not in ("GET", "HEAD"):
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def docker_credentials(host: str) -> tuple[str, str] | None:
    """Username and password for ``host`` from the docker config, if any."""
    cfg_dir = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    try:
        cfg = json.loads((Path(cfg_dir) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    for key, entry in (cfg.get("auths") or {}).items():
        name = re.sub(r"^https?://", "", str(key)).split("/", 1)[0]
        if name == host and isinstance(entry, dict) and entry.get("auth"):
            user, _, password = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
            return user, password
    return None


class Registry:
    """One registry host, with credentials and a cached bearer token."""

    def __init__(self, host: str, plain_http: bool = False, username: str | None = None,
                 password: str | None = None) -> None:
        self.host = host
        hostname = urllib.parse.urlsplit(f"//{host}").hostname or host
        self.scheme = "http" if plain_http or hostname in LOOPBACK else "https"
        if username is not None:
            self.creds: tuple[str, str] | None = (username, password or "")
        else:
            self.creds = docker_credentials(host)
        self._auth: str | None = None
        self._opener = urllib.request.build_opener(_NoRedirectForWrites())

    def url(self, path: str) -> str:
        return path if "://" in path else f"{self.scheme}://{self.host}{path}"

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, max_bytes: int | None = None) -> Response:
        """Send a request (answering one auth challenge); ExternalError if the registry is unreachable.

        With ``max_bytes`` the response body is streamed and read at most
        ``max_bytes`` + 1 bytes: a longer body means the object is too large.
        """
        resp = self._send(method, path, body, headers or {}, max_bytes)
        if resp.status == 401 and self._answer(resp.header("WWW-Authenticate") or ""):
            resp = self._send(method, path, body, headers or {}, max_bytes)
        for delay in READ_RETRIES if method in ("GET", "HEAD") else ():
            # A registry may answer 5xx for a tag that is being rewritten (distribution reads the tag
            # link while another request replaces it); reads are safe to repeat.
            if resp.status < 500:
                break
            time.sleep(delay)
            resp = self._send(method, path, body, headers or {}, max_bytes)
        if resp.status in (401, 403):
            raise ExternalError(f"registry {self.host} refused {method} {path}: HTTP {resp.status} "
                                "(check credentials: docker login, or --username/--password-stdin)")
        if resp.status >= 500:
            raise ExternalError(f"registry {self.host} failed {method} {path}: HTTP {resp.status}")
        return resp

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str],
              max_bytes: int | None = None) -> Response:
        amt = None if max_bytes is None else max_bytes + 1
        req = urllib.request.Request(self.url(path), data=body, method=method, headers=dict(headers))
        if self._auth:
            req.add_header("Authorization", self._auth)
        try:
            with self._opener.open(req, timeout=TIMEOUT) as r:
                return Response(r.status, r.headers, _read(r, amt))
        except urllib.error.HTTPError as e:
            return Response(e.code, e.headers, _read(e, amt) if e.fp else b"")
        except urllib.error.URLError as e:
            reason = getattr(e.reason, "strerror", None) or str(e.reason)
            hint = " (a TLS registry? plain HTTP is used only for loopback or with --plain-http)" \
                if "SSL" in str(e.reason) or "ssl" in str(e.reason) else ""
            raise ExternalError(f"registry {self.host} is unreachable: {reason}{hint}") from None
        except (TimeoutError, ConnectionError, OSError) as e:
            raise ExternalError(f"registry {self.host} is unreachable: {e}") from None

    def _answer(self, challenge: str) -> bool:
        """Set the Authorization header for a challenge; False if we cannot answer it."""
        if self.creds is None and not challenge.lower().startswith("bearer"):
            return False
        basic = "Basic " + base64.b64encode(":".join(self.creds).encode()).decode() if self.creds else None
        if challenge.lower().startswith("basic"):
            self._auth = basic
            return basic is not None
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        if "realm" not in params:
            return False
        query = urllib.parse.urlencode({k: v for k, v in params.items() if k in ("service", "scope")})
        req = urllib.request.Request(f"{params['realm']}?{query}")
        if basic:
            req.add_header("Authorization", basic)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
                data = json.loads(r.read())
        except (urllib.error.URLError, ValueError, OSError) as e:
            raise ExternalError(f"registry {self.host}: token request to {params['realm']} failed: {e}") from None
        token = data.get("token") or data.get("access_token")
        self._auth = f"Bearer {token}" if token else None
        return bool(token)


def _read(r: Any, amt: int | None) -> bytes:
    """The whole body, or its first ``amt`` bytes (short reads repeated)."""
    if amt is None:
        return bytes(r.read())
    parts: list[bytes] = []
    while amt > 0 and (chunk := r.read(min(amt, 1 << 20))):
        parts.append(chunk)
        amt -= len(chunk)
    return b"".join(parts)


def parse_oci_url(url: str) -> tuple[str, str]:
    """``oci://host[:port]/repository`` -> (host, repository)."""
    rest = url.removeprefix("oci://")
    host, _, repo = rest.partition("/")
    if not host or not repo or not re.match(r"^[a-z0-9]+([._/-][a-z0-9]+)*$", repo):
        raise UsageError(f"bad OCI URL {url!r}: expected oci://host[:port]/repository (lower-case repository)")
    return host, repo

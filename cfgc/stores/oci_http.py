"""An OCI distribution API client over urllib3 (pooled connections, explicit timeouts).

Plain HTTP is used for loopback registries automatically and elsewhere only
when asked (``--plain-http``).  Credentials: explicit username/password, else
the docker config (see :mod:`cfgc.stores.oci_auth`), looked up only when the
registry first asks for them.  Basic and bearer-token
(``WWW-Authenticate: Bearer realm=...``) challenges are answered.

Credentials never leave the registry's origin (scheme, host, port): redirects
are followed here, not by urllib3, at most ``MAX_REDIRECTS`` times, only for
GET/HEAD and only to http(s) (never from https down to http); a request to
another origin - a redirect target such as S3 or a CDN, or an upload
``Location`` elsewhere - carries no Authorization and no caller header but
``Accept``.  No cookies are ever stored or sent.  Only the token realm the
registry names receives the user name and password (as in docker).
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

import urllib3

from cfgc.base.errors import ExternalError, IntegrityError, UsageError
from cfgc.stores.bounds import REPLY_MAX
from cfgc.stores.oci_auth import Credentials, docker_credentials

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Connect: establishing TCP+TLS; read: the longest silence between two received
# packets (not the whole transfer, so big blobs on slow links still finish).
TIMEOUT = urllib3.Timeout(connect=10.0, read=60.0)
MAX_REDIRECTS = 5
POOL_SIZE = 4  # connections kept per origin (cfgc talks to one registry, one request at a time)
TOKEN_MAX_BYTES = 1024 * 1024  # a token response larger than this is refused
READ_RETRIES = (0.05, 0.2, 0.5)
_REDIRECTS = {301, 302, 303, 307, 308}
_CROSS_ORIGIN_HEADERS = {"accept"}  # the only caller headers sent to another origin
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Response:
    """Status, headers and body of one HTTP exchange."""

    status: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)
    url: str = ""  # where the answer came from (after redirects)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


class BodyTooLarge(IntegrityError):
    """A response body was longer than the caller's ``max_bytes``: exit 5, nothing kept."""


def _origin(url: str) -> tuple[str, str, int]:
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


class Registry:
    """One registry host, with credentials, a cached bearer token and a connection pool."""

    def __init__(self, host: str, plain_http: bool = False, username: str | None = None,
                 password: str | None = None, timeout: urllib3.Timeout = TIMEOUT) -> None:
        self.host = host
        hostname = urllib.parse.urlsplit(f"//{host}").hostname or host
        self.scheme = "http" if plain_http or hostname in LOOPBACK else "https"
        self._explicit = Credentials(username, password or "") if username is not None else None
        self._looked_up = self._explicit is not None
        self._creds = self._explicit
        self._auth: str | None = None
        self.timeout = timeout
        self._pools: dict[str, urllib3.PoolManager] = {}

    def forget_connections(self) -> None:
        """Drop the pooled connections without a word to their peers (a forked child calls this).

        After a fork both processes hold the same sockets, and a TLS connection's state lives in
        each process's memory: a child that used one would leave the parent's copy out of step
        (its next request fails on a bad record MAC), and an HTTP exchange cut short would leave
        a response for the other process to read.  Closing here closes only this process's
        descriptors; TLS is not shut down (Python's SSLSocket.close sends no close_notify).
        """
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            pool.clear()

    @property
    def creds(self) -> Credentials | None:
        """The credentials in use; the docker config is read (helpers run) on first use."""
        if not self._looked_up:
            self._creds = docker_credentials(self.host)
            self._looked_up = True
        return self._creds

    def url(self, path: str) -> str:
        return path if "://" in path else f"{self.scheme}://{self.host}{path}"

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, max_bytes: int | None = None) -> Response:
        """Send a request (answering one auth challenge); ExternalError if the registry is unreachable.

        ``max_bytes`` bounds the body read: a longer (or longer-announced) body
        raises :class:`BodyTooLarge` after reading at most ``max_bytes + 1`` bytes.
        """
        resp = self._send(method, path, body, headers or {}, max_bytes)
        # Only the registry itself may ask for credentials: a redirect target (a CDN) that answers
        # 401 with its own realm must not receive them.
        own = _origin(resp.url) == _origin(self.url("/"))
        if resp.status == 401 and own and self._answer(resp.header("WWW-Authenticate") or ""):
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
              max_bytes: int | None) -> Response:
        home = _origin(self.url("/"))
        url = self.url(path)
        for _ in range(MAX_REDIRECTS + 1):
            here = _origin(url)
            if here[0] not in ("http", "https"):
                raise ExternalError(f"registry {self.host}: refusing to follow a redirect to a {here[0]!r} URL")
            if here == home:
                sent = dict(headers)
                if self._auth:
                    sent["Authorization"] = self._auth
            else:  # another origin gets no credential and no header that could carry one
                sent = {k: v for k, v in headers.items() if k.lower() in _CROSS_ORIGIN_HEADERS}
            resp = self._exchange(method, url, body, sent, max_bytes)
            location = resp.header("Location")
            if resp.status not in _REDIRECTS or method not in ("GET", "HEAD") or not location:
                return resp
            target = urllib.parse.urljoin(url, location)
            if here[0] == "https" and _origin(target)[0] == "http":
                raise ExternalError(f"registry {self.host}: refusing a redirect from HTTPS to plain HTTP")
            url = target
        raise ExternalError(f"registry {self.host}: more than {MAX_REDIRECTS} redirects for {method} {path}")

    def _pool(self, url: str) -> urllib3.PoolManager:
        """A pool per proxy setting; the environment's HTTP(S)_PROXY / NO_PROXY apply as with urllib."""
        parts = urllib.parse.urlsplit(url)
        proxy = urllib.request.getproxies().get(parts.scheme)
        if proxy and urllib.request.proxy_bypass(parts.hostname or ""):
            proxy = None
        key = proxy or ""
        if key not in self._pools:
            self._pools[key] = (
                urllib3.ProxyManager(proxy, num_pools=8, maxsize=POOL_SIZE, timeout=self.timeout, retries=False)
                if proxy else
                urllib3.PoolManager(num_pools=8, maxsize=POOL_SIZE, timeout=self.timeout, retries=False))
        return self._pools[key]

    def _exchange(self, method: str, url: str, body: bytes | None, headers: dict[str, str],
                  max_bytes: int | None) -> Response:
        pool = self._pool(url)
        try:
            try:
                r = pool.request(method, url, body=body, headers=headers, redirect=False,
                                 preload_content=False, decode_content=False)
            except (urllib3.exceptions.ProtocolError, ConnectionError) as e:
                # A pooled keep-alive connection the server closed while idle: reads are safe to
                # repeat once, on a fresh connection (urllib3's own retries would log the URL).
                if method not in ("GET", "HEAD") or isinstance(e, urllib3.exceptions.SSLError):
                    raise
                r = pool.request(method, url, body=body, headers=headers, redirect=False,
                                 preload_content=False, decode_content=False)
        except urllib3.exceptions.SSLError as e:
            raise ExternalError(f"registry {self.host} is unreachable: TLS failed ({_reason(e)}) (a TLS "
                                "registry? plain HTTP is used only for loopback or with --plain-http)") from None
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise ExternalError(f"registry {self.host} is unreachable: {_reason(e)}") from None
        try:
            data = _read(r, max_bytes, url) if method != "HEAD" else b""
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise ExternalError(f"registry {self.host}: reading the answer failed: {_reason(e)}") from None
        finally:
            r.release_conn()
        return Response(r.status, r.headers, data, url)

    def _answer(self, challenge: str) -> bool:
        """Set the Authorization header for a challenge; False if we cannot answer it."""
        creds = self.creds
        if challenge.lower().startswith("basic"):
            if creds is None or creds.identity_token:
                return False
            self._auth = "Basic " + _basic(creds)
            return True
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        if not challenge.lower().startswith("bearer") or "realm" not in params:
            return False
        token = self._token(params, creds)
        self._auth = f"Bearer {token}" if token else None
        return bool(token)

    def _token(self, params: dict[str, str], creds: Credentials | None) -> str | None:
        realm = params["realm"]
        scheme = urllib.parse.urlsplit(realm).scheme
        if scheme not in ("http", "https") or (scheme == "http" and self.scheme == "https"):
            raise ExternalError(f"registry {self.host}: refusing token realm {realm!r} (must be https)")
        scope = {k: v for k, v in params.items() if k in ("service", "scope")}
        if creds is not None and creds.identity_token:
            # OAuth2 refresh-token grant, as docker does for an identity token.
            form = {**scope, "grant_type": "refresh_token", "refresh_token": creds.identity_token,
                    "client_id": "cfgc"}
            method, url, body = "POST", realm, urllib.parse.urlencode(form).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        else:
            method, url, body = "GET", f"{realm}?{urllib.parse.urlencode(scope)}", None
            headers = {"Authorization": "Basic " + _basic(creds)} if creds else {}
        try:
            r = self._exchange(method, url, body, headers, TOKEN_MAX_BYTES)
        except ExternalError as e:  # the realm is a different service: name it
            raise ExternalError(f"registry {self.host}: token request to {realm} failed: {e.message}") from None
        if r.status != 200:
            raise ExternalError(f"registry {self.host}: token request to {realm} failed: HTTP {r.status}")
        try:
            data = json.loads(r.body)
            token = data.get("token") or data.get("access_token")
        except (ValueError, AttributeError):
            raise ExternalError(f"registry {self.host}: token request to {realm} returned no JSON") from None
        return str(token) if token else None


def _basic(creds: Credentials) -> str:
    return base64.b64encode(f"{creds.username}:{creds.secret}".encode()).decode()


def _read(r: urllib3.BaseHTTPResponse, max_bytes: int | None, url: str) -> bytes:
    """The body, or BodyTooLarge once more than ``max_bytes`` arrive (the connection is then dropped)."""
    if max_bytes is None:
        max_bytes = REPLY_MAX
    declared = r.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        r.close()
        raise BodyTooLarge(f"{_safe_url(url)} announces {declared} bytes, more than the limit of {max_bytes}")
    chunks, total = [], 0
    for chunk in r.stream(_CHUNK):
        chunks.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            r.close()
            raise BodyTooLarge(f"{_safe_url(url)} sent more than the limit of {max_bytes} bytes")
    return b"".join(chunks)


def _safe_url(url: str) -> str:
    """``url`` without query or user info (pre-signed redirect URLs carry credentials in the query)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}{parts.path}"


def _reason(e: BaseException) -> str:
    # urllib3 wraps the socket error; its text names the pool object and URL, the innermost one does not.
    inner: BaseException = e
    while isinstance(reason := getattr(inner, "reason", None), BaseException):
        inner = reason
    for text in (getattr(inner, "strerror", None), getattr(e, "strerror", None)):
        if text:
            return str(text)
    msg = str(inner)
    m = re.search(r"\[Errno -?\d+\] ([^')\]]+)", msg)
    return m.group(1) if m else msg.split(": ", 1)[-1][:200]


def parse_oci_url(url: str) -> tuple[str, str]:
    """``oci://host[:port]/repository`` -> (host, repository)."""
    rest = url.removeprefix("oci://")
    host, _, repo = rest.partition("/")
    if not host or not repo or not re.match(r"^[a-z0-9]+([._/-][a-z0-9]+)*$", repo):
        raise UsageError(f"bad OCI URL {url!r}: expected oci://host[:port]/repository (lower-case repository)")
    return host, repo

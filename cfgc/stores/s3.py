"""A bundle store in S3 (or an S3-compatible service): ``s3://bucket/prefix``.

Same layout as the file store below the prefix.  Credentials, region and
endpoint come from the standard AWS environment (``AWS_ENDPOINT_URL_S3``,
``AWS_PROFILE``, ...).  Writes are conditional, so concurrent publishers
cannot overwrite each other: blobs and versions with ``IfNoneMatch='*'``
(create-only), channels with ``IfMatch=<etag>`` (or ``IfNoneMatch='*'`` for a
new channel).  A PUT is atomic, so an interrupted upload leaves nothing.
"""

from __future__ import annotations

from typing import Any

from cfgc.base.awserrors import describe as describe_aws
from cfgc.base.errors import ExternalError, IntegrityError
from cfgc.stores.base import (
    ChannelRead,
    ConflictError,
    check_channel,
    check_version,
    digest_hex,
    verified,
)
from cfgc.stores.bounds import (
    MANIFEST_MAX,
    POINTER_MAX,
    SIGNATURES_MAX,
    VERSION_MAX,
    read_capped,
    too_large,
)

_GONE = {"NoSuchKey", "404", "NotFound"}


def _bounded_client(timeout: float) -> Any:
    import boto3
    from botocore.config import Config

    cfg = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 2, "mode": "standard"})
    return boto3.client("s3", config=cfg)


class S3Store:
    """Store bundles below ``s3://bucket/prefix``."""

    def __init__(self, bucket: str, prefix: str, client: Any = None, timeout: float | None = None) -> None:
        """``timeout``: connect and read timeout in seconds, two attempts (a runtime's bounded client)."""
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = client if client is not None or timeout is None else _bounded_client(timeout)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client

    def forget_connections(self) -> None:
        """Drop botocore's pooled connections (see Store.forget_connections); the client stays."""
        if self._client is not None:
            session = getattr(getattr(self._client, "_endpoint", None), "http_session", None)
            if session is not None:
                session.close()  # URLLib3Session.close: clears its pools; they refill on use

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def _call(self, op: str, **kw: Any) -> Any:
        """Call the S3 API, mapping failures to cfgc errors (None for a missing key)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client(), op)(Bucket=self.bucket, **kw)
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _GONE:
                return None
            if code in ("PreconditionFailed", "412") or status == 412:
                raise ConflictError(f"{self.url}: conditional {op} lost a race") from None
            if code in ("304", "NotModified") or status == 304:
                return {"NotModified": True}
            raise ExternalError(f"S3 {op} on {self.url} failed: {describe_aws(e)}") from None
        except BotoCoreError as e:
            raise ExternalError(f"S3 {op} on {self.url} failed: {describe_aws(e)}") from None

    def _get(self, key: str, limit: int, **kw: Any) -> tuple[bytes | None, str | None]:
        """An object's bytes and ETag; the body is streamed and read at most ``limit`` + 1 bytes."""
        r = self._call("get_object", Key=key, **kw)
        if r is None:
            return None, None
        if r.get("NotModified"):
            return None, kw.get("IfNoneMatch")
        body = r["Body"]
        what = f"s3://{self.bucket}/{key}"
        try:
            if int(r.get("ContentLength") or 0) > limit:
                raise too_large(what, limit)
            data = read_capped(body.read, limit, what)
        finally:
            body.close()
        return data, r.get("ETag")

    def _create(self, key: str, data: bytes) -> bool:
        try:
            self._call("put_object", Key=key, Body=data, IfNoneMatch="*")
            return True
        except ConflictError:
            return False

    # -- blobs -------------------------------------------------------------
    def _blob_key(self, digest: str) -> str:
        return self._key("blobs", "sha256", digest_hex(digest))

    def has_blob(self, digest: str) -> bool:
        return self._call("head_object", Key=self._blob_key(digest)) is not None

    def put_blob(self, digest: str, data: bytes) -> None:
        self._create(self._blob_key(digest), verified(digest, data, "the upload"))

    def get_blob(self, digest: str, max_bytes: int = MANIFEST_MAX) -> bytes:
        data, _ = self._get(self._blob_key(digest), max_bytes)
        if data is None:
            raise IntegrityError(f"blob {digest} is missing from {self.url}")
        return verified(digest, data, self.url)

    # -- versions ----------------------------------------------------------
    def get_version(self, version: str) -> bytes | None:
        return self._get(self._key("versions", f"{check_version(version)}.json"), VERSION_MAX)[0]

    def put_version(self, version: str, doc: bytes) -> bool:
        key = self._key("versions", f"{check_version(version)}.json")
        if self._create(key, doc):
            return True
        if self._get(key, VERSION_MAX)[0] != doc:
            raise IntegrityError(f"version {version} already exists in {self.url} with other content; not replaced")
        return False

    def _list(self, folder: str) -> list[str]:
        prefix = self._key(folder) + "/"
        names: list[str] = []
        token: dict[str, str] = {}
        while True:
            r = self._call("list_objects_v2", Prefix=prefix, **token) or {}
            names += [o["Key"][len(prefix):].removesuffix(".json") for o in r.get("Contents", [])]
            if not r.get("IsTruncated"):
                return sorted(n for n in names if "/" not in n)
            token = {"ContinuationToken": r["NextContinuationToken"]}

    def list_versions(self) -> list[str]:
        return self._list("versions")

    def get_signatures(self, version: str) -> bytes | None:
        return self._get(self._key("signatures", f"{check_version(version)}.json"), SIGNATURES_MAX)[0]

    def put_signatures(self, version: str, doc: bytes, version_doc: bytes) -> None:
        self._call("put_object", Key=self._key("signatures", f"{check_version(version)}.json"), Body=doc)

    # -- channels ----------------------------------------------------------
    def get_channel(self, name: str, etag: str | None = None) -> ChannelRead:
        kw = {"IfNoneMatch": etag} if etag else {}
        data, tag = self._get(self._key("channels", f"{check_channel(name)}.json"), POINTER_MAX, **kw)
        if data is None and tag is not None:
            return ChannelRead(None, tag, not_modified=True)
        return ChannelRead(data, tag)

    def put_channel(self, name: str, doc: bytes, if_match: str | None, version_doc: bytes) -> None:
        cond = {"IfMatch": if_match} if if_match else {"IfNoneMatch": "*"}
        key = self._key("channels", f"{check_channel(name)}.json")
        try:
            # IfMatch on a key that was deleted meanwhile answers 404, which _call maps to None.
            ok = self._call("put_object", Key=key, Body=doc, ContentType="application/json", **cond)
        except ConflictError:
            ok = None
        if ok is None:
            raise ConflictError(f"channel {name} changed in {self.url} while it was being updated")

    def list_channels(self) -> list[str]:
        return self._list("channels")

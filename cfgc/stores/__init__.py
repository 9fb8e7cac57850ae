"""Bundle stores: where ``cfgc publish`` puts bundles and readers pull them from.

``open_store(url)`` gives a :class:`~cfgc.stores.base.Store` for
``file:///abs/path``, ``s3://bucket/prefix`` or ``oci://host[:port]/repository``.

May import: cfgc.base, cfgc.repo, cfgc.secrets, cfgc.compile, cfgc.bundle; never cfgc.review.
"""

from __future__ import annotations

from pathlib import Path

from cfgc.base.errors import UsageError
from cfgc.stores.base import ChannelRead, ConflictError, Store

__all__ = ["ChannelRead", "ConflictError", "Store", "open_store"]


def open_store(url: str, plain_http: bool = False, username: str | None = None,
               password: str | None = None, must_exist: bool = False, *, s3_timeout: float | None = None) -> Store:
    """The store a URL names; ``must_exist`` for readers (a missing file store is then exit 4).

    ``s3_timeout`` bounds an S3 store's connect and read timeouts (two attempts per call).
    """
    if url.startswith("file://"):
        path = url.removeprefix("file://")
        if not path.startswith("/"):
            raise UsageError(f"file store URLs are absolute: file:///abs/path, not {url!r}")
        from cfgc.stores.file import FileStore

        return FileStore(Path(path), must_exist)
    if url.startswith("s3://"):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if len(bucket) < 3:
            raise UsageError(f"bad S3 URL {url!r}: expected s3://bucket/prefix")
        from cfgc.stores.s3 import S3Store

        return S3Store(bucket, prefix, timeout=s3_timeout)
    if url.startswith("oci://"):
        from cfgc.stores.oci import OciStore
        from cfgc.stores.oci_http import Registry, parse_oci_url

        host, repo = parse_oci_url(url)
        return OciStore(Registry(host, plain_http, username, password), repo)
    raise UsageError(f"unknown store URL {url!r}: use file:///abs/path, s3://bucket/prefix or oci://host/repository")

"""The publishing half of the public API: publish, promote, refresh channels, list versions.

A store is a URL (``file:///abs``, ``s3://bucket/prefix``, ``oci://host/repository``;
``plain_http``, ``username`` and ``password`` are for OCI) or a store
:func:`open_store` opened.  Channel pointers are signed with ``keys``
(ed25519 private key files) or ``kms_keys`` (AWS KMS ARNs).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cfgc.bundle.signing import Signer
    from cfgc.stores import Store
    from cfgc.stores.publish import ChannelMove, PointerTerms, PublishReport, VersionRow

PathArg = str | os.PathLike[str]
DEFAULT_EXPIRES = "7d"  # --expires: a weekly `cfgc channel refresh` leaves a day of slack


def open_store(url: str, *, plain_http: bool = False, username: str | None = None, password: str | None = None,
               must_exist: bool = False) -> Store:
    """The store ``url`` names.

    ``must_exist`` is for readers: a file store that does not exist is then an
    :class:`~cfgc.base.errors.ExternalError` (exit 4) rather than an empty one
    the first write creates.  ``password`` is never shown in any message.
    """
    from cfgc.stores import open_store as open_url

    return open_url(url, plain_http=plain_http, username=username, password=password, must_exist=must_exist)


def _store(store: str | Store, plain_http: bool, username: str | None, password: str | None,
           must_exist: bool) -> Store:
    if not isinstance(store, str):
        return store
    return open_store(store, plain_http=plain_http, username=username, password=password, must_exist=must_exist)


def _signers(keys: Sequence[PathArg], kms_keys: Sequence[str]) -> list[Signer]:
    from cfgc.bundle.signing import signers_from

    return signers_from([Path(k) for k in keys], kms_keys)


def _terms(repository: str | None, expires: str) -> PointerTerms:
    from cfgc.stores.pointer import check_repository, parse_duration
    from cfgc.stores.publish import PointerTerms

    return PointerTerms(check_repository(repository) if repository else None, parse_duration(expires))


def publish(bundle: PathArg, to: str | Store, *, channel: str | None = None, keys: Sequence[PathArg] = (),
            kms_keys: Sequence[str] = (), repository: str | None = None, expires: str = DEFAULT_EXPIRES,
            flux: bool = False, dry_run: bool = False, plain_http: bool = False, username: str | None = None,
            password: str | None = None) -> PublishReport:
    """Publish the bundle directory ``bundle`` to store ``to``: content-addressed, only what is missing.

    The version id is the first 12 hex digits of the manifest digest; a
    version is never overwritten.  With ``channel`` (which needs ``keys`` or
    ``kms_keys``) the channel's signed pointer moves to the version; it names
    ``repository`` (default: the channel's current one, else the store's
    other channels', else a new random one) and expires after ``expires``
    (``60s``..``366d``).  ``flux`` also stores a Flux content layer.
    ``dry_run`` writes nothing and reports what would be uploaded.
    """
    from cfgc.stores.publish import publish as publish_bundle

    signers = _signers(keys, kms_keys) if (keys or kms_keys) else None
    terms = _terms(repository, expires)
    store = _store(to, plain_http, username, password, must_exist=False)
    return publish_bundle(store, Path(bundle), channel, signers, dry_run, terms, flux)


def promote(to: str | Store, channel: str, version: str, *, keys: Sequence[PathArg] = (),
            kms_keys: Sequence[str] = (), repository: str | None = None, expires: str = DEFAULT_EXPIRES,
            dry_run: bool = False, plain_http: bool = False, username: str | None = None,
            password: str | None = None) -> ChannelMove:
    """Move ``channel`` to the published ``version``; a rollback is a promote to an older version.

    The new pointer is signed and its serial is one more than the current
    one's, even when going back, so runtimes refuse replayed pointers.  The
    store must exist (a promote needs a published version).
    """
    from cfgc.stores.publish import promote as move

    store = _store(to, plain_http, username, password, must_exist=True)
    terms = _terms(repository, expires)
    return move(store, channel, version, _signers(keys, kms_keys), dry_run, terms)


def refresh_channel(to: str | Store, channel: str, *, keys: Sequence[PathArg] = (), kms_keys: Sequence[str] = (),
                    repository: str | None = None, expires: str = DEFAULT_EXPIRES, dry_run: bool = False,
                    plain_http: bool = False, username: str | None = None,
                    password: str | None = None) -> ChannelMove:
    """Re-sign ``channel``'s pointer: same version, serial + 1, a new expiry (``cfgc channel refresh``)."""
    from cfgc.stores.publish import refresh_channel as refresh

    store = _store(to, plain_http, username, password, must_exist=True)
    return refresh(store, channel, _signers(keys, kms_keys), _terms(repository, expires), dry_run)


def list_versions(source: str | Store, *, plain_http: bool = False, username: str | None = None,
                  password: str | None = None) -> tuple[VersionRow, ...]:
    """Every version in a store, newest first, with its commit, time, signature and the channels at it."""
    from cfgc.stores.publish import list_versions as rows

    return tuple(rows(_store(source, plain_http, username, password, must_exist=True)))

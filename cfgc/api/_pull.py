"""The runtime half of the public API: pull a published version or one target."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cfgc.api._results import PullResult
from cfgc.base.jsonvalue import JSONValue

if TYPE_CHECKING:
    from cfgc.bundle.signing import Verifier
    from cfgc.runtime.freshness import PointerPolicy
    from cfgc.stores import Store

PathArg = str | os.PathLike[str]


def pull(source: str | Store, ref: str, *, out: PathArg | None = None, target: str | None = None,
         keys: Sequence[PathArg] = (), kms_keys: Sequence[str] = (), plain_http: bool = False,
         username: str | None = None, password: str | None = None, cache_dir: PathArg | None = None,
         decrypt: bool = True, age_key_file: str | None = None, repository: str | None = None,
         state_file: PathArg | None = None, min_serial: int = 0, allow_expired: bool = False,
         on_written: Callable[[PullResult], None] | None = None) -> PullResult:
    """Fetch version or channel ``ref`` from a store, verified; write it to ``out``, read ``target``, or both.

    ``source`` is a store URL (``file:///abs``, ``s3://bucket/prefix``,
    ``oci://host/repository``; ``plain_http``, ``username`` and ``password``
    are for OCI) or an opened :class:`~cfgc.stores.Store`.  With ``keys`` /
    ``kms_keys`` the channel pointer and bundle signatures are verified and the
    pointer must pass the runtime's freshness policy (``repository``,
    ``state_file``, ``min_serial``, ``allow_expired``; see docs/runtime.md).

    ``target`` needs keys: its value comes through the runtime (only its files
    downloaded, cached in ``cache_dir``, secrets decrypted with this machine's
    identity unless ``decrypt`` is False).  When the source is unreachable and
    ``cache_dir`` holds a verified version, that version is returned with
    ``warning`` set.  ``on_written`` is called once the bundle is in ``out``,
    before ``target`` is read.  Verification failures raise
    :class:`~cfgc.base.errors.IntegrityError` and change nothing on disk.
    """
    from cfgc.base.errors import UsageError
    from cfgc.bundle.signing import verifiers_from
    from cfgc.runtime.freshness import runtime_policy
    from cfgc.stores import open_store

    if out is None and target is None:
        raise UsageError("give --target TARGET (print it as JSON) or --out DIR (write the bundle), or both")
    paths = [Path(k) for k in keys]
    verifiers = verifiers_from(paths, kms_keys) if (paths or kms_keys) else None
    store = source if not isinstance(source, str) else open_store(
        source, plain_http=plain_http, username=username, password=password, must_exist=True)
    policy = runtime_policy(store.url, repository, state_file, min_serial, allow_expired)
    result = PullResult(version="")
    if out is not None:
        result = PullResult(_pull_bundle(store, verifiers, policy, ref, Path(out)), Path(out), verifiers is not None)
        if on_written is not None:
            on_written(result)
    if target is not None:
        if verifiers is None:
            raise UsageError("--target needs --key (or --kms-key): the runtime accepts only signed versions")
        version, value, warning = _pull_target(store, verifiers, policy, ref, target,
                                               _path(cache_dir), age_key_file, decrypt)
        result = PullResult(version, result.out, True, target, value, warning)
    return result


def _path(p: PathArg | None) -> Path | None:
    return None if p is None else Path(p)


def _pull_bundle(store: Store, verifiers: list[Verifier] | None, policy: PointerPolicy, ref: str,
                 out: Path) -> str:
    from cfgc.stores.pointer import Pointer
    from cfgc.stores.reader import BundleReader

    accepted: list[Pointer] = []

    def accept(p: Pointer) -> None:
        policy.check(p)
        accepted.append(p)

    # Without keys the pointer is not verified, so its serial proves nothing: nothing is checked or recorded.
    version = BundleReader(store, verifiers, accept if verifiers else None).pull(ref, out)
    for p in accepted:
        policy.record(p)
    return version


def _pull_target(store: Store, verifiers: list[Verifier], policy: PointerPolicy, ref: str, target: str,
                 cache_dir: Path | None, age_key_file: str | None, decrypt: bool) -> tuple[str, Any, str | None]:
    from cfgc.base.errors import ExternalError, UsageError
    from cfgc.runtime.fetch import fetch_pinned
    from cfgc.runtime.secrets import SecretResolver, resolve_tree
    from cfgc.runtime.snapshot import build
    from cfgc.runtime.sync import Syncer
    from cfgc.secrets import default_keyring
    from cfgc.stores.base import check_version

    warning = None
    try:
        version = check_version(ref)
    except UsageError:
        version = None
    if version is not None:
        # A version id: no channel pointer to check; the manifest signature still must verify.
        snap = build(fetch_pinned(store, verifiers, version, (target,)), "source")
    else:
        sync = Syncer(store, verifiers, ref, (target,), cache_dir, interval=0, policy=policy)
        sync.load_cache()
        try:
            sync.refresh()
        except ExternalError as e:
            if sync.snapshot is None:
                raise
            warning = (f"{e.message}; printing the cached version {sync.snapshot.version} "
                       f"(verified {_age(sync.status().get('staleness_seconds'))} ago)")
        assert sync.snapshot is not None
        snap = sync.snapshot
        policy.check(snap.verified.pointer)  # a cached or unchanged pointer may have expired since
    value = snap.targets[target].value
    if decrypt:
        value = resolve_tree(value, SecretResolver(snap, default_keyring(age_key_file)))
    return snap.version, value, warning


def _age(seconds: JSONValue) -> str:
    if not isinstance(seconds, (int, float)):  # None: never refreshed
        return "an unknown time"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"

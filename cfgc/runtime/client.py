"""``ConfigClient``: configuration for a Python service, read from memory.

    client = ConfigClient(source="s3://acme-config/bundles", channel="prod", target="acme/prod/chat",
                          trusted_keys=["ci.pub"], cache_dir="/var/cache/cfgc", refresh_interval=30)
    client.get("models.primary.timeout_s")
    client.secret("providers.openai.api_key")
    client.prompt("summary", key=user_id).render(audience="ops", text=doc)

Reads return ``Any``: the caller knows the shape of its configuration, and a
value is JSON with read-only containers (:data:`cfgc.runtime.snapshot.Frozen`).
Reads never do I/O and never take a lock: the client holds one immutable
``_View`` (snapshot, target, secret resolver) and replaces it with a single
assignment when a new version verified.  Use ``client.snapshot()`` to read
several values from one version.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cfgc.base.errors import CfgcError, UsageError
from cfgc.base.jsonvalue import JSONObject
from cfgc.base.paths import flat_key
from cfgc.bundle.signing import Verifier, load_verifier
from cfgc.runtime.freshness import runtime_policy
from cfgc.runtime.prompts import Prompt, PromptError, choose, load
from cfgc.runtime.secrets import SecretError, SecretResolver
from cfgc.runtime.snapshot import BundleSnapshot, ConfigError, SecretReference, TargetSnapshot
from cfgc.runtime.sync import ChangeEvent, Syncer, open_source
from cfgc.secrets import Keyring, default_keyring
from cfgc.stores import Store

_MISSING = object()


class _View:
    """What readers see: one version of one target (never mutated)."""

    __slots__ = ("flat", "resolver", "snapshot", "target")

    def __init__(self, snapshot: BundleSnapshot, target: TargetSnapshot, resolver: SecretResolver) -> None:
        self.snapshot = snapshot
        self.target = target
        self.flat = target.flat
        self.resolver = resolver


class TargetView:
    """One version of the target, for consistent multi-value reads (``client.snapshot()``)."""

    def __init__(self, view: _View) -> None:
        self._v = view

    @property
    def version(self) -> str:
        return self._v.snapshot.version

    def get(self, path: str, default: object = _MISSING) -> Any:
        return _get(self._v, path, default)

    def secret(self, path: str) -> Any:
        return _secret(self._v, path)

    def prompt(self, name: str, key: str | None = None) -> Prompt:
        return _prompt(self._v, name, key)

    def as_dict(self) -> Any:
        return self._v.target.tree


class ConfigClient:
    """Verified, cached, hot-swapped configuration of one target."""

    def __init__(self, source: str, channel: str, target: str, trusted_keys: Iterable[str | os.PathLike[str]] = (),
                 cache_dir: str | os.PathLike[str] | None = None, refresh_interval: float = 30.0, *,
                 verifiers: list[Verifier] | None = None, age_key_file: str | None = None,
                 keyring: Keyring | None = None, background: bool = True, store: Store | None = None,
                 repository: str | None = None, state_file: str | os.PathLike[str] | None = None,
                 min_serial: int = 0, allow_expired: bool = False) -> None:
        """Load the cached version, poll the source once, start polling.

        Raises (ExternalError, IntegrityError, ...) only when neither the
        source nor the cache gives a verified version.  Channel pointers must
        name ``repository`` (default: the one first seen from this source),
        be newer than every serial recorded in ``state_file`` (default
        ``$CFGC_STATE_FILE`` or ``~/.local/state/cfgc/serials.json``) and than
        ``min_serial``, and be unexpired (``allow_expired`` accepts an expired
        one at first start; a running client keeps its version and reports stale).
        """
        vs = list(verifiers or []) + [load_verifier(Path(k)) for k in trusted_keys]
        if not vs:
            raise UsageError("ConfigClient needs trusted_keys (public keys the bundles are signed with)")
        if any(ch in target for ch in "*?["):
            raise UsageError(f"target {target!r}: a client follows one target (no globs)")
        self.target = target
        self._keyring = keyring if keyring is not None else default_keyring(age_key_file)
        st = store if store is not None else open_source(source)
        policy = runtime_policy(st.url, repository, state_file, min_serial, allow_expired)
        self._sync = Syncer(st, vs, channel, (target,), Path(cache_dir) if cache_dir is not None else None,
                            refresh_interval, policy=policy)
        # The first version is loaded before the client is usable and before the polling thread
        # exists, so the view is never absent and nothing can swap it in concurrently.
        self._view = self._first_view()
        self._sync.on_change(self._install)
        if background:
            self._sync.start_polling()

    def _first_view(self) -> _View:
        """The cached version, confirmed (or replaced) by one poll; the poll's error when no cache."""
        if self._sync.load_cache():
            with contextlib.suppress(Exception):  # recorded in status(); the cached version is served
                self._sync.refresh()
        else:
            self._sync.refresh()
        snap = self._sync.snapshot
        if snap is None:  # a poll without a current version either raises or gives one
            raise CfgcError(f"channel {self._sync.channel}: the first poll gave no version")
        return self._view_of(snap)

    def _install(self, event: ChangeEvent) -> None:
        self._view = self._view_of(event.snapshot)

    def _view_of(self, snap: BundleSnapshot) -> _View:
        return _View(snap, snap.targets[self.target], SecretResolver(snap, self._keyring))

    # -- reads (hot path: no I/O, no locks) ----------------------------------
    def get(self, path: str, default: object = _MISSING) -> Any:
        """The value at a dotted path (``models.primary.timeout_s``, ``routing.fallbacks.0``)."""
        v = self._view.flat.get(path, _MISSING)
        if v is _MISSING or v.__class__ is SecretReference:
            return _get(self._view, path, default)
        return v

    def __getitem__(self, path: str) -> Any:
        return self.get(path)

    def secret(self, path: str) -> Any:
        """The plaintext of the secret at ``path``, decrypted once per version with this runtime's identity."""
        return _secret(self._view, path)

    def prompt(self, name: str, key: str | None = None) -> Prompt:
        """The prompt ``prompts.<name>`` (or a pinned ``name@version``); ``key`` picks a sticky A/B variant."""
        return _prompt(self._view, name, key)

    def snapshot(self) -> TargetView:
        """The current version, to read several values consistently."""
        return TargetView(self._view)

    def as_dict(self) -> Any:
        """The whole target (read-only; secrets as references)."""
        return self._view.target.tree

    # -- versions and freshness ----------------------------------------------
    @property
    def version(self) -> str:
        return self._view.snapshot.version

    @property
    def serial(self) -> int:
        return self._view.snapshot.serial

    def on_change(self, callback: Callable[[ChangeEvent], object]) -> None:
        """Call ``callback(event)`` after each new version is swapped in (on the polling thread)."""
        self._sync.on_change(callback)

    def refresh(self) -> bool:
        """Poll now; True if a new version was swapped in. Raises the failure (the version stays)."""
        return self._sync.refresh()

    def status(self) -> JSONObject:
        """Version, serial, origin (source/cache), staleness, failure counters, last error."""
        return {"target": self.target, **self._sync.status()}

    def close(self) -> None:
        self._sync.stop()

    def __enter__(self) -> ConfigClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _get(view: _View, path: str, default: object) -> object:
    v = view.flat.get(path, _MISSING)
    if v is _MISSING:  # a.b[0] or ["a"]["b"][0]: the same path as a.b.0
        v = view.flat.get(flat_key(path), _MISSING)
    if v.__class__ is SecretReference:
        raise SecretError(f"{path} is a secret ({v!r}): read it with secret({path!r})")
    if v is _MISSING:
        if default is not _MISSING:
            return default
        raise view.target.missing(path)
    return v


def _secret(view: _View, path: str) -> object:
    ref = view.target.secrets.get(path)
    if ref is None:
        if path in view.flat:
            raise SecretError(f"{path} is not a secret: read it with get({path!r})")
        raise view.target.missing(path)
    return view.resolver.value(ref, path)


def _prompt(view: _View, name: str, key: str | None) -> Prompt:
    snap = view.snapshot
    spec = view.flat.get(f"prompts.{name}", _MISSING)
    if spec is _MISSING:
        if "@" not in name:
            raise PromptError(f"{view.target.name}@{snap.version}: no prompt {name!r} under prompts")
        spec = name
    pinned, variant = choose(name, spec, key)
    p = snap.prompts.get(pinned)
    if p is None:
        p = load(pinned, snap.manifest, snap.verified.files, f"{view.target.name}@{snap.version}")
        snap.prompts[pinned] = p
    if variant is not None:
        p = Prompt(p.name, p.version, p.text, p.variables, variant)
    return p


__all__ = ["ChangeEvent", "ConfigClient", "ConfigError", "TargetView"]

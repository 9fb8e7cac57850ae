"""Re-keying SOPS files: ``updatekeys`` (re-wrap the data key) and ``rotate`` (new data key).

Both run under the file's lock and re-read it there (:mod:`cfgc.secrets.txn`),
so a concurrent ``set`` is neither lost nor able to undo the re-keying.
``updatekeys`` refuses, unless told ``yes``, to write a key set from which the
runner could no longer decrypt the file (sops asks before every updatekeys;
cfgc asks only then, and has no prompt: ``--yes``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfgc.base.errors import CfgcError, InputError
from cfgc.secrets import txn, walk
from cfgc.secrets.creation_rules import key_drift, rule_for
from cfgc.secrets.document import encrypt_document, split_document
from cfgc.secrets.keysources import DATA_KEY_SIZE, Keyring
from cfgc.secrets.ops import (
    PathLike,
    encrypted_snapshot,
    keyring_or_default,
    load_encrypted,
    no_lock,
    open_snapshot,
)


@dataclass(frozen=True)
class KeyPlan:
    """What ``updatekeys``/``rotate`` does (or would do) to one file."""

    path: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    rotated: bool = False
    applied: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.rotated)


class LosesAccess(InputError):
    """``updatekeys`` would leave the runner unable to decrypt the file (exit 1)."""

    def __init__(self, message: str, plan: KeyPlan) -> None:
        super().__init__(message)
        self.plan = plan


def updatekeys(
    path: PathLike,
    keyring: Keyring | None = None,
    config: PathLike | None = None,
    dry_run: bool = False,
    yes: bool = False,
) -> KeyPlan:
    """Re-wrap the data key for the recipients the creation rule names now.

    Values, MAC and lastmodified are untouched; recipients already present keep
    their wrapped key byte for byte.  When the keys ``keyring`` holds could not
    unwrap the new key set (the runner would lose access), nothing is written
    and :class:`LosesAccess` is raised, unless ``yes``.
    """
    with txn.locked(path) if not dry_run else no_lock():
        snap = encrypted_snapshot(path)
        _, meta = split_document(snap.doc)
        rule, _ = rule_for(path, config)
        drift = key_drift(meta, rule)
        plan = KeyPlan(str(path), drift.added, drift.removed)
        if drift.groups_same or dry_run:
            return plan
        kr = keyring_or_default(keyring)
        data_key = kr.unwrap(meta)
        groups = kr.wrap(rule.key_groups, data_key, rule.shamir_threshold, previous=meta)
        new_meta = meta.with_(
            key_groups=groups, shamir_threshold=rule.shamir_threshold if len(groups) > 1 else 0
        )
        if not yes:
            try:
                kr.unwrap(new_meta)
            except CfgcError:
                raise LosesAccess(
                    f"{path}: after this change none of your keys could decrypt it; "
                    "nothing was written (pass --yes to update it anyway)",
                    plan,
                ) from None
        doc = dict(snap.doc)
        doc["sops"] = new_meta.to_dict()
        txn.write(path, doc, None, snap.digest)
    return KeyPlan(plan.path, plan.added, plan.removed, applied=True)


def rotate(path: PathLike, keyring: Keyring | None = None, dry_run: bool = False) -> KeyPlan:
    """New data key, every value re-encrypted, wrapped for the file's current keys."""
    if dry_run:
        load_encrypted(path)
        return KeyPlan(str(path), rotated=True)
    with txn.locked(path):
        opened = open_snapshot(path, keyring)
        kr = keyring_or_default(keyring)
        meta = opened.document.metadata
        data_key = os.urandom(DATA_KEY_SIZE)
        bare = tuple(tuple(_bare(k) for k in g) for g in meta.key_groups)
        groups = kr.wrap(bare, data_key, meta.shamir_threshold)
        doc = encrypt_document(opened.document.full, meta.with_(key_groups=groups), data_key)
        txn.write(path, doc, None, opened.digest)
    return KeyPlan(str(path), rotated=True, applied=True)


def _bare(key: Any) -> Any:
    from dataclasses import replace

    from cfgc.secrets.metadata import OpaqueKey

    if isinstance(key, OpaqueKey):
        return key
    return replace(key, enc="")


def find_encrypted_files(roots: list[Path]) -> list[Path]:
    """SOPS files under ``roots``; see :func:`cfgc.secrets.walk.scan` for the skipped ones."""
    return list(walk.scan(roots).files)


def apply_all(paths: Sequence[str | Path], one: Callable[[Path], KeyPlan], *, dry_run: bool,
              on_plan: Callable[[KeyPlan, bool], None], on_error: Callable[[str], None]) -> None:
    """Apply ``one`` (updatekeys or rotate) to every SOPS file under ``paths``; name every file not done.

    Each plan goes to ``on_plan(plan, dry_run)``; each failure to ``on_error``
    and the run goes on with the next file (a lone file's failure is raised
    as it is).  Files that hold sops ciphertext but could not be taken
    (unparseable, a link, another format) are reported too.  Either makes
    this raise at the end: the first failure's exit code, 1 for skipped files.
    """
    from cfgc.base.errors import ExternalError, IntegrityError, UsageError

    found = walk.scan([Path(p) for p in paths] or [Path(".")])
    if not found.files and not found.skipped:
        raise UsageError("no SOPS-encrypted files found")
    failed: list[tuple[Path, CfgcError]] = []
    for f in found.files:
        try:
            on_plan(one(f), dry_run)
        except LosesAccess as e:
            on_plan(e.plan, True)
            failed.append((f, e))
            on_error(str(e))
        except CfgcError as e:
            if len(found.files) == 1 and not found.skipped:
                raise
            failed.append((f, e))
            on_error(str(e))
    for s in found.skipped:
        on_error(f"{s.path}: skipped: {s.reason}")
    if failed or found.skipped:
        names = [str(f) for f, _ in failed] + [str(s.path) for s in found.skipped]
        # The plain error class carrying the first failure's exit code.
        kinds: tuple[type[CfgcError], ...] = (IntegrityError, ExternalError, UsageError, InputError)
        cls = next((k for k in kinds if isinstance(failed[0][1], k)), CfgcError) if failed else InputError
        raise cls(f"{len(names)} file(s) not {'checked' if dry_run else 'updated'}: {', '.join(names)}")

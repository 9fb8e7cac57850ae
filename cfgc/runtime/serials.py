"""The highest channel serial a machine has seen, per (repository, channel): rollback protection.

One small JSON file, shared by every cfgc runtime of a user (``ConfigClient``,
``cfgc pull``, ``cfgc agent``)::

    {"format": "cfgc.runtime-serials/v1",
     "channels": {"<repository>#<channel>": {"serial": 7, "version": "…", "manifest_digest": "sha256:…",
                                             "updated": 1700000000.0}},
     "pins": {"<source url>#<channel>": "<repository>"}}

``pins`` records which repository a source's channel belonged to the first
time it was read (trust on first use) when the runtime was not told
(``--repository``).  The file is created 0600 in a 0700 directory, changed
only under an exclusive lock (read, compare, write a temporary file, fsync,
rename), so concurrent runtimes never lose a higher serial.  A file that does
not parse is never treated as empty: that would silently re-open every
rollback; it is an error (exit 5) until an operator repairs or removes it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfgc.base.bounded_read import NotRegular, read_capped
from cfgc.base.errors import ExternalError, IntegrityError
from cfgc.base.fslock import file_lock
from cfgc.runtime.fetch import RollbackError
from cfgc.runtime.privfile import write_private
from cfgc.stores.pointer import Pointer

FORMAT = "cfgc.runtime-serials/v1"
MAX_ENTRIES = 4096  # (repository, channel) pairs kept; the least recently updated is forgotten beyond it
MAX_BYTES = 4 * 1024 * 1024  # a larger file is not ours: refuse it rather than parse it
LOCK_TIMEOUT = 10.0  # seconds to wait for another runtime holding the lock


class StateFileError(IntegrityError):
    """The serial state file is unreadable or corrupt: exit 5 (never reset silently)."""


def default_state_file() -> Path:
    """``$CFGC_STATE_FILE``, else ``$XDG_STATE_HOME/cfgc/serials.json``, else ``~/.local/state/cfgc/serials.json``."""
    env = os.environ.get("CFGC_STATE_FILE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "cfgc" / "serials.json"


@dataclass(frozen=True)
class Seen:
    """The newest pointer seen for one (repository, channel)."""

    serial: int
    version: str
    manifest_digest: str


def _key(repository: str, channel: str) -> str:
    return f"{repository}#{channel}"


class SerialState:
    """The state file at ``path`` (reads are lock-free; writes are locked and atomic)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else default_state_file()

    def _read(self) -> dict[str, Any]:
        try:
            raw = read_capped(self.path, MAX_BYTES)
        except FileNotFoundError:
            return {"format": FORMAT, "channels": {}, "pins": {}}
        except OSError as e:
            raise StateFileError(self._broken(f"cannot be read ({e.strerror})")) from None
        except NotRegular:
            raise StateFileError(self._broken("is not a regular file")) from None
        if len(raw) > MAX_BYTES:
            raise StateFileError(self._broken(f"is larger than {MAX_BYTES} bytes"))
        try:
            value = json.loads(raw)
            if not isinstance(value, dict) or value.get("format") != FORMAT:
                raise ValueError("format")
            channels, pins = value["channels"], value["pins"]
            if not isinstance(channels, dict) or not isinstance(pins, dict):
                raise ValueError("sections")
            for entry in channels.values():
                _seen(entry)
            if not all(isinstance(v, str) for v in pins.values()):
                raise ValueError("pins")
        except (ValueError, KeyError, TypeError, RecursionError):
            raise StateFileError(self._broken("is corrupt")) from None
        return value

    def _broken(self, what: str) -> str:
        return (f"serial state file {self.path} {what}; refusing to forget the serials it protects. "
                "Restore it from a backup, or remove it and restart with --min-serial "
                "(see docs/runtime.md, 'Rollback and freeze protection')")

    def seen(self, repository: str, channel: str) -> Seen | None:
        """The newest pointer recorded for (repository, channel), or None."""
        entry = self._read()["channels"].get(_key(repository, channel))
        return _seen(entry) if entry is not None else None

    def pinned(self, source: str, channel: str) -> str | None:
        """The repository ``source``'s ``channel`` was first seen to belong to, or None."""
        pin = self._read()["pins"].get(_key(source, channel))
        return str(pin) if pin is not None else None

    def record(self, pointer: Pointer, source: str) -> None:
        """Remember ``pointer`` as the newest of its (repository, channel); refuse an older one.

        RollbackError if a higher serial, or the same serial naming other
        content, was recorded meanwhile (by this or another process).
        """
        assert pointer.repository is not None, "legacy pointers are refused before they are recorded"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            raise ExternalError(f"cannot create {self.path.parent} for the serial state file: {e.strerror} "
                                "(choose another with --state-file or CFGC_STATE_FILE)") from None
        with file_lock(self.path, LOCK_TIMEOUT):
            state = self._read()
            key = _key(pointer.repository, pointer.channel)
            old = state["channels"].get(key)
            if old is not None:
                prev = _seen(old)
                if pointer.serial < prev.serial:
                    raise RollbackError(f"channel {pointer.channel}: pointer serial {pointer.serial} is older than "
                                        f"serial {prev.serial} already seen (recorded in {self.path})")
                if pointer.serial == prev.serial and pointer.manifest_digest != prev.manifest_digest:
                    raise RollbackError(f"channel {pointer.channel}: serial {pointer.serial} now names "
                                        f"{pointer.version}, but it named {prev.version}; refusing a forked channel")
            state["channels"][key] = {"serial": pointer.serial, "version": pointer.version,
                                      "manifest_digest": pointer.manifest_digest, "updated": time.time()}
            state["pins"].setdefault(_key(source, pointer.channel), pointer.repository)
            _trim(state["channels"])
            _trim_pins(state["pins"])
            try:
                write_private(self.path, json.dumps(state, indent=1, sort_keys=True).encode())
            except OSError as e:
                raise ExternalError(f"cannot write the serial state file {self.path}: {e.strerror}") from None


def _seen(entry: Any) -> Seen:
    if not isinstance(entry, dict):
        raise TypeError("entry")
    serial = entry["serial"]
    if not isinstance(serial, int) or isinstance(serial, bool) or serial < 0:
        raise ValueError("serial")
    return Seen(serial, str(entry["version"]), str(entry["manifest_digest"]))


def _trim(channels: dict[str, Any]) -> None:
    if len(channels) <= MAX_ENTRIES:
        return
    by_age = sorted(channels, key=lambda k: float(channels[k].get("updated", 0)))
    for k in by_age[: len(channels) - MAX_ENTRIES]:
        del channels[k]


def _trim_pins(pins: dict[str, Any]) -> None:
    while len(pins) > MAX_ENTRIES:
        del pins[next(iter(pins))]

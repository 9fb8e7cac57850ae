"""Rego results kept between runs of ``cfgc check``, per policy set and input.

regopy costs about 10 ms per target whatever the input, so re-checking an
unchanged corpus of 10,000 targets spends most of its time re-asking the same
questions.  A result is kept under the digest of the exact input text the
interpreter was given; the file holding the results belongs to one policy set
(the digest of every loaded policy's path and text, and the regopy version)
and one cfgc version, and is replaced whole when either changes.  A result is
the rules' raw output (``deny``/``violation``/``warn``); findings, locations
and masking are made from it afresh on every run.

The file lives in the build cache folder and is as untrusted as the rest of
it (:mod:`cfgc.bundle.cache_index`): it is authenticated with HMAC-SHA256
under the same key, which never lives in the cache folder, before its bytes are
parsed; it is parsed as JSON only, within :data:`MAX_FILE_BYTES` and
:data:`MAX_RESULTS`.  A file that fails any of these is ignored (the policies
are evaluated) and overwritten, and :attr:`PolicyCache.damaged` tells the
caller that something other than cfgc wrote into the cache folder.

Layout::

    cfgc-policy-cache 1\\n
    <hex HMAC-SHA256 of the magic line and the body>\\n
    <body: JSON {"cfgc": version, "policies": digest, "results": {input digest: result}}>
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import orjson

from cfgc import __version__
from cfgc.bundle.cache_index import cache_key, load_entry
from cfgc.review.sealed import read_sealed, write_sealed

MAGIC = b"cfgc-policy-cache 1\n"
FILE_NAME = "policy-results"
MAX_FILE_BYTES = 256 * 1024 * 1024  # a bigger file is not ours
MAX_RESULTS = 2_000_000  # results kept; beyond it new results are not recorded
_DIGEST = re.compile(r"[0-9a-f]{64}")


def digest(data: bytes) -> str:
    """The key of one input (or of a policy set): hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


class PolicyCache:
    """The results of one policy set, loaded from and saved to ``folder``."""

    def __init__(self, folder: Path, policies: str) -> None:
        self.path = folder / FILE_NAME
        self.policies = policies
        self.results: dict[str, Any] = {}
        self.added: dict[str, Any] = {}
        self._key: bytes | None = None
        self.damaged = False  # the file is there but cfgc did not write it (stale is not damaged)
        try:
            self._key = cache_key()
            self.results = self._read(self._key)
        except FileNotFoundError:
            self.results = {}
        except (OSError, ValueError, RecursionError):  # no key can be kept, unreadable, or not ours
            self.results, self.damaged = {}, self._key is not None

    def _read(self, key: bytes) -> dict[str, Any]:
        doc = load_entry(read_sealed(self.path, MAGIC, key, MAX_FILE_BYTES))
        if not isinstance(doc, dict):
            raise ValueError("not a policy cache")
        if doc.get("cfgc") != __version__ or doc.get("policies") != self.policies:
            return {}  # stale: another cfgc or other policies
        results = doc.get("results")
        if not isinstance(results, dict) or len(results) > MAX_RESULTS:
            raise ValueError("not a policy cache")
        return results

    def get(self, key: str) -> Any:
        """The recorded ``[result]`` for an input digest, or None."""
        hit = self.results.get(key) if _DIGEST.fullmatch(key) else None
        return hit if type(hit) is list and len(hit) == 1 else None

    def put(self, key: str, result: Any) -> None:
        """Record a result found in this run (saved by :meth:`save`)."""
        if len(self.results) + len(self.added) >= MAX_RESULTS:
            return
        try:  # kept only if it reads back as the same value
            same = orjson.loads(orjson.dumps(result)) == result
        except (TypeError, ValueError):
            same = False
        if same:
            self.added[key] = result

    def merge(self, added: dict[str, Any]) -> None:
        """Take the results a forked worker found."""
        if added is self.added:  # not forked: they are already here
            return
        for k, v in added.items():
            self.put(k, v)

    def save(self) -> None:
        """Write the file if this run found anything new; failures are ignored (it is a cache)."""
        if not self.added or self._key is None:
            return
        body = orjson.dumps({"cfgc": __version__, "policies": self.policies,
                             "results": {**self.results, **self.added}})
        if not write_sealed(self.path, MAGIC, self._key, body):
            return
        self.results.update(self.added)
        self.added = {}

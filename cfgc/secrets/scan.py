"""Recognising plaintext credentials in configuration values.

Two kinds of finding:

* a value matching a well-known credential format (provider API keys, AWS
  access key ids, private key blocks, GitHub tokens, age identities, a password
  inside a URL) is an **error**: it is a credential whatever key it sits under;
* a random-looking value (Shannon entropy, at least 16 characters) under a key
  whose name says it holds a secret (``*key*``, ``*token*``, ``*password*``,
  ``*secret*``) is a **warning**: probably a credential.

References and placeholders (``${VAR}``, ``{{ x }}``, ``<your key>``, URLs
without credentials, file paths, environment variable names, ``ENC[...]``
ciphertext) are never reported.  Nothing here returns or logs the value.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

MIN_ENTROPY_LENGTH = 16
# Bits per character.  Random base62/base64 strings of 16 characters average
# about 3.8, hex strings about 3.2; English-like identifiers score lower or are
# caught by the word-shape test below.
ENTROPY_THRESHOLD = 3.3
HEX_ENTROPY_THRESHOLD = 3.0
# Mean length of the letter/digit runs: words and dates give long runs
# ("summarizer-prod-2024" -> 6.0), random tokens short ones (about 2).
_WORDY_RUN_LENGTH = 4.0

SECRET_KEY_NAME = re.compile(r"key|token|passw(or)?d|passwd|secret|credential", re.IGNORECASE)

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Anthropic API key", re.compile(r"(?<![\w-])sk-ant-[A-Za-z0-9_-]{20,}")),
    ("OpenAI API key", re.compile(r"(?<![\w-])sk-(?!ant-)[A-Za-z0-9_-]{20,}")),
    ("AWS access key id", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")),
    ("private key block", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----")),
    ("age identity", re.compile(r"AGE-SECRET-KEY-1[0-9A-Za-z]{58}")),
    (
        "GitHub token",
        re.compile(r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
    ),
)
ANY_PATTERN = re.compile("|".join(f"(?:{rx.pattern})" for _, rx in _PATTERNS))
URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:([^/\s@]+)@")
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}|\{\{.*?\}\}|\{%.*?%\}|\$[A-Z_][A-Z0-9_]*\b")
_WHOLE_PLACEHOLDER = re.compile(r"<[^<>]*>|\*+|x+|X+|\.\.\.|…|REDACTED|CHANGEME|changeme")
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*")
_FILE_PATH = re.compile(
    r"(?:~|\.{1,2})?/[^\s]*|(?:[\w.-]+/)+[\w-]+\.[A-Za-z][A-Za-z0-9]{0,5}|[\w-]+\.(?:pem|key|crt|json|ya?ml|txt|p12|pfx|der|agekey)"
)
_ENC = re.compile(r"ENC\[AES256_GCM,data:[^\]]*\]")
_RUNS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_HEX = re.compile(r"[0-9a-fA-F]+")


@dataclass(frozen=True)
class Hit:
    """What a value looks like; never carries the value itself."""

    kind: str
    severity: str  # "error" for a known credential format, "warning" for entropy only


def shannon_entropy(text: str) -> float:
    """Bits of entropy per character of ``text`` (0.0 for the empty string)."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def is_placeholder(value: str) -> bool:
    """A reference or a placeholder rather than a literal value."""
    v = value.strip()
    return bool(_WHOLE_PLACEHOLDER.fullmatch(v) or _PLACEHOLDER.search(v))


def is_reference(value: str) -> bool:
    """A URL without credentials, a file path or an environment variable name."""
    v = value.strip()
    if _URL.fullmatch(v):
        return URL_PASSWORD.match(v) is None
    return bool(_FILE_PATH.fullmatch(v) or _ENV_NAME.fullmatch(v))


def _wordy(value: str) -> bool:
    runs = _RUNS.findall(value)
    if not runs:
        return True
    return sum(map(len, runs)) / len(runs) >= _WORDY_RUN_LENGTH


def looks_random(value: str) -> bool:
    """Long, high-entropy and not shaped like words, a date or a version."""
    v = value.strip()
    if len(v) < MIN_ENTROPY_LENGTH or any(c.isspace() for c in v):
        return False
    if _HEX.fullmatch(v):
        has_both = any(c.isdigit() for c in v) and any(c.isalpha() for c in v)
        return has_both and shannon_entropy(v) >= HEX_ENTROPY_THRESHOLD
    return not _wordy(v) and shannon_entropy(v) >= ENTROPY_THRESHOLD


def secret_key_name(key: str | None) -> bool:
    """Whether a mapping key names a secret (``api_key``, ``authToken``, ``db_password``...)."""
    return key is not None and SECRET_KEY_NAME.search(key) is not None


def classify(key: str | None, value: str) -> Hit | None:
    """What credential ``value`` (found under ``key``) looks like, if any."""
    if len(value) < MIN_ENTROPY_LENGTH and "@" not in value:
        return None  # too short for any known format or the entropy test: the common case
    # Every build runs this on every long string: the common case (no known
    # format, no '@', not under a secret-sounding key) costs one regex search.
    known = ANY_PATTERN.search(value) is not None
    if not known and "@" not in value and not secret_key_name(key):
        return None
    if _ENC.fullmatch(value.strip()) or _WHOLE_PLACEHOLDER.fullmatch(value.strip()):
        return None
    if known:
        for kind, rx in _PATTERNS:
            if rx.search(value):
                return Hit(kind, "error")
    m = URL_PASSWORD.search(value)
    if m and not is_placeholder(m.group(1)):
        return Hit("password in a URL", "error")
    if not secret_key_name(key) or is_placeholder(value) or is_reference(value):
        return None
    if looks_random(value):
        return Hit("high-entropy value", "warning")
    return None

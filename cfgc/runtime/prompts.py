"""Prompt templates at runtime: pinned versions, checked variables, sticky A/B variants.

A target names its prompts under ``prompts``; each value is either a pinned
``name@version`` string or a set of weighted variants::

    prompts:
      system: chat-system@1.1.0
      summary:
        variants:
          - {prompt: summarize@1.2.0, weight: 90}
          - {prompt: summarize@2.0.0, weight: 10}

``client.prompt("summary", key=user_id)`` picks a variant by hashing the prompt
name and the key (sha256), so the same key always gets the same variant and
the keys split in proportion to the weights; without a key the first variant
(the control) is used.  Templates render in cfgc's sandboxed Jinja2 with
StrictUndefined; a variable the template does not declare, or a declared one
that is missing, is an error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cfgc.base.errors import InputError


class PromptError(InputError):
    """A prompt that cannot be found, chosen or rendered."""


@dataclass(frozen=True, eq=False)
class Prompt:
    """One pinned prompt template."""

    name: str
    version: str
    text: str = field(repr=False)
    variables: tuple[str, ...]
    variant: int | None = None  # index of the A/B variant chosen, if any

    @property
    def pinned(self) -> str:
        return f"{self.name}@{self.version}"

    def render(self, **variables: Any) -> str:
        """The rendered text; PromptError for unknown or missing variables."""
        import jinja2

        unknown = sorted(set(variables) - set(self.variables))
        if unknown:
            raise PromptError(f"prompt {self.pinned}: unknown variable(s) {', '.join(unknown)} "
                              f"(it declares: {', '.join(self.variables) or 'none'})")
        try:
            return str(_template(self.text).render(**variables))
        except jinja2.UndefinedError as e:
            missing = sorted(set(self.variables) - set(variables))
            raise PromptError(f"prompt {self.pinned}: missing variable(s) {', '.join(missing) or '?'} ({e})") from None
        except jinja2.exceptions.SecurityError as e:
            raise PromptError(f"prompt {self.pinned}: refused by the sandbox: {e}") from None


_compiled: dict[str, Any] = {}


def _template(text: str) -> Any:
    t = _compiled.get(text)
    if t is None:
        from jinja2 import StrictUndefined
        from jinja2.sandbox import SandboxedEnvironment

        env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        t = env.from_string(text)
        if len(_compiled) > 1024:
            _compiled.clear()
        _compiled[text] = t
    return t


def choose(name: str, spec: Any, key: str | None) -> tuple[str, int | None]:
    """(pinned prompt, variant index or None) for a target's ``prompts.<name>`` value."""
    if isinstance(spec, str):
        return spec, None
    variants = spec.get("variants") if isinstance(spec, Mapping) else None
    if not isinstance(variants, (list, tuple)) or not variants:
        raise PromptError(f"prompts.{name}: expected name@version or {{variants: [{{prompt, weight}}, ...]}}")
    weights: list[int] = []
    for i, v in enumerate(variants):
        w = v.get("weight", 1) if isinstance(v, Mapping) else None
        if not isinstance(v, Mapping) or not isinstance(v.get("prompt"), str) or type(w) is not int or w < 0:
            raise PromptError(f"prompts.{name}.variants.{i}: expected {{prompt: name@version, weight: <int >= 0>}}")
        weights.append(w)
    total = sum(weights)
    if total <= 0:
        raise PromptError(f"prompts.{name}: the variant weights add up to 0")
    if key is None:
        return str(variants[0]["prompt"]), 0
    h = hashlib.sha256(f"{name}\0{key}".encode()).digest()
    point = int.from_bytes(h[:8], "big") % total
    for i, w in enumerate(weights):
        if point < w:
            return str(variants[i]["prompt"]), i
        point -= w
    raise AssertionError("unreachable")


def load(pinned: str, manifest: Mapping[str, Any], files: Mapping[str, bytes], where: str) -> Prompt:
    """The template of a pinned prompt from a version's files."""
    name, _, version = pinned.partition("@")
    entry = (manifest.get("prompts") or {}).get(pinned)
    if not isinstance(entry, Mapping):
        entry = {}
    data = files.get(str(entry.get("path"))) if entry else None
    if not version or data is None:
        raise PromptError(f"{where}: prompt {pinned!r} is not in this version of the bundle")
    return Prompt(name, version, data.decode("utf-8"), tuple(entry.get("variables") or ()))

"""The prompt library: versioned Jinja2 templates under ``prompts/<name>/<semver>.j2``.

``!prompt summarize@^1.0`` resolves at build time to the highest version in
range (npm ``semver`` semantics, see cfgc.compile.semver) and compiles to the pinned string ``summarize@1.2.0``; the template text
travels in the bundle, syntax-checked, with the variables it uses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

from cfgc.base.errors import InputError, Location
from cfgc.base.tags import PromptRef
from cfgc.compile.semver import Range, Version
from cfgc.compile.templating import sandbox
from cfgc.repo.sources import Source


@dataclass(frozen=True)
class Prompt:
    """One version of one prompt template."""

    name: str
    version: Version
    path: str
    text: str
    variables: tuple[str, ...]

    @property
    def pinned(self) -> str:
        """``name@version``, as compiled targets refer to it."""
        return f"{self.name}@{self.version}"

    @cached_property
    def digest(self) -> str:
        """sha256 of the template bytes."""
        return "sha256:" + hashlib.sha256(self.text.encode("utf-8")).hexdigest()


class PromptLibrary:
    """Index of the prompt templates of one source (read lazily)."""

    def __init__(self, source: Source, folder: str | None) -> None:
        self.source = source
        self.folder = folder
        self.versions: dict[str, dict[Version, str]] = {}
        self._loaded: dict[str, Prompt] = {}
        # (name, range) -> the version it resolved to: thousands of targets
        # repeat a handful of ranges, and matching a range is pure Python.
        self._best: dict[tuple[str, str], Version] = {}
        # Set by a caller that verified every template file is byte for byte one an
        # earlier build loaded and checked (cfgc.bundle.incremental): pin() then
        # chooses the version without reading or parsing it (Jinja2 is not imported).
        self.checked = False
        # (name, range) -> ``name@version`` of a pin that loaded and checked its
        # template: every target pins the same few references again.  Filled only
        # by the checking path, emptied when :meth:`assume_pins` changes a choice.
        self._pinned: dict[tuple[str, str], str] = {}
        if folder:
            prefix = folder + "/"
            for f in source.files():
                if not f.startswith(prefix) or not f.endswith(".j2"):
                    continue
                parts = f[len(prefix) :].split("/")
                if len(parts) != 2:
                    continue
                stem = parts[1][: -len(".j2")]
                try:
                    v = Version.parse(stem)
                except ValueError:
                    v = None
                # Only the canonical spelling: 'v1.2.0' or '1.2.0+b' would name
                # the same version as '1.2.0' and one file would silently shadow the other.
                if v is None or str(v) != stem:
                    raise InputError(
                        "prompt file name must be a semantic version such as 1.2.0.j2 or 1.2.0-rc.1.j2"
                        " (no 'v' prefix, no build metadata)",
                        Location(f),
                    )
                self.versions.setdefault(parts[0], {})[v] = f

    def pins(self) -> dict[str, str]:
        """The ranges resolved so far: ``"name\\0range"`` -> version, for :meth:`assume_pins`."""
        return {f"{name}\0{spec}": str(v) for (name, spec), v in self._best.items()}

    def assume_pins(self, pins: dict[str, str]) -> None:
        """Take the ranges an earlier build resolved over these very prompt files (:attr:`checked` callers).

        Matching a range compiles npm's patterns (about 20 ms a process); a version
        not in the library is skipped, so a range that names it is matched again.
        """
        self._pinned.clear()
        for key, version in pins.items():
            name, _, spec = key.partition("\0")
            found = next((v for v in self.versions.get(name, {}) if str(v) == version), None)
            if found is not None:
                self._best[name, spec] = found

    def pin(self, ref: PromptRef) -> str:
        """``name@version`` of the highest version ``ref`` admits (loaded and checked unless :attr:`checked`)."""
        if self.checked:
            return f"{ref.name}@{self._choose(ref)}"
        key = (ref.name, ref.spec)
        done = self._pinned.get(key)
        if done is None:
            done = self._pinned[key] = self.resolve(ref).pinned
        return done

    def resolve(self, ref: PromptRef) -> Prompt:
        """The highest version that ``ref`` admits, loaded and syntax-checked."""
        return self.load(ref.name, self._choose(ref))

    def _choose(self, ref: PromptRef) -> Version:
        best = self._best.get((ref.name, ref.spec))
        if best is not None:
            return best
        if not self.folder:
            raise InputError(f"!prompt {ref} used, but cfgc.yaml names no 'prompts' folder", ref.location)
        have = self.versions.get(ref.name)
        if not have:
            known = ", ".join(sorted(self.versions)) or "none"
            raise InputError(f"unknown prompt {ref.name!r} (prompts in {self.folder}/: {known})", ref.location)
        try:
            rng = Range.parse(ref.spec)
        except ValueError as e:
            raise InputError(f"!prompt {ref}: {e} (npm semver range syntax, see docs/config-reference.md#prompts)",
                             ref.location) from None
        best = rng.best(list(have))
        if best is None:
            listed = ", ".join(str(v) for v in sorted(have))
            raise InputError(f"no version of prompt {ref.name!r} matches {ref.spec} (have: {listed})", ref.location)
        self._best[ref.name, ref.spec] = best
        return best

    def load(self, name: str, version: Version) -> Prompt:
        """Load and syntax-check one template."""
        path = self.versions[name][version]
        hit = self._loaded.get(path)
        if hit is not None:
            return hit
        import jinja2
        from jinja2 import meta

        raw = self.source.read(path)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("prompt template is not valid UTF-8", Location(path)) from None
        try:
            ast = sandbox().parse(text)
            variables = tuple(sorted(meta.find_undeclared_variables(ast)))
        except jinja2.TemplateSyntaxError as e:
            raise InputError(f"template syntax error (Jinja2: {e.message})", Location(path, e.lineno or 1)) from None
        except RecursionError:  # blocks nested deeper than Jinja2's parser or its walk goes
            raise InputError("prompt template nests too deeply", Location(path)) from None
        prompt = Prompt(name, version, path, text, variables)
        self._loaded[path] = prompt
        return prompt

    def all(self) -> list[Prompt]:
        """Every version of every prompt, loaded."""
        return [self.load(n, v) for n in sorted(self.versions) for v in sorted(self.versions[n])]

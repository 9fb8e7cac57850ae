"""Turn the hierarchy patterns of cfgc.yaml into targets and their layer files."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import itemgetter

from cfgc.base import limits
from cfgc.base.errors import InputError, Location
from cfgc.base.repopath import MAX_TARGET, segment_problem, target_name_problem
from cfgc.repo.config import RepoConfig

_TOKEN = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}|\*|[^{*]+|\{")


@dataclass(frozen=True)
class TargetSpec:
    """A target to compile: its name, variables and layer files (lowest first)."""

    name: str
    vars: tuple[tuple[str, str], ...]
    layers: tuple[str, ...]

    @property
    def variables(self) -> dict[str, str]:
        """The hierarchy variables as a dict."""
        return dict(self.vars)


#: The fields the listing sets directly, in this order: a frozen dataclass's ``__init__``
#: makes three ``object.__setattr__`` calls, about half of the listing's time for each
#: of 10,000 targets (serial, before any worker forks).  The same ``__dict__`` as the
#: constructor's (equal, same hash, same pickle): ``tests/unit/repo/test_hierarchy_specs.py``.
_FIELDS = ("name", "vars", "layers")


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a hierarchy pattern: ``*`` and ``{var}`` match one path segment."""
    out: list[str] = []
    seen: set[str] = set()
    for m in _TOKEN.finditer(pattern):
        tok = m.group(0)
        var = m.group(1)
        if var:
            out.append(f"(?P={var})" if var in seen else f"(?P<{var}>[^/]+)")
            seen.add(var)
        elif tok == "*":
            out.append("[^/]*")
        else:
            out.append(re.escape(tok))
    return re.compile("".join(out) + r"\Z")


class Hierarchy:
    """Resolves targets and layers against the file list of one source."""

    def __init__(self, config: RepoConfig, files: Iterable[str]) -> None:
        self.config = config
        self.files = sorted(files)
        self._fileset = set(self.files)
        self._glob_cache: dict[str, tuple[str, ...]] = {}
        # The layers below the last, per binding of the variables they use:
        # 10,000 targets share a few dozen such prefixes, each resolved once.
        self._prefix_cache: dict[tuple[str, ...], tuple[str, ...]] = {}
        # The variables those layers use, in order: the key of that cache.
        self._prefix_vars = tuple(var for level in config.hierarchy[:-1] for var in level.variables)

    def targets(self, select: str | None = None) -> list[TargetSpec]:
        """Every target, sorted by name; ``select`` is a glob over target names."""
        return self.listing(select)[1]

    def listing(
        self, select: str | None = None, keep: Callable[[str], bool] | None = None
    ) -> tuple[list[str], list[TargetSpec]]:
        """(every selected target name, the specs of those ``keep`` accepts), both sorted.

        Every name is checked (unsafe names, two files for one target) whatever
        ``keep`` says; a shard passes its ``owns`` so the layers of the other
        shards' targets are never resolved nor held.
        """
        last = self.config.hierarchy[-1]
        rx = pattern_regex(last.pattern)
        # A file's values are taken as the match's groups, by position: no dict per file
        # (the pattern's groups are its variables, each once, in order: pattern_regex).
        order = sorted(rx.groupindex, key=rx.groupindex.__getitem__)
        at = {var: i for i, var in enumerate(order)}
        name_of = _joiner([(at[t], "") if var else (-1, t) for t, var in self.config.target_parts])
        vars_of = _picker([at[v] for v in last.variables])
        key_of = _picker([at[v] for v in self._prefix_vars])
        prefixes = self._prefix_cache
        found: dict[str, TargetSpec | None] = {}
        last_file: dict[str, str] = {}
        # Values already found safe: a corpus repeats each tenant and env
        # thousands of times, and checking is most of the cost of listing.
        safe: set[str] = set()
        new = object.__new__
        for path in self.files:
            m = rx.match(path)
            if m is None:
                continue
            values = m.groups()
            if not safe.issuperset(values):  # one C call for the usual file
                for var, value in zip(order, values, strict=True):
                    if value in safe:
                        continue
                    # A value from a file name becomes a path in the bundle and a
                    # part of other layers' paths: '..' or '*' would escape or glob.
                    problem = segment_problem(value)
                    if problem:
                        raise InputError(f"variable {{{var}}} taken from this file name: {problem}", Location(path))
                    safe.add(value)
            name = name_of(values)
            if len(name) > MAX_TARGET or not safe.issuperset(name.split("/")):
                problem = target_name_problem(name)
                if problem:
                    raise InputError(f"{problem} (from {path})", self.config.target_location)
            if select is not None and not fnmatch.fnmatchcase(name, select):
                continue
            if name in found:
                raise InputError(
                    f"two files compile to target {name!r}: {last_file[name]} and {path}",
                    self.config.target_location,
                )
            last_file[name] = path
            if keep is None or keep(name):
                prefix = prefixes.get(key_of(values))
                if prefix is None:
                    prefix = self._prefix(m.groupdict(), path)
                spec = new(TargetSpec)  # TargetSpec(name, vars, layers), see _FIELDS
                fields = spec.__dict__
                fields["name"] = name
                fields["vars"] = tuple(zip(last.variables, vars_of(values), strict=True))
                fields["layers"] = (*prefix, path)
                found[name] = spec
            else:
                found[name] = None
        names = sorted(found)
        return names, [spec for spec in (found[k] for k in names) if spec is not None]

    def _prefix(self, bindings: dict[str, str], last_file: str) -> tuple[str, ...]:
        """The layers below the last for ``bindings``, resolved once per binding of the variables they use."""
        key = tuple([bindings[var] for var in self._prefix_vars])
        prefix = self._prefix_cache.get(key)
        if prefix is None:
            levels = self.config.hierarchy[:-1]
            layers: list[str] = []
            for level in levels:
                concrete = level.pattern
                for var in level.variables:
                    concrete = concrete.replace("{" + var + "}", bindings[var])
                layers.extend(self._expand(concrete))
                if len(layers) >= limits.MAX_TARGET_LAYERS:  # the target's own file comes on top
                    raise InputError(
                        f"the target of {last_file} stacks more than {limits.MAX_TARGET_LAYERS} layer files "
                        f"(this level matches {len(self._expand(concrete))}), the bound on one target "
                        "(MAX_TARGET_LAYERS in cfgc/base/limits.py); match fewer files per level", level.location)
            prefix = self._prefix_cache[key] = tuple(layers)
        return prefix

    def _expand(self, concrete: str) -> tuple[str, ...]:
        if "*" not in concrete:
            return (concrete,) if concrete in self._fileset else ()
        hit = self._glob_cache.get(concrete)
        if hit is None:
            rx = pattern_regex(concrete)
            hit = tuple(f for f in self.files if rx.match(f))
            self._glob_cache[concrete] = hit
        return hit


def _picker(positions: list[int]) -> Callable[[tuple[str, ...]], tuple[str, ...]]:
    """A function giving the values at ``positions`` of a match's groups, as a tuple (of any length)."""
    if len(positions) > 1:
        return itemgetter(*positions)
    if positions:
        (at,) = positions
        return lambda values: (values[at],)
    return lambda values: ()


def _joiner(parts: list[tuple[int, str]]) -> Callable[[tuple[str, ...]], str]:
    """A function joining ``parts`` for a match's groups: the group at the position, or the text (position -1).

    One ``%`` format in C: every ``%`` of the texts is doubled, so the only
    conversions are the ``%s`` of the groups (strings, written as they are).
    Never ``str.format``, whose fields could reach attributes.
    """
    form = "".join("%s" if at >= 0 else text.replace("%", "%%") for at, text in parts)
    pick = _picker([at for at, _ in parts if at >= 0])
    return lambda values: form % pick(values)

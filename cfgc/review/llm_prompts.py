"""Built-in prompt checks of ``cfgc check`` (rule ``llm.prompt``).

Pinned references such as ``summarize@1.2.0`` exist in the prompt library; a
template that declares its variables in a leading ``{# variables: a, b #}``
comment uses no others.
"""

from __future__ import annotations

import re

from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import CfgcError, Location
from cfgc.compile.compiler import CompiledTarget
from cfgc.compile.prompts import PromptLibrary
from cfgc.compile.semver import Version

_PINNED = re.compile(r"^([A-Za-z0-9_.-]+)@(\d+\.\d+\.\d+\S*)$")
_DECLARED = re.compile(r"\A\s*\{#-?\s*variables\s*:\s*(.*?)\s*-?#\}", re.S)


#: Entries of a :func:`prompt_ref_findings` memo (emptied when full) and the
#: longest reference it keeps: the references are the repo's text, so their
#: number and size are not ours to choose (at most about 1 MB is kept).
MAX_REMEMBERED_REFS = 4096
MAX_REMEMBERED_REF_CHARS = 256


def prompt_ref_findings(target: CompiledTarget, library: PromptLibrary,
                        memo: dict[str, bool] | None = None) -> list[Diagnostic]:
    """Hand-written pinned references (``prompts.x: name@1.2.0``) must exist.

    ``memo`` (one per ``library``: the answer depends on the reference's text
    and the library's versions only) keeps each reference's answer, so the
    thousands of targets that pin the same one parse its version once.
    """
    prompts = target.value.get("prompts") if type(target.value) is dict else None
    if type(prompts) is not dict:
        return []
    out = []
    for key, ref in prompts.items():
        if type(ref) is not str:
            continue
        keep = memo is not None and len(ref) <= MAX_REMEMBERED_REF_CHARS
        ok = memo.get(ref) if memo is not None and keep else None
        if ok is None:
            ok = _exists(ref, library)
            if memo is not None and keep:
                if len(memo) >= MAX_REMEMBERED_REFS:
                    memo.clear()
                memo[ref] = ok
        if not ok:
            out.append(Diagnostic("error", f"prompt {ref!r} does not exist in the prompt library",
                                  target.provenance.locate(("prompts", key)), "llm.prompt", (target.name,)))
    return out


def _exists(ref: str, library: PromptLibrary) -> bool:
    """Whether ``ref`` is not a pinned reference, or names a version the library has."""
    m = _PINNED.match(ref)
    if m is None:
        return True
    try:
        return Version.parse(m.group(2)) in library.versions.get(m.group(1), {})
    except ValueError:
        return False


def template_variable_findings(library: PromptLibrary) -> list[Diagnostic]:
    """Templates that declare ``{# variables: a, b #}`` use only those."""
    out = []
    for name in sorted(library.versions):
        for version in sorted(library.versions[name]):
            try:
                prompt = library.load(name, version)
            except CfgcError:
                continue  # already reported by validation
            m = _DECLARED.match(prompt.text)
            if m is None:
                continue
            declared = {v for v in re.split(r"[\s,]+", m.group(1)) if v}
            for var in prompt.variables:
                if var not in declared:
                    line = _first_use(prompt.text, var)
                    out.append(Diagnostic("error", f"template uses {{{{ {var} }}}}, which it does not declare "
                                          f"(declared: {', '.join(sorted(declared)) or 'none'})",
                                          Location(prompt.path, line, 1), "llm.prompt"))
    return out


def _first_use(text: str, var: str) -> int:
    word = re.compile(r"\b" + re.escape(var) + r"\b")
    for n, line in enumerate(text.splitlines(), 1):
        if ("{{" in line or "{%" in line) and word.search(line) and not line.lstrip().startswith("{#"):
            return n
    return 1

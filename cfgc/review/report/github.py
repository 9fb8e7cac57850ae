"""GitHub Actions workflow commands: findings as annotations on the PR diff.

``::error file=F,line=N,col=C,title=T::message`` makes GitHub draw the finding
on that line of the pull request.  GitHub wants paths relative to the root of
the git repository, so a config repo in a subfolder gets that prefix.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from cfgc.base.diagnostics import Diagnostic


def escape_data(text: str) -> str:
    """Escape a workflow command's message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value (also ``:`` and ``,``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def git_prefix(root: Path) -> str:
    """The config repo's folder inside its git repository (``''`` or ``a/b/``)."""
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-prefix"],
                             capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return out


def annotation(d: Diagnostic, prefix: str = "", existing: bool = False) -> str:
    """One finding as a workflow command; one already on the base is a notice."""
    kind = "notice" if existing else "error" if d.severity == "error" else "warning"
    props: list[str] = []
    loc = d.location
    if loc is not None:
        props.append(f"file={escape_property(prefix + loc.path)}")
        if loc.line:
            props.append(f"line={loc.line}")
        if loc.col:
            props.append(f"col={loc.col}")
    title = f"cfgc {d.rule}" + (f" ({d.severity}, already on the base)" if existing else "")
    props.append(f"title={escape_property(title)}")
    msg = d.message
    if d.targets:
        shown = ", ".join(d.targets[:5]) + (f" and {len(d.targets) - 5} more" if len(d.targets) > 5 else "")
        msg += f" (targets: {shown})"
    return f"::{kind} {','.join(props)}::{escape_data(msg)}"


def render_github(diags: Sequence[Diagnostic], prefix: str = "", states: Sequence[str] = ()) -> str:
    """Every finding as a workflow command line (``states`` from a base comparison)."""
    return "".join(annotation(d, prefix, bool(states) and states[i] == "unchanged") + "\n"
                   for i, d in enumerate(diags))

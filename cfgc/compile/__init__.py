"""One target from its layers: merge tags, ``$extends``, templates, prompts and ranges, JSON Schema.

Inputs: a ``Source`` and ``TargetSpec``s from cfgc.repo; outputs:
``CompiledTarget`` values with provenance, diagnostics at ``path:line:col``,
and ``explain`` answers.  Secret hygiene findings live here because they are
findings about the repository's files.

May import: cfgc.base, cfgc.repo, cfgc.secrets.
"""

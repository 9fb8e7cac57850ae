"""What every stage shares: errors and exit codes, diagnostics, limits, YAML loading with provenance.

Inputs: bytes and paths; outputs: Python values with their source marks,
``CfgcError`` subclasses, canonical JSON.  Nothing here knows about targets,
bundles or stores.

May import: the standard library and third-party packages only; no other cfgc package.
"""

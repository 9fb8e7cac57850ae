"""The repository: sources (working tree or git ref), ``cfgc.yaml``, the layer hierarchy and targets.

Inputs: a directory or a git ref; outputs: a ``Source`` to read files from,
the validated ``RepoConfig`` and the ``TargetSpec`` list (which layers make
each target).  Every file read goes through :mod:`cfgc.base.repopath`, so a
hostile repository cannot reach outside itself.

May import: cfgc.base.
"""

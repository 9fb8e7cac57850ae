"""What a pull request changes and whether it may merge: diff, checks, Rego policy, history, GitHub.

Inputs: two sides of a repository (refs or the working tree) compiled by
cfgc.compile; outputs: semantic diffs with blast radius, findings with
locations, and the reporters in :mod:`cfgc.review.report` (text, JSON,
Markdown, SARIF, GitHub annotations).

May import: cfgc.base, cfgc.repo, cfgc.secrets, cfgc.compile, cfgc.bundle; never cfgc.stores or cfgc.runtime.
"""

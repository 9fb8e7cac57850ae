"""Every target at once, and the bundle on disk: the pipeline, the build cache, layout, signing, attestations.

Inputs: a repository (cfgc.repo) compiled target by target (cfgc.compile);
outputs: a content-addressed bundle directory, its signed manifest, DSSE
attestations and the SLSA provenance statement.

May import: cfgc.base, cfgc.repo, cfgc.secrets, cfgc.compile.
"""

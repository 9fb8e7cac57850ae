"""``cfgc agent``: the runtime as a loopback HTTP sidecar for services in any language."""

"""cfgc: a GitOps config compiler for LLM platform configuration."""

__version__ = "0.1.0"

"""Renderers of findings and results, one per output format."""

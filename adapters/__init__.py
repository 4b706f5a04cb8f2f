"""Thin platform adapters around the core (installed as ``companion_adapters``)."""

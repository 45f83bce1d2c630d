"""Animator models (imported lazily through the registry)."""

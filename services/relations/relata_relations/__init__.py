"""Relata relations service: the source of truth for relations."""

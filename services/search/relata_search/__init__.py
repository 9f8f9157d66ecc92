"""Relata search service: find any relation as you type."""

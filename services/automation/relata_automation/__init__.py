"""Relata automation service."""

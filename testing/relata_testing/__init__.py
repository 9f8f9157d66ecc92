"""Relata's test and benchmark harness; only the tests and bench/ use it."""

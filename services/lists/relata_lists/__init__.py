"""Relata lists service: the filter engine and self-updating relation lists."""

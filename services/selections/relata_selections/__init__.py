"""Relata selections service: frozen sets of relations for mailings."""

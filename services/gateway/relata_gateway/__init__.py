"""Relata API gateway: users, views and rights, composed relation cards, the dashboard."""

"""Relata common package: what every service shares.

Event contracts, the transactional outbox and its relay, the inbox for idempotent consumers,
settings, database and Kafka plumbing, logging, and the HTTP conventions (health, readiness,
metrics, internal service token).
"""

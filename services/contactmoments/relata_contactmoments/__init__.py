"""Relata contact moments service: logged interactions and e-mail ingestion."""

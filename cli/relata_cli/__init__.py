"""``crm``: run and operate the Relata platform."""

from relata_automation.models import metadata
from relata_common.db import run_migrations_in_env

run_migrations_in_env(metadata)

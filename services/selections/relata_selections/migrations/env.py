from relata_common.db import run_migrations_in_env
from relata_selections.models import metadata

run_migrations_in_env(metadata)

from services.analytics.storage import metadata
from services.kit.alembic_env import run_migrations

run_migrations(metadata)

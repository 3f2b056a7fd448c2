from services.kit.alembic_env import run_migrations
from services.registry.storage import metadata

run_migrations(metadata)

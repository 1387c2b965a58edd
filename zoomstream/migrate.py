"""Schema migrations with yoyo: the pipeline's tables, and optionally the platform's."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from yoyo import get_backend, internalmigrations, read_migrations
from yoyo.backends import DatabaseBackend
from yoyo.connections import default_migration_table, get_backend_class, parse_uri
from yoyo.migrations import MigrationList


def yoyo_url(database_url: str) -> str:
    for scheme in ("postgresql://", "postgres://"):
        if database_url.startswith(scheme):
            return "postgresql+psycopg://" + database_url[len(scheme) :]
    return database_url


def _migrations(platform: bool) -> MigrationList:
    root = Path(str(resources.files("zoomstream").joinpath("migrations")))
    folders = [root / "platform"] if platform else []
    folders.append(root / "pipeline")
    return read_migrations(*(str(folder) for folder in folders))


def migrate(database_url: str, *, platform: bool) -> list[str]:
    """Apply pending migrations (the platform set first, when asked); return their ids."""
    backend, migrations = get_backend(yoyo_url(database_url)), _migrations(platform)
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [migration.id for migration in pending]


def pending(database_url: str) -> tuple[list[str], int]:
    """The pipeline's migrations not applied yet, and how many there are in all. It writes
    nothing: a database yoyo never ran on (its own tables absent) has every one pending."""
    # Not get_backend: it creates yoyo's lock table.
    uri = parse_uri(yoyo_url(database_url))
    backend: DatabaseBackend = get_backend_class(uri.scheme.lower())(uri, default_migration_table)
    migrations = _migrations(platform=False)
    with backend:
        if internalmigrations.needs_upgrading(backend):
            return [migration.id for migration in migrations], len(migrations)
        return [migration.id for migration in backend.to_apply(migrations)], len(migrations)

"""Schema migrations with yoyo: the pipeline's tables, and optionally the platform's."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from yoyo import get_backend, read_migrations


def yoyo_url(database_url: str) -> str:
    for scheme in ("postgresql://", "postgres://"):
        if database_url.startswith(scheme):
            return "postgresql+psycopg://" + database_url[len(scheme) :]
    return database_url


def migrate(database_url: str, *, platform: bool) -> list[str]:
    """Apply pending migrations (the platform set first, when asked); return their ids."""
    root = Path(str(resources.files("zoomstream").joinpath("migrations")))
    folders = [root / "platform"] if platform else []
    folders.append(root / "pipeline")
    backend = get_backend(yoyo_url(database_url))
    migrations = read_migrations(*(str(folder) for folder in folders))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [migration.id for migration in pending]

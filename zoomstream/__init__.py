"""zoomstream: the command line, settings, local stack and migrations that tie the packages together."""

from schemas.settings import Settings

__all__ = ["Settings"]

"""zoomstream: the command line, settings, local stack and migrations that tie the packages together."""

from zoomstream.settings import Settings

__all__ = ["Settings"]

"""How `zoomstream ingest` is served: uvicorn's options, one place for the CLI and the bench's
floors (which must run on the same server stack to be floors of it)."""

from __future__ import annotations

import gc
from typing import Any

SERVER_OPTIONS: dict[str, Any] = {
    # Named, not "auto": an install without them would fall back to asyncio's loop and the
    # pure-Python h11 parser at a fraction of the rate, silently.
    "loop": "uvloop",
    "http": "httptools",
    "log_level": "warning",
    "access_log": False,
}


def settle_collector() -> None:
    """Called once start-up has built the app, before serving.

    What start-up made (modules, models, the app) lives as long as the process: frozen out of
    the collector's sight, so that its full collections no longer walk it. And the first
    generation is collected every 10,000 net allocations, not 700: the objects of the requests
    in flight (64 connections' worth) alone passed 700, so it ran every few requests, for
    nothing (they are freed by reference counting). Measured in docs/design.md, "What a
    request costs"."""
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)

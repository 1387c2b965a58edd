"""The pipeline's floor on the same stack: a Faust worker configured like zoomstream's whose agent
takes the raw topic in the same batches and does nothing with them. It writes how many messages
it has taken to the file named by NOOP_COUNT_FILE after each batch.

`python -m bench.noop_worker` (with the bench's environment)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import faust

from schemas.settings import Settings
from schemas.topics import ZOOM_RAW
from streams.runtime import faust_internals
from streams.runtime.app import consumer_settings


def main() -> None:
    settings = Settings()
    count_file = Path(os.environ["NOOP_COUNT_FILE"])
    app = faust.App(
        f"{settings.topic_prefix}noop",
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")],
        store="memory://",
        datadir=settings.worker_datadir,  # as zoomstream's: not a directory in the cwd
        processing_guarantee="at_least_once",
        topic_partitions=settings.kafka_partitions,
        web_enabled=False,
        **consumer_settings(settings),
    )
    topic = app.topic(settings.topic(ZOOM_RAW), key_serializer="raw", value_serializer="raw")
    taken = {"count": 0}

    @app.agent(topic, name="noop")
    async def noop(stream: Any) -> None:
        batches = stream.take_events(
            settings.worker_batch_size, within=settings.worker_batch_seconds
        )
        async for events in batches:  # acked by Faust, as in zoomstream's agents
            taken["count"] += len(events)
            count_file.write_text(str(taken["count"]))

    faust_internals.worker(app, "warn").execute_from_commandline()  # as zoomstream's


if __name__ == "__main__":
    main()

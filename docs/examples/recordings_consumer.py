"""Subscribe to zoom.recordings and print each recording's current state.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 python docs/examples/recordings_consumer.py

The topic is compacted and keyed by the recording id (the Zoom occurrence UUID): reading it from
the beginning gives the latest state of every recording, then every change as it happens. A
state can arrive more than once (worker restarts, replays): keep, per key, the highest `version`.
"""

from __future__ import annotations

import os

from confluent_kafka import Consumer

from schemas import RecordingState


def main() -> None:
    prefix = os.environ.get("TOPIC_PREFIX", "")
    consumer = Consumer(
        {
            "bootstrap.servers": os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            "group.id": os.environ.get("GROUP_ID", "recordings-printer"),
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([f"{prefix}zoom.recordings"])
    latest: dict[str, int] = {}
    try:
        while True:
            message = consumer.poll(1.0)
            if message is None or message.error() is not None:
                continue
            value = message.value()
            if value is None:
                continue
            state = RecordingState.model_validate_json(value)
            if latest.get(state.zoom_recording_id, 0) >= state.version:
                continue  # a state already seen, delivered again
            latest[state.zoom_recording_id] = state.version
            files = ", ".join(f"{f.file_type}:{f.processing_status}" for f in state.files)
            print(
                f"{state.zoom_recording_id} v{state.version} {state.status} "
                f"published={state.is_published} {state.topic!r} [{files}]"
            )
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


if __name__ == "__main__":
    main()

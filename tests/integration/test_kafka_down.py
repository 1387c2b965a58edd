"""Invariant 1: a 2xx means the request is in Kafka; without Kafka, ingest answers 503."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import signed
from tests.integration.conftest import Pipeline, messages_in_topic
from tests.polling import poll
from zoomstream.samples import meeting_object, zoom_event
from zoomstream.stack import KafkaBroker

pytestmark = pytest.mark.integration


def test_kafka_stopped_means_503_never_200(
    pipeline: Pipeline, topic_prefix: str, private_broker: KafkaBroker
) -> None:
    broker = private_broker
    pipeline.env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap
    pipeline.start_ingest()
    with httpx.Client(base_url=pipeline.url, timeout=30) as client:
        body, headers = signed(zoom_event("meeting.started", meeting_object("1")))
        assert client.post("/webhooks/zoom", content=body, headers=headers).status_code == 200
        assert client.get("/readyz").json()["checks"]["kafka"] is True

        broker.down()
        answers = []
        for n in range(5):
            body, headers = signed(
                zoom_event("meeting.participant_joined", meeting_object("1", topic=f"t{n}"))
            )
            started = time.monotonic()
            answers.append(client.post("/webhooks/zoom", content=body, headers=headers).status_code)
            assert time.monotonic() - started < 3.0, "Zoom waits 3 s at most"
        assert answers == [503] * 5
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["kafka"] is False

        broker.up()
        status = poll(
            lambda: client.post("/webhooks/zoom", content=body, headers=headers).status_code,
            until=lambda code: code == 200,
            what="ingest to accept again",
            timeout=60,
            interval=0.5,
            raise_on_timeout=False,
        )
        assert status == 200, "ingest recovers once Kafka is back"
    # the accepted ones are in Kafka; a refused one may also be, and dedup absorbs that
    assert messages_in_topic(f"{topic_prefix}zoom.webhooks.raw", broker.bootstrap) >= 2

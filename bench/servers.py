"""The floors of the ingest benchmark, on the server stack of `zoomstream ingest` (uvicorn with
`ingest.serve.SERVER_OPTIONS`, the collector settled as there):

- `--floor noop`: a Starlette endpoint that reads the body and answers JSON;
- `--floor durable`: the same, answering only once a confluent-kafka producer (acks=all,
  idempotent, librdkafka's other defaults) has the body's delivery report: the least any
  endpoint that says 200 only for a stored webhook can do;
- `--floor checked`: the durable floor that also does, with the standard library alone, what
  every request must before it is stored: Zoom's HMAC checked, the body read as JSON (its
  meeting id the key), its SHA-256 taken (the delivery id). What CPython spends on a webhook
  at the least, short of ingest's own code.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import Callable

import uvicorn
from confluent_kafka import KafkaError, Message, Producer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ingest.serve import SERVER_OPTIONS, settle_collector

Publish = Callable[[bytes | None, bytes], asyncio.Future[None]]
"""(key, value) → the future of its delivery report."""


def durable(bootstrap: str, topic: str) -> Publish:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})

    def poll() -> None:
        while True:
            producer.poll(0.05)

    threading.Thread(target=poll, daemon=True).start()

    def publish(key: bytes | None, body: bytes) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[None] = loop.create_future()

        def settle(err: KafkaError | None) -> None:
            if err is None:
                acked.set_result(None)
            else:
                acked.set_exception(RuntimeError(err.str()))

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            loop.call_soon_threadsafe(settle, err)

        producer.produce(topic, body, key=key, on_delivery=on_delivery)
        return acked

    return publish


def app(publish: Publish | None, secret: bytes | None = None) -> Starlette:
    async def webhook(request: Request) -> Response:
        body = await request.body()
        key = None
        if secret is not None:
            timestamp = request.headers["x-zm-request-timestamp"]
            signed = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
            if not hmac.compare_digest(
                request.headers["x-zm-signature"], "v0=" + signed.hexdigest()
            ):
                return JSONResponse({"error": "invalid signature"}, status_code=401)
            key = str(json.loads(body)["payload"]["object"]["id"]).encode()
            hashlib.sha256(body).hexdigest()
        if publish is not None:
            await publish(key, body)
        return JSONResponse({"status": "received"})

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/webhooks/zoom", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--floor", choices=["noop", "durable", "checked"], default="noop")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", help="where the durable floors publish")
    parser.add_argument("--secret", default="bench-secret", help="the checked floor's")
    args = parser.parse_args()
    publish = durable(args.bootstrap, args.topic) if args.floor != "noop" else None
    secret = args.secret.encode() if args.floor == "checked" else None
    settle_collector()  # as `zoomstream ingest` does
    uvicorn.run(app(publish, secret), host="127.0.0.1", port=args.port, **SERVER_OPTIONS)


if __name__ == "__main__":
    main()

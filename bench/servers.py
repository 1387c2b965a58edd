"""The floors of the ingest benchmark, on the server stack of `zoomstream ingest` (uvicorn with
`ingest.serve.SERVER_OPTIONS`):

- `--floor noop`: a Starlette endpoint that reads the body and answers JSON;
- `--floor durable`: the same, answering only once a confluent-kafka producer (acks=all,
  idempotent, librdkafka's other defaults) has the body's delivery report: the least any
  endpoint that says 200 only for a stored webhook can do.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
from collections.abc import Callable

import uvicorn
from confluent_kafka import KafkaError, Message, Producer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ingest.serve import SERVER_OPTIONS


def durable(bootstrap: str, topic: str) -> Callable[[bytes], asyncio.Future[None]]:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})

    def poll() -> None:
        while True:
            producer.poll(0.05)

    threading.Thread(target=poll, daemon=True).start()

    def publish(body: bytes) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[None] = loop.create_future()

        def settle(err: KafkaError | None) -> None:
            if err is None:
                acked.set_result(None)
            else:
                acked.set_exception(RuntimeError(err.str()))

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            loop.call_soon_threadsafe(settle, err)

        producer.produce(topic, body, on_delivery=on_delivery)
        return acked

    return publish


def app(publish: Callable[[bytes], asyncio.Future[None]] | None) -> Starlette:
    async def webhook(request: Request) -> Response:
        body = await request.body()
        if publish is not None:
            await publish(body)
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
    parser.add_argument("--floor", choices=["noop", "durable"], default="noop")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", help="where the durable floor publishes")
    args = parser.parse_args()
    publish = durable(args.bootstrap, args.topic) if args.floor == "durable" else None
    uvicorn.run(app(publish), host="127.0.0.1", port=args.port, **SERVER_OPTIONS)


if __name__ == "__main__":
    main()

"""The load generator, run as its own process: POSTs signed webhooks for a while over many
connections; prints throughput, latency percentiles and answers as JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter

import httpx

from bench.common import percentile
from zoomstream.samples import dumps, meeting_object, participant, sign, zoom_event


def bodies(count: int) -> list[bytes]:
    from datetime import UTC, datetime

    start = datetime.now(tz=UTC)
    return [
        dumps(
            zoom_event(
                "meeting.participant_joined",
                meeting_object(
                    str(85_000_000_000 + n % 50),
                    f"load{n % 50}==",
                    participant=participant(n, start),
                ),
                int(time.time() * 1000) + n,
            )
        )
        for n in range(count)
    ]


async def run(url: str, seconds: float, concurrency: int, secret: bytes) -> dict[str, object]:
    payloads = bodies(5000)
    latencies: list[float] = []
    answers: Counter[int] = Counter()
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker(offset: int) -> None:
            n = offset
            while time.monotonic() < deadline:
                body = payloads[n % len(payloads)]
                headers = sign(secret, body, int(time.time()))
                started = time.perf_counter()
                try:
                    response = await client.post("/webhooks/zoom", content=body, headers=headers)
                    answers[response.status_code] += 1
                except httpx.HTTPError:
                    answers[0] += 1
                latencies.append(time.perf_counter() - started)
                n += concurrency

        began = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "answers": dict(answers),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--secret", default="bench-secret")
    args = parser.parse_args()
    result = asyncio.run(run(args.url, args.seconds, args.concurrency, args.secret.encode()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

import asyncio

import pytest

from ingest.limits import Busy, Limiter, Tarpit, Throttle


async def test_concurrency_slots_then_a_queue_then_busy() -> None:
    limiter = Limiter("hashes", concurrency=2, queue=1)
    release = asyncio.Event()
    inside = 0

    async def work() -> None:
        nonlocal inside
        async with limiter.slot():
            inside += 1
            await release.wait()

    running = [asyncio.create_task(work()) for _ in range(3)]  # two in, one waiting
    await asyncio.sleep(0.01)
    assert inside == 2
    with pytest.raises(Busy, match="hashes"):
        async with limiter.slot():
            pass
    release.set()
    await asyncio.gather(*running)
    assert inside == 3
    async with limiter.slot():  # everything was given back
        pass


async def test_a_waiter_that_is_cancelled_leaves_the_queue() -> None:
    limiter = Limiter("reads", concurrency=1, queue=1)
    hold = asyncio.Event()

    async def holder() -> None:
        async with limiter.slot():
            await hold.wait()

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(holder())
    await asyncio.sleep(0.01)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    other = asyncio.create_task(holder())  # the queue has room again
    await asyncio.sleep(0.01)
    hold.set()
    await asyncio.gather(first, other)


def test_a_limiter_needs_a_slot() -> None:
    with pytest.raises(ValueError):
        Limiter("x", concurrency=0, queue=1)


def test_a_caller_gets_its_rate_and_a_burst_others_their_own() -> None:
    now = [100.0]
    throttle = Throttle(per_second=2.0, burst=3, clock=lambda: now[0])
    assert [throttle.wait("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert throttle.wait("a") == pytest.approx(0.5)
    assert throttle.wait("b") == 0.0  # another caller
    now[0] += 0.5  # one request's worth comes back
    assert throttle.wait("a") == 0.0
    assert throttle.wait("a") > 0


async def test_only_a_429_waits_in_the_tarpit_and_only_so_many_at_once() -> None:
    tarpit = Tarpit(delay=0.2, most=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await tarpit.hold(403)
    assert loop.time() - started < 0.1
    first = asyncio.create_task(tarpit.hold(429))
    await asyncio.sleep(0.01)
    started = loop.time()
    await tarpit.hold(429)  # the tarpit is full: answered at once
    assert loop.time() - started < 0.1
    await first
    assert loop.time() - started >= 0.15

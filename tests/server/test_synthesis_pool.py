"""The synthesis pool's order: a new request's first step goes ahead of other streams' next chunks,
and those never wait more than the lead behind new arrivals."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from voicesmith.server.services import SynthesisPool


def _run(scenario):
    """``asyncio.run`` in a fresh context: no admission made by another test (in this thread's
    context) reaches these steps."""
    return contextvars.Context().run(asyncio.run, scenario)


def _blocker(pool: SynthesisPool) -> tuple[threading.Event, asyncio.Future]:
    gate = threading.Event()
    return gate, asyncio.ensure_future(pool.run(gate.wait, 10))


async def _busy_until(pool: SynthesisPool, waiting: asyncio.Future, limit: float = 5.0) -> float:
    """Ask for a 20 ms step every 10 ms (from this context) until ``waiting`` is done, or ``limit``
    seconds; how long that took."""
    began = time.monotonic()
    steps = []
    while not waiting.done() and time.monotonic() - began < limit:
        steps.append(asyncio.ensure_future(pool.run(time.sleep, 0.02)))
        await asyncio.sleep(0.01)
    waited = time.monotonic() - began
    await asyncio.gather(*steps)
    return waited


async def _wait_busy(seconds: float = 0.05) -> None:
    await asyncio.sleep(seconds)  # the blocker has reached the pool's one thread


def test_a_new_requests_first_step_goes_before_a_playing_streams_next_chunk():
    async def scenario() -> list[str]:
        pool = SynthesisPool(1)
        order: list[str] = []

        def chunks():
            for n in range(3):
                order.append(f"chunk {n}")
                yield n

        gate, blocker = _blocker(pool)
        await _wait_busy()
        stream = pool.iterate(chunks(), started=True)  # a stream that is playing already
        next_chunk = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.01)
        first_step = asyncio.ensure_future(pool.run(order.append, "new request"))
        await asyncio.sleep(0.01)
        gate.set()
        await asyncio.gather(blocker, next_chunk, first_step)
        await stream.aclose()
        pool.shutdown()
        return order

    assert _run(scenario()) == ["new request", "chunk 0"]


def test_a_streams_next_chunk_is_not_starved_by_new_arrivals():
    async def scenario() -> tuple[float, list[str]]:
        pool = SynthesisPool(1)
        pool.CONTINUATION_LEAD = 0.2
        order: list[str] = []

        def chunks():
            order.append("chunk")
            yield 1

        stream = pool.iterate(chunks(), started=True)
        waiting = asyncio.ensure_future(stream.__anext__())
        waited = await _busy_until(pool, waiting)  # new requests keep coming
        await stream.aclose()
        pool.shutdown()
        return waited, order

    waited, order = _run(scenario())
    assert order == ["chunk"]
    assert waited < 1.0  # the lead (0.2 s) and the step running then, not as long as arrivals last


def test_a_step_whose_caller_gave_up_does_not_run_and_shutdown_cancels_what_waits():
    async def scenario() -> list[str]:
        pool = SynthesisPool(1)
        ran: list[str] = []
        gate, blocker = _blocker(pool)
        await _wait_busy()
        abandoned = asyncio.ensure_future(pool.run(ran.append, "abandoned"))
        queued = asyncio.ensure_future(pool.run(ran.append, "queued"))
        await asyncio.sleep(0.01)
        abandoned.cancel()
        pool.shutdown()
        gate.set()
        await blocker
        with pytest.raises(asyncio.CancelledError):
            await queued
        with pytest.raises(RuntimeError):
            await pool.run(ran.append, "after shutdown")
        return ran

    assert _run(scenario()) == []


def test_errors_reach_the_caller_and_the_request_context_reaches_the_thread():
    request = contextvars.ContextVar("request", default="none")

    async def scenario() -> str:
        pool = SynthesisPool(2)
        request.set("req-1")
        seen = await pool.run(request.get)
        with pytest.raises(ZeroDivisionError):
            await pool.run(lambda: 1 / 0)
        pool.shutdown()
        return seen

    assert _run(scenario()) == "req-1"


def test_an_admitted_requests_later_setup_steps_go_before_a_newer_requests_first():
    """A request that began (was admitted) earlier finishes its setup first: its next step jumps the
    first step of a request admitted after it, so a burst of arrivals does not push back the first
    audio of requests already under way."""
    from voicesmith.server.services import Admission

    async def scenario() -> list[str]:
        pool = SynthesisPool(1)
        admission = Admission(running=4, queued=0)
        order: list[str] = []
        gate, blocker = _blocker(pool)
        await _wait_busy()
        older_admitted, newer_queued = asyncio.Event(), asyncio.Event()

        async def older() -> None:
            ticket = admission.admit()
            older_admitted.set()
            await newer_queued.wait()  # its next step reaches the pool after the newer one's first
            await pool.run(order.append, "older request, next step")
            ticket.release()

        async def newer() -> None:
            await older_admitted.wait()
            await asyncio.sleep(0.01)
            ticket = admission.admit()
            step = asyncio.ensure_future(pool.run(order.append, "newer request, first step"))
            await asyncio.sleep(0.01)
            newer_queued.set()
            await step
            ticket.release()

        tasks = [asyncio.ensure_future(older()), asyncio.ensure_future(newer())]
        await asyncio.sleep(0.05)
        gate.set()
        await asyncio.gather(blocker, *tasks)
        pool.shutdown()
        return order

    assert _run(scenario()) == ["older request, next step", "newer request, first step"]


def test_a_long_lived_requests_steps_do_not_starve_a_stream():
    """A request admitted long ago (a text stream that lives for minutes) keeps asking for steps of
    its own; they are due at most the lead before they arrive, so a playing stream's next chunk still
    runs within about twice the lead."""
    from voicesmith.server.services import Admission

    async def scenario() -> float:
        pool = SynthesisPool(1)
        pool.CONTINUATION_LEAD = 0.2
        Admission(running=1, queued=0).admit()  # this context's request was admitted ...
        await asyncio.sleep(0.5)  # ... well before what follows

        def chunks():
            yield 1

        stream = pool.iterate(chunks(), started=True)
        waiting = asyncio.ensure_future(contextvars.Context().run(asyncio.ensure_future, stream.__anext__()))
        waited = await _busy_until(pool, waiting)  # the old request keeps the pool busy
        await stream.aclose()
        pool.shutdown()
        return waited

    assert _run(scenario()) < 1.5

"""Admission's Retry-After hint: many clients that honour it keep the pool full and cost few refusals.

A simulation on a fake clock (no server, no sleeping): ``clients`` clients each send a request, and on a
ThrottlingError come back after its ``retry_after``; the pool runs ``running`` requests at once, each
for a fixed time. benchmarks/load.py measures the same on a real server.
"""

from __future__ import annotations

import heapq
import random

import pytest

from voicesmith.errors import ThrottlingError
from voicesmith.server import services as services_module
from voicesmith.server.services import Admission

SERVICE_SECONDS = 0.25


def _simulate(monkeypatch, clients: int, seconds: float = 60.0) -> tuple[float, float]:
    """Run the simulation; (refusals per completed request, pool busy share) over its second half."""
    clock = [0.0]
    monkeypatch.setattr(services_module.time, "monotonic", lambda: clock[0])
    random.seed(7)
    admission = Admission(running=2, queued=2)
    events: list[tuple[float, int, str, object]] = []  # (time, order, kind, payload)
    order = iter(range(10**9))
    for client in range(clients):
        heapq.heappush(events, (random.uniform(0, 0.5), next(order), "arrive", client))
    queue: list[tuple[int, object]] = []
    busy = 0
    busy_seconds = refusals = completions = 0.0
    half = seconds / 2
    last = 0.0
    while events:
        now, _, kind, payload = heapq.heappop(events)
        if now > seconds:
            break
        if now > half:
            busy_seconds += busy * (now - max(last, half)) / admission.running
        last = now
        clock[0] = now
        if kind == "arrive":
            try:
                ticket = admission.admit()
            except ThrottlingError as error:
                refusals += now > half
                heapq.heappush(events, (now + error.retry_after, next(order), "arrive", payload))
                continue
            queue.append((payload, ticket))
        else:  # "done": the client sends its next request at once
            client, ticket = payload
            ticket.release()
            busy -= 1
            completions += now > half
            heapq.heappush(events, (now, next(order), "arrive", client))
        while queue and busy < admission.running:
            client, ticket = queue.pop(0)
            busy += 1
            heapq.heappush(events, (now + SERVICE_SECONDS, next(order), "done", (client, ticket)))
    return refusals / max(1.0, completions), busy_seconds / half


@pytest.mark.parametrize("clients", [8, 32, 128])
def test_clients_that_honour_the_hint_keep_the_pool_full_with_few_refusals(monkeypatch, clients):
    refusals_per_request, busy = _simulate(monkeypatch, clients)
    assert busy > 0.97  # no place stays empty for long: the hint is not too long
    assert refusals_per_request < 4  # nor too short: a fixed one-round hint makes ~clients/4 here


def test_a_refusal_names_a_wait_of_at_least_one_pool_round(monkeypatch):
    monkeypatch.setattr(services_module.time, "monotonic", lambda: 100.0)
    admission = Admission(running=1, queued=0)
    admission.admit()
    with pytest.raises(ThrottlingError) as refused:
        admission.admit()
    assert 0.5 <= refused.value.retry_after <= Admission.MAX_RETRY_SECONDS
    assert "retry after" in refused.value.message

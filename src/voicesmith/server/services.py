"""What the routes work with: one :class:`Services` per app, built by ``create_app`` and injected.

Also the two lookups several routes share: parsed lexicons by name (cached per stored version) and a
voice id checked against the catalog and the custom-voice jobs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import itertools
import logging
import math
import os
import queue
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from fastapi import Depends

from voicesmith.engine.catalog import VoiceInfo
from voicesmith.engine.polly_voices import PollyVoiceMap, polly_voice
from voicesmith.engine.synthesizer import Synthesizer
from voicesmith.errors import (
    ConflictError,
    LexiconNotFoundError,
    ThrottlingError,
    ValidationError,
    VoiceNotFoundError,
)
from voicesmith.server.cache import ResponseCache
from voicesmith.server.webhooks import WebhookSender
from voicesmith.settings import Settings
from voicesmith.tasks.runner import TaskRunner
from voicesmith.tasks.storage import OutputStorage, SharedFolder
from voicesmith.tasks.store import ACTIVE, Store
from voicesmith.text.lexicon import Lexicon, check_lexicon_names, parse_lexicon

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")
_DONE = object()


SYNTHESIS_NICE = 5
"""How much lower than the event loop the synthesis threads run (Linux: niceness is per thread, and
onnxruntime's own threads, made by a synthesis thread when it loads a voice, inherit it)."""


def _lower_priority() -> None:
    """Synthesis threads yield the CPU to the event loop, which answers throttles, refusals and health
    checks: under load those stay prompt (benchmarks/load.py), and synthesis loses nothing overall."""
    try:
        thread = threading.get_native_id()
        os.setpriority(
            os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + SYNTHESIS_NICE)
        )
    except (AttributeError, OSError):  # not Linux, or not allowed
        pass


_ADMITTED: contextvars.ContextVar[float | None] = contextvars.ContextVar("synthesis_admitted", default=None)
"""When the request of this context was admitted (:class:`Ticket`): its own steps are due from then."""


class SynthesisPool:
    """A bounded pool of synthesis threads: the event loop never runs synthesis, and at most ``size``
    steps run at once. Streams interleave step by step, so one long text cannot starve short ones.

    Steps are served earliest deadline first, not in arrival order. A request's own steps (preparing,
    opening, its first chunk: whatever :meth:`run` is given) are due when the request was admitted
    (but never more than :attr:`CONTINUATION_LEAD` before they arrive; outside an admitted request,
    when they arrive), so a request that has begun finishes its setup before later ones start theirs;
    a stream's later chunks are due :attr:`CONTINUATION_LEAD` seconds after they arrive, as a stream
    already playing has that much audio in hand. Every step is thus due within that lead of its
    arrival, so none waits behind later arrivals for more than about twice the lead. So a new request's first
    audio waits for the steps running now, not for every other stream's next step (with 8 streams on 2
    threads that queue was a second or more), and no stream's next chunk waits more than the lead behind
    new arrivals, however many keep coming.
    """

    CONTINUATION_LEAD = 0.5
    """Seconds a stream's next chunk yields to new requests' first steps."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._queue: queue.PriorityQueue[tuple[float, int, Any]] = queue.PriorityQueue()
        self._order = itertools.count()  # FIFO among equal deadlines
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"synthesis_{n}", daemon=True) for n in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        _lower_priority()
        while True:
            _, _, item = self._queue.get()
            if item is None:
                return
            future, function, args = item
            if not future.set_running_or_notify_cancel():  # its caller gave up while it waited
                continue
            try:
                future.set_result(function(*args))
            except BaseException as error:  # noqa: BLE001 - handed to the awaiting caller
                future.set_exception(error)

    def _submit(self, lead: float | None, function: Callable[..., T], *args: object) -> asyncio.Future[T]:
        """Queue ``function(*args)``, due ``lead`` seconds from now (None: the request's own step)."""
        if self._closed:
            raise RuntimeError("cannot schedule new futures after shutdown")
        now = time.monotonic()
        if lead is None:  # at most CONTINUATION_LEAD earlier than now: a long-lived request (a text
            # stream) or a stale admission in its context can never starve the other streams
            due = max(_ADMITTED.get() or now, now - self.CONTINUATION_LEAD)
        else:
            due = now + lead
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        context = contextvars.copy_context()  # the request id reaches log lines made in the pool
        item = (future, context.run, (function, *args))
        self._queue.put((due, next(self._order), item))
        return asyncio.wrap_future(future)

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """``function(*args)`` in the pool, as one of the request's own steps."""
        return await self._submit(None, function, *args)

    async def iterate(self, iterator: Iterator[T], *, started: bool = False) -> AsyncIterator[T]:
        """Drive a blocking iterator in the pool; closing the async iterator closes it (client gone).
        Its first step is due at once unless ``started`` (the stream is playing already)."""
        lead: float | None = self.CONTINUATION_LEAD if started else None
        try:
            while True:
                item = await self._submit(lead, next, iterator, _DONE)
                if item is _DONE:
                    return
                lead = self.CONTINUATION_LEAD
                yield item  # type: ignore[misc]
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                try:
                    await self.run(close)
                except ValueError:  # still running a step in the pool: it ends with it
                    pass

    async def started(self, iterator: Iterator[T]) -> AsyncIterator[T]:
        """Run ``iterator``'s first step in the pool now; returns all its items (that first one, then
        the rest as :meth:`iterate` drives them). Routes that stream call it before they answer: bad
        input and a failing first step raise here, while a proper error answer can still be sent."""
        first = await self.run(next, iterator, _DONE)
        return self._from(first, iterator)

    async def _from(self, first: object, iterator: Iterator[T]) -> AsyncIterator[T]:
        if first is _DONE:
            return
        try:
            yield first  # type: ignore[misc]
        except BaseException:  # closed after the first item (client gone): stop the synthesis too
            close = getattr(iterator, "close", None)
            if close is not None:
                with contextlib.suppress(ValueError):
                    await self.run(close)
            raise
        async for item in self.iterate(iterator, started=True):
            yield item

    def shutdown(self) -> None:
        """Cancel what waits and let the threads go once their step is done (never waits for them)."""
        self._closed = True
        while True:
            try:
                _, _, item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        for _ in self._threads:
            self._queue.put((-math.inf, next(self._order), None))


def _synthesis_route() -> None:
    """Marks a route whose requests synthesize while they are answered (see :class:`Admission`)."""


SYNTHESIS = Depends(_synthesis_route)
"""Add to a synthesizing route's ``dependencies``: its requests then pass :class:`Admission`."""


class Ticket:
    """One admitted synthesis request; :meth:`release` when its answer is complete (idempotent)."""

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self._started = time.monotonic()
        self._released = False
        _ADMITTED.set(self._started)  # in the request's context: its pool steps are due from now

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._admission._release(time.monotonic() - self._started)


class _RateMeter:
    """Events per second, exponentially weighted over the last ``window`` seconds (O(1) memory)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._rate = 0.0
        self._then = time.monotonic()

    def rate(self, now: float) -> float:
        return self._rate * math.exp(-(now - self._then) / self.window)

    def add(self, now: float) -> None:
        self._rate = self.rate(now) + 1.0 / self.window
        self._then = now


class Admission:
    """The bounded queue in front of the synthesis pool, per process.

    At most ``running + queued`` synthesis requests are in the process at once: ``running`` of them
    share the pool's threads, the rest wait in its queue. One more is refused at once with a
    :class:`ThrottlingError` (Polly's ``ThrottlingException``, OpenAI's 429). Refusing early keeps the
    latency of admitted requests bounded (a queue of ``queued`` requests, not of everyone who connects)
    and the throughput at the pool's.

    The ``Retry-After`` hint is what keeps refusals cheap: every refusal costs CPU the pool needs, so
    the waiting clients should come back about as fast as places free, not faster. The process cannot
    see its waiting clients, but it can count them: clients that each retry every ``hint`` seconds make
    ``refusals/s x hint`` of them. Spread over the pool's completions per second, that is how long the
    last of them waits for a place; the hint aims for two retries per free place (so a place never stays
    empty for long) and is never shorter than one round of the pool. Spread +-50 %: clients told the
    same wait would come back together.

    The auth middleware admits requests to routes marked :data:`SYNTHESIS` and releases their ticket
    when the answer (a whole stream) has been sent.
    """

    RETRIES_PER_PLACE = 2.0
    """Retries aimed at each place that frees: more wastes CPU on refusals, fewer leaves places empty."""
    MAX_RETRY_SECONDS = 30.0

    def __init__(self, running: int, queued: int) -> None:
        self.running = max(1, running)
        self.queued = max(0, queued)
        self.capacity = self.running + self.queued
        self.active = 0
        self.throttled = 0
        self._mean_seconds = 1.0
        self._hint = 1.0  # the mean hint given lately (its spread averages out)
        self._refusals = _RateMeter(window=5.0)
        self._completions = _RateMeter(window=5.0)
        self._lock = threading.Lock()

    @staticmethod
    def marks(marks: Sequence[object]) -> bool:
        return _synthesis_route in marks

    def admit(self) -> Ticket:
        with self._lock:
            if self.active >= self.capacity:
                self.throttled += 1
                wait = self._retry_hint(time.monotonic()) * random.uniform(0.5, 1.5)
                raise ThrottlingError(
                    f"Rate exceeded: {self.active} synthesis requests are in progress or queued, the most "
                    f"this server takes ({self.running} at once + {self.queued} waiting); retry after "
                    f"{wait:.1f} s",
                    retry_after=max(0.2, wait),
                )
            self.active += 1
        return Ticket(self)

    def _retry_hint(self, now: float) -> float:
        """Seconds a refused client should wait (before the spread); call with the lock held."""
        self._refusals.add(now)
        round_seconds = self._mean_seconds / self.running  # a place frees about this often
        freed_per_second = max(self._completions.rate(now), 1.0 / round_seconds)
        waiting = self._refusals.rate(now) * self._hint  # clients, each retrying every ``_hint`` s
        hint = waiting / (self.RETRIES_PER_PLACE * freed_per_second)
        hint = min(self.MAX_RETRY_SECONDS, max(round_seconds, hint))
        self._hint = 0.9 * self._hint + 0.1 * hint
        return hint

    def _release(self, seconds: float) -> None:
        with self._lock:
            self.active -= 1
            self._mean_seconds = 0.8 * self._mean_seconds + 0.2 * seconds
            self._completions.add(time.monotonic())


class RateLimiter:
    """Per-key token buckets (``rate`` requests per second, ``burst`` at once), like Polly's TPS quotas.

    Keys are authenticated principals (access key ids, hashed API keys), so the table is as small as
    the configured keys. Per process: with ``--workers N`` a key may make N times the rate.
    """

    def __init__(self, rate: float, burst: int = 0) -> None:
        self.rate = rate
        self.burst = float(burst or max(1, math.ceil(2 * rate)))
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """Spend one token of ``key``; ThrottlingError when none is left."""
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                wait = (1 - tokens) / self.rate
                raise ThrottlingError(
                    f"Rate exceeded: this key may make {self.rate:g} requests per second "
                    f"(bursts of {self.burst:g}); retry after {wait:.2f} s",
                    retry_after=wait,
                )
            self._buckets[key] = (tokens - 1, now)


@dataclass
class Services:
    settings: Settings
    synthesizer: Synthesizer
    store: Store
    storage: OutputStorage
    pool: SynthesisPool
    runner: TaskRunner | None = None
    """Synthesis-task workers."""
    voice_runner: TaskRunner | None = None
    """Voice-job workers (dispatch to the training backend and watch; never train here)."""
    training_backend: Any = None
    """The configured ``voicesmith.tasks.voice_jobs.TrainingBackend`` (None: jobs run in-process)."""
    admission: Admission = field(default_factory=lambda: Admission(1, 2))
    rate_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(0))
    webhooks: WebhookSender | None = None
    shared: SharedFolder | None = None
    """The folder all nodes share (``shared_storage_url``), or None on a single node."""
    cache: ResponseCache | None = None
    """Answers to identical synthesis requests (None: response_cache_mb = 0)."""
    _lexicon_cache: dict[tuple[str, datetime], Lexicon] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- lexicons ------------------------------------------------------------------------------------------

    def lexicons(self, names: Sequence[str]) -> list[Lexicon]:
        """The stored lexicons ``names`` (request order), parsed; LexiconNotFoundError for a missing one."""
        result = []
        for name in check_lexicon_names(list(names)):
            row = self.store.get_lexicon(name)
            if row is None:
                raise LexiconNotFoundError(f"lexicon {name!r} does not exist: store it with PutLexicon first")
            key = (name, row.modified)
            with self._lock:
                lexicon = self._lexicon_cache.get(key)
            if lexicon is None:
                lexicon = parse_lexicon(name, row.content)
                with self._lock:
                    self._lexicon_cache = {k: v for k, v in self._lexicon_cache.items() if k[0] != name}
                    self._lexicon_cache[key] = lexicon
            result.append(lexicon)
        return result

    # -- voices --------------------------------------------------------------------------------------------

    @functools.cached_property
    def polly_voices(self) -> PollyVoiceMap:
        return PollyVoiceMap(self.settings)

    def voice(self, voice_id: str, language: str | None = None) -> VoiceInfo:
        """A voice that can speak now: an installed voice's id, or a Polly voice name (``Joanna``), which
        speaks with the installed voice :class:`PollyVoiceMap` picks (``language``: the language a
        bilingual Polly voice is asked to speak). A custom voice still being made (or failed) is a
        ConflictError."""
        try:
            return self._installed_voice(voice_id)
        except (VoiceNotFoundError, ValidationError):
            polly = polly_voice(voice_id)
            if polly is None:
                raise
        target, why = self.polly_voices.choose(polly, self.synthesizer.voices(), language)
        try:
            return self._installed_voice(target)
        except VoiceNotFoundError:
            _LOGGER.error("polly voice map: %s -> %r, which is not installed", polly.id, target)
            raise VoiceNotFoundError(
                f"voice {polly.id!r} is served by {target!r} ({why}), which is not installed: the "
                "server's polly_voice_map needs that voice or another entry; use an installed voice meanwhile"
            ) from None

    def _installed_voice(self, voice_id: str) -> VoiceInfo:
        try:
            return self.synthesizer.catalog.get(voice_id)
        except VoiceNotFoundError:
            job = self.store.get_voice_job(voice_id)
            if job is not None and job.status != ACTIVE:
                reason = f": {job.status_reason}" if job.status_reason else ""
                raise ConflictError(
                    f"voice {voice_id!r} is {job.status}{reason}; it can speak once it is active"
                ) from None
            raise

    def close(self) -> None:
        if self.runner is not None:
            self.runner.stop(self.settings.shutdown_drain_seconds)
        if self.webhooks is not None:
            self.webhooks.close()
        if self.voice_runner is not None:
            self.voice_runner.stop(self.settings.shutdown_drain_seconds)
        self.pool.shutdown()
        self.store.close()

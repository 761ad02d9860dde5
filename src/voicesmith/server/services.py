"""What the routes work with: one :class:`Services` per app, built by ``create_app`` and injected.

Also the two lookups several routes share: parsed lexicons by name (cached per stored version) and a
voice id checked against the catalog and the custom-voice jobs.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from voicesmith.engine.catalog import VoiceInfo
from voicesmith.engine.polly_voices import PollyVoiceMap, polly_voice
from voicesmith.engine.synthesizer import Synthesizer
from voicesmith.errors import ConflictError, LexiconNotFoundError, ValidationError, VoiceNotFoundError
from voicesmith.settings import Settings
from voicesmith.tasks.runner import TaskRunner
from voicesmith.tasks.storage import OutputStorage
from voicesmith.tasks.store import ACTIVE, Store
from voicesmith.text.lexicon import Lexicon, check_lexicon_names, parse_lexicon

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")
_DONE = object()


class SynthesisPool:
    """A bounded thread pool for synthesis: the event loop never runs it, and at most ``size`` synthesis
    steps run at once (streams interleave step by step, so one long text cannot starve short ones)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="synthesis")

    async def run(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def iterate(self, iterator: Iterator[T]) -> AsyncIterator[T]:
        """Drive a blocking iterator in the pool; closing the async iterator closes it (client gone)."""
        try:
            while True:
                item = await self.run(next, iterator, _DONE)
                if item is _DONE:
                    return
                yield item  # type: ignore[misc]
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                try:
                    await self.run(close)
                except ValueError:  # still running a step in the pool: it ends with it
                    pass

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


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
            self.runner.stop()
        if self.voice_runner is not None:
            self.voice_runner.stop()
        self.pool.shutdown()
        self.store.close()

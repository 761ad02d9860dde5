"""A bounded cache of synthesis answers: identical requests are answered from memory.

Synthesis is deterministic per request (the noise is seeded from the request), so an answer can be
replayed. The key is a digest of everything that changes the bytes: the door and its own options
(OpenAI's ``stream_format``), the text, text type, voice id *and the digest of the voice's model*, speaker,
rate, volume, noise, seed, emotion and intensity, each lexicon's name *and content*, output format,
sample rate and speech-mark types. A voice replaced under the same id, or a lexicon stored again with
new content, gives new keys, on every node (digests come from the shared catalog and database), so
nothing stale is ever served; old entries age out. Only answers that completed are stored; answers
larger than a quarter of the budget are not. It is on where ``response_cache_mb`` is set (default 0: off).

With ``response_cache_shared`` (and ``shared_storage_url``), answers are also written to
``<shared>/response-cache/<key>``, and a node that misses in memory looks there before synthesizing,
so one node's answer serves every node. That tier's size is the store's business: give the prefix a
lifecycle rule (expiry) on S3/MinIO.

Answers say ``x-voicesmith-cache: hit`` or ``miss``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fastapi import Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from voicesmith.server.metrics import CACHE

_LOGGER = logging.getLogger(__name__)

CACHE_HEADER = "x-voicesmith-cache"
_NOT_REPLAYED = {"content-length", "content-type", "x-amzn-requestid", CACHE_HEADER}


@dataclass(frozen=True)
class CachedAnswer:
    body: bytes
    media_type: str
    headers: dict[str, str]


class SharedTier:
    """Answers as objects in the shared storage: a 4-byte header length, a JSON header, the body."""

    PREFIX = "response-cache"

    def __init__(self, folder: object) -> None:
        self.folder = folder  # a tasks.storage.SharedFolder
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cache-writer")

    def _path(self, key: str) -> str:
        return f"{self.folder.root}/{self.PREFIX}/{key[:2]}/{key}"  # type: ignore[attr-defined]

    def get(self, key: str) -> CachedAnswer | None:
        try:
            with self.folder.fs.open(self._path(key), "rb") as handle:  # type: ignore[attr-defined]
                data = handle.read()
            size = int.from_bytes(data[:4], "big")
            meta = json.loads(data[4 : 4 + size])
            return CachedAnswer(data[4 + size :], str(meta["media_type"]), dict(meta["headers"]))
        except FileNotFoundError:
            return None
        except Exception:  # a broken or unreachable store is a miss, never an error
            _LOGGER.warning("reading the shared response cache failed", exc_info=True)
            return None

    def put(self, key: str, answer: CachedAnswer) -> None:
        """Write in the background: the answer has been sent already."""
        self._writer.submit(self._write, key, answer)

    def _write(self, key: str, answer: CachedAnswer) -> None:
        meta = json.dumps({"media_type": answer.media_type, "headers": answer.headers}).encode()
        try:
            with self.folder.fs.open(self._path(key), "wb") as handle:  # type: ignore[attr-defined]
                handle.write(len(meta).to_bytes(4, "big") + meta + answer.body)
        except Exception:
            _LOGGER.warning("writing the shared response cache failed", exc_info=True)


class ResponseCache:
    """Least-recently-used answers, at most ``max_bytes`` of bodies in all. Thread-safe."""

    def __init__(self, max_bytes: int, shared: SharedTier | None = None) -> None:
        self.max_bytes = max_bytes
        self.shared = shared
        self.max_entry_bytes = max_bytes // 4
        self._entries: OrderedDict[str, CachedAnswer] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def get(self, key: str) -> CachedAnswer | None:
        with self._lock:
            answer = self._entries.get(key)
            if answer is not None:
                self._entries.move_to_end(key)
            return answer

    async def lookup(self, key: str) -> tuple[CachedAnswer | None, str]:
        """An answer and where it came from (``memory``, ``shared``), or (None, "")."""
        answer = self.get(key)
        if answer is not None:
            return answer, "memory"
        if self.shared is None:
            return None, ""
        answer = await run_in_threadpool(self.shared.get, key)
        if answer is not None:
            self._keep(key, answer)
            return answer, "shared"
        return None, ""

    def put(self, key: str, answer: CachedAnswer) -> None:
        if len(answer.body) > self.max_entry_bytes:
            return
        self._keep(key, answer)
        if self.shared is not None:
            self.shared.put(key, answer)

    def _keep(self, key: str, answer: CachedAnswer) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._entries[key] = answer
            self._bytes += len(answer.body)
            while self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped.body)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


def request_key(door: str, speech: object, voice_digest: str, options: tuple = ()) -> str:
    """The cache key of a prepared speech request (a :class:`~voicesmith.server.speech.PreparedSpeech`)."""
    request = speech.request  # type: ignore[attr-defined]
    lexicons = [
        [getattr(lexicon, "name", ""), hashlib.sha256(getattr(lexicon, "content", "").encode()).hexdigest()]
        for lexicon in request.lexicons
    ]
    material = [
        door,
        list(options),
        request.text,
        request.text_type,
        request.voice,
        voice_digest,
        request.speaker,
        request.rate,
        request.volume_db,
        request.noise_scale,
        request.noise_w,
        request.seed,
        request.emotion,
        request.intensity,
        lexicons,
        speech.output_format,  # type: ignore[attr-defined]
        speech.sample_rate,  # type: ignore[attr-defined]
        list(speech.mark_types),  # type: ignore[attr-defined]
    ]
    return hashlib.sha256(json.dumps(material, default=str).encode()).hexdigest()


async def cached(
    cache: ResponseCache | None, cache_key: str, respond: Callable[[], Awaitable[Response]]
) -> Response:
    """Answer from ``cache`` under ``cache_key``, or with ``respond()``, storing its body once complete."""
    if cache is None:
        return await respond()
    answer, tier = await cache.lookup(cache_key)
    if answer is not None:
        CACHE.labels(f"hit-{tier}").inc()
        return Response(
            answer.body, media_type=answer.media_type, headers={**answer.headers, CACHE_HEADER: "hit"}
        )
    CACHE.labels("miss").inc()
    response = await respond()
    response.headers[CACHE_HEADER] = "miss"
    headers = {k: v for k, v in response.headers.items() if k.lower() not in _NOT_REPLAYED}
    media_type = response.media_type or response.headers.get("content-type", "application/octet-stream")
    if isinstance(response, StreamingResponse):
        response.body_iterator = _tee(response.body_iterator, cache, cache_key, media_type, headers)
    elif response.status_code == 200:
        cache.put(cache_key, CachedAnswer(bytes(response.body), media_type, headers))
    return response


async def _tee(
    blocks: AsyncIterator[bytes | str],
    cache: ResponseCache,
    key: str,
    media_type: str,
    headers: dict[str, str],
) -> AsyncIterator[bytes | str]:
    """Stream the blocks on; store the whole body only if the stream ran to its end within the limit."""
    parts: list[bytes] | None = []
    size = 0
    async for block in blocks:
        data = block.encode() if isinstance(block, str) else block
        if parts is not None:
            size += len(data)
            if size <= cache.max_entry_bytes:
                parts.append(data)
            else:
                parts = None
        yield block
    if parts is not None:
        cache.put(key, CachedAnswer(b"".join(parts), media_type, headers))

"""Overload and slow clients: admission control, per-key rate limits, header/body timeouts and the
connection limit, through boto3, the openai SDK and raw sockets against a running server."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import openai
import pytest
from botocore.exceptions import ClientError

from .harness import (
    ACCESS_KEY,
    OPENAI_KEY,
    SECRET_KEY,
    make_settings,
    openai_client,
    polly_client,
    serve,
    wait_for,
)

LONG_TEXT = " ".join(
    f"Sentence number {n} keeps the only synthesis slot busy for a while." for n in range(40)
)


@pytest.fixture(scope="module")
def narrow(tmp_path_factory, shared_cache):
    """One synthesis at a time and no queue: the second concurrent synthesis is throttled."""
    settings = make_settings(
        tmp_path_factory.mktemp("narrow"), shared_cache, max_concurrent_synthesis=1, synthesis_queue=0
    )
    yield from serve(settings)


class HeldStream:
    """A long synthesis whose answer is being streamed: it holds its admission ticket until
    :meth:`release` closes it (the client goes away, the server stops)."""

    def __init__(self, url: str) -> None:
        self.started = threading.Event()
        self._release = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self.thread.start()
        assert self.started.wait(60), "the long request did not start"

    def _run(self, url: str) -> None:
        body = {"Text": LONG_TEXT, "VoiceId": "joe", "OutputFormat": "pcm"}
        with httpx.stream("POST", f"{url}/v1/speech", json=body, timeout=120) as answer:
            assert answer.status_code == 200
            for _ in answer.iter_bytes():
                self.started.set()
                if self._release.wait(30):
                    return

    def release(self) -> None:
        self._release.set()
        self.thread.join(60)


def test_beyond_capacity_is_throttled_at_once(narrow):
    held = HeldStream(narrow.url)
    try:
        polly = polly_client(narrow.url)
        began = time.monotonic()
        with pytest.raises(ClientError) as caught:
            polly.synthesize_speech(Text="One more.", VoiceId="joe", OutputFormat="mp3")
        assert time.monotonic() - began < 2
        error = caught.value.response
        assert error["Error"]["Code"] == "ThrottlingException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400  # as Polly sends it; boto3 retries it
        assert int(error["ResponseMetadata"]["HTTPHeaders"]["retry-after"]) >= 1
        with pytest.raises(openai.RateLimitError) as limited:
            openai_client(narrow.url).audio.speech.create(model="tts-1", voice="alloy", input="And one more.")
        assert limited.value.status_code == 429
        assert limited.value.body["code"] == "rate_limit_exceeded"
        assert limited.value.response.headers["retry-after"]
        # Routes that do not synthesize are not queued behind it.
        assert polly.describe_voices()["Voices"]
    finally:
        held.release()
    audio = wait_for(
        lambda: _try(
            lambda: polly_client(narrow.url).synthesize_speech(
                Text="Room.", VoiceId="joe", OutputFormat="pcm"
            )
        ),
        timeout=30,
    )
    assert len(audio["AudioStream"].read()) > 4000


def _try(call):
    try:
        return call()
    except ClientError:
        return None


def test_boto3_retries_a_throttled_request(narrow):
    """boto3's standard retry mode backs off and retries ThrottlingException until there is room."""
    import boto3
    from botocore.config import Config

    held = HeldStream(narrow.url)
    retrying = boto3.client(
        "polly",
        endpoint_url=narrow.url,
        region_name="us-east-1",
        aws_access_key_id="a",
        aws_secret_access_key="b",
        config=Config(retries={"mode": "standard", "max_attempts": 10}),
    )
    threading.Timer(1.0, held.release).start()
    answer = retrying.synthesize_speech(Text="Eventually.", VoiceId="joe", OutputFormat="pcm")
    assert answer["ResponseMetadata"]["RetryAttempts"] >= 1
    assert len(answer["AudioStream"].read()) > 4000


def test_per_key_rate_limit(tmp_path, shared_cache):
    settings = make_settings(
        tmp_path / "rate",
        shared_cache,
        aws_credentials={ACCESS_KEY: SECRET_KEY},
        openai_api_keys=[OPENAI_KEY],
        rate_limit_per_second=0.2,
        rate_limit_burst=2,
    )
    for running in serve(settings):
        polly = polly_client(running.url)
        polly.describe_voices()
        polly.describe_voices()
        with pytest.raises(ClientError) as caught:
            polly.describe_voices()
        assert caught.value.response["Error"]["Code"] == "ThrottlingException"
        assert "per second" in caught.value.response["Error"]["Message"]
        # Another key has its own bucket.
        client = openai_client(running.url)
        client.models.list()
        client.models.list()
        with pytest.raises(openai.RateLimitError):
            client.models.list()


# -- slow clients ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict(tmp_path_factory, shared_cache):
    settings = make_settings(
        tmp_path_factory.mktemp("strict"),
        shared_cache,
        header_timeout_seconds=1.0,
        body_timeout_seconds=1.0,
        max_connections=60,
    )
    yield from serve(settings)


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _closed_after(sock: socket.socket, began: float, limit: float) -> float | None:
    """Seconds until the server closed ``sock`` (reading what it sent); None if open at ``limit``."""
    sock.settimeout(0.05)
    while time.monotonic() - began < limit:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - began
        except TimeoutError:
            pass
        except OSError:
            return time.monotonic() - began
    return None


def test_slow_loris_connections_are_closed_within_the_header_timeout(strict):
    sockets = [_connect(strict.url) for _ in range(50)]
    began = time.monotonic()
    for sock in sockets:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    stop = threading.Event()

    def dribble() -> None:  # one more header line every 0.2 s: never a whole head
        while not stop.wait(0.2):
            for sock in sockets:
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    pass

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    try:
        assert httpx.get(f"{strict.url}/healthz", timeout=5).status_code == 200  # normal clients go through
        closed = [_closed_after(sock, began, 5.0) for sock in sockets]
    finally:
        stop.set()
        thread.join()
        for sock in sockets:
            sock.close()
    assert all(seconds is not None for seconds in closed), closed
    assert max(closed) < 2.5, max(closed)


def test_stalled_body_is_cut_off(strict):
    sock = _connect(strict.url)
    try:
        began = time.monotonic()
        head = b"POST /v1/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        sock.sendall(head + b"Content-Length: 100\r\n\r\n{")
        assert (_closed_after(sock, began, 5.0) or 99) < 3
    finally:
        sock.close()


def test_idle_connections_make_room_for_real_clients(tmp_path, shared_cache):
    settings = make_settings(tmp_path / "fd", shared_cache, max_connections=4, header_timeout_seconds=30)
    for running in serve(settings):
        idle = []
        for _ in range(4):  # keep-alive connections that answered one request and now sit idle
            sock = _connect(running.url)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            idle.append(sock)
        assert httpx.get(f"{running.url}/healthz", timeout=5).status_code == 200
        busy = []
        for _ in range(4):  # connections in the middle of sending a body: not idle
            sock = _connect(running.url)
            sock.sendall(b"POST /v1/speech HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
            busy.append(sock)
        time.sleep(0.3)
        refused = _connect(running.url)
        refused.settimeout(5)
        answer = refused.recv(65536)
        assert answer.startswith(b"HTTP/1.1 503") and b"ServiceUnavailableException" in answer
        for sock in idle + busy + [refused]:
            sock.close()


def test_a_small_answer_leaves_in_one_send():
    """A response's head and body, written one after the other, reach the socket as one write; a lone
    write (a stream's head before its first chunk) leaves on the loop's next turn; close sends first."""
    import asyncio

    from voicesmith.server.connections import CoalescingTransport

    class Recorder:
        def __init__(self) -> None:
            self.writes: list[bytes] = []
            self.closed = False

        def write(self, data: bytes) -> None:
            self.writes.append(data)

        def is_closing(self) -> bool:
            return self.closed

        def close(self) -> None:
            self.closed = True

        def get_write_buffer_size(self) -> int:
            return 0

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        inner = Recorder()
        transport = CoalescingTransport(inner, loop)  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n")
        assert inner.writes == [] and transport.get_write_buffer_size() > 0
        transport.write(b"{}")
        assert inner.writes == [b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}"]
        transport.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        await asyncio.sleep(0)  # the loop's next turn
        assert len(inner.writes) == 2 and inner.writes[1].startswith(b"HTTP/1.1 200")
        transport.write(b"0\r\n\r\n")
        transport.close()
        assert inner.writes[-1] == b"0\r\n\r\n" and inner.closed
        assert transport.is_closing()  # the rest is the wrapped transport's

    asyncio.run(scenario())

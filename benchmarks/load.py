"""Load benchmark: a real ``voicesmith serve`` subprocess on loopback, driven by many clients at once.

Scenarios are subcommands (add one with a function and an entry in :data:`SCENARIOS`):

``overload``
    32 and 128 closed-loop clients POST short SynthesizeSpeech requests for a fixed time, against the
    server as shipped (admission control: a bounded queue, beyond it ThrottlingException with
    Retry-After) and, as the peer measured in the same run, the same server with an unbounded queue
    (``--synthesis-queue 4096``, which is how it behaved before admission control). Clients honour
    ``retry-after-ms`` as the OpenAI SDK does (up to its 120 s). Each client connects before the
    clock starts, as wrk and k6 do (a kept-alive connection closed by the server is reopened inside the
    request it delays, and counts in its latency). Reported: goodput (completed
    requests/s), p50/p95 of admitted requests, the share of the requests beyond capacity that were
    throttled within 100 ms (also counted without the opening burst: every client's first request in
    the same millisecond), and client timeouts. Targets (issue 10): >= 95 % throttled within 100 ms,
    0 timeouts, goodput at 128 >= 0.9 x goodput at 32.
``slowloris``
    50 connections that dribble header lines and never finish a request head, while a normal client
    keeps making requests: how long each slow connection stays open (target: closed within the
    header timeout) and whether the normal requests are unaffected.

Run: ``nice -n 10 python benchmarks/load.py overload`` (or ``slowloris``, or ``all``). Everything is
bounded: a few seconds of load per run, at most a few thousand requests, traffic to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from harness import percentile, serving

TEXT = "Your table for two is ready."
CLIENT_TIMEOUT = 30.0
FAST = 0.100
OPENAI_MAX_RETRY_AFTER = 120.0
"""The longest Retry-After the OpenAI SDK waits for (``openai._constants.MAX_RETRY_AFTER_DELAY``)."""


# -- overload ----------------------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    clients: int
    seconds: float
    ok: list[float] = field(default_factory=list)
    throttled: list[float] = field(default_factory=list)
    after_first_second: list[float] = field(default_factory=list)
    """The throttled answers to requests sent after the first second (the opening burst, every client
    in the same millisecond, is then behind)."""
    timeouts: int = 0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    probes: list[float] = field(default_factory=list)
    """Latency of GET /healthz during the run: the fastest answer this server can give under that load."""

    @property
    def goodput(self) -> float:
        return len(self.ok) / self.seconds

    @property
    def fast_throttle_share(self) -> float | None:
        beyond = len(self.throttled) + self.timeouts
        if beyond == 0:
            return None
        return sum(1 for seconds in self.throttled if seconds < FAST) / beyond

    @property
    def fast_throttle_share_after_burst(self) -> float | None:
        if not self.after_first_second:
            return None
        return sum(1 for seconds in self.after_first_second if seconds < FAST) / len(self.after_first_second)

    def percentile(self, q: float) -> float | None:
        return percentile(self.ok, q) if self.ok else None


class Connection:
    """A minimal keep-alive HTTP/1.1 client over asyncio streams. 128 httpx clients in one Python
    process cost more CPU than the server's throttling answers; this keeps the load generator's own
    cost small, so the latencies measured are the server's."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, dict[str, str], int]:
        """Status, headers and the body's size. Like any HTTP client, sends again on a new connection
        when a kept-alive one turns out to have been closed by the server (its keep-alive timeout)."""
        reused = self.writer is not None and not self.writer.is_closing()
        try:
            return await self._post(path, body)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()
            if not reused:
                raise
            return await self._post(path, body)

    async def open(self) -> None:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def _post(self, path: str, body: bytes) -> tuple[int, dict[str, str], int]:
        await self.open()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        await self.writer.drain()
        assert self.reader is not None
        status_line = await self.reader.readline()
        if not status_line:
            self.close()
            raise ConnectionError("closed by the server")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        size = 0
        if "content-length" in headers:
            size = len(await self.reader.readexactly(int(headers["content-length"])))
        elif headers.get("transfer-encoding") == "chunked":
            while (length := int((await self.reader.readline()).strip() or b"0", 16)) > 0:
                size += len(await self.reader.readexactly(length + 2)) - 2
            await self.reader.readline()
        if headers.get("connection") == "close":
            self.close()
        return status, headers, size

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.writer = None


async def _client(connection: Connection, began_run: float, until: float, run: Run) -> None:
    body = json.dumps({"Text": TEXT, "VoiceId": "joe", "OutputFormat": "pcm"}).encode()
    while time.monotonic() < until:
        began = time.monotonic()
        try:  # the whole exchange within CLIENT_TIMEOUT, as a client's deadline is
            status, headers, _ = await asyncio.wait_for(connection.post("/v1/speech", body), CLIENT_TIMEOUT)
        except TimeoutError:
            run.timeouts += 1
            connection.close()
            continue
        except (OSError, ValueError, asyncio.IncompleteReadError) as error:
            run.errors += 1
            run.error_kinds[type(error).__name__] = run.error_kinds.get(type(error).__name__, 0) + 1
            connection.close()
            await asyncio.sleep(0.1)
            continue
        seconds = time.monotonic() - began
        if status == 200:
            run.ok.append(seconds)
        elif headers.get("x-amzn-errortype") == "ThrottlingException":
            run.throttled.append(seconds)
            if began - began_run >= 1.0:
                run.after_first_second.append(seconds)
            hint = float(headers.get("retry-after-ms", "1000")) / 1000
            # ...but not past the run's end: a client asleep then sends nothing more, and waiting for
            # it would stretch the run's time (and so shrink its goodput) by a sleep, not by work.
            await asyncio.sleep(min(hint, OPENAI_MAX_RETRY_AFTER, max(0.0, until - time.monotonic())))
        else:
            run.errors += 1
    connection.close()


def _probe(url: str, seconds: float, results: multiprocessing.Queue) -> None:
    """GET /healthz twice a second from a process of its own: the fastest answer the server gives."""
    latencies = []
    until = time.monotonic() + seconds
    with httpx.Client() as http:
        while time.monotonic() < until:
            began = time.monotonic()
            try:
                http.get(f"{url}/healthz", timeout=30)
                latencies.append(time.monotonic() - began)
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    results.put(latencies)


async def _drive(url: str, clients: int, seconds: float, label: str) -> Run:
    run = Run(label, clients, seconds)
    host, port = url.removeprefix("http://").split(":")
    warm = {"Text": "Warm up.", "VoiceId": "joe", "OutputFormat": "pcm"}
    httpx.post(f"{url}/v1/speech", json=warm, timeout=120)
    results: multiprocessing.Queue = multiprocessing.Queue()
    probe = multiprocessing.Process(target=_probe, args=(url, seconds, results))
    probe.start()
    # Connected before the clock starts, as load generators (wrk, k6) and pooled SDK clients are: the
    # latencies are the requests', and the opening burst is every client's request in the same ms.
    connections = [Connection(host, int(port)) for _ in range(clients)]
    await asyncio.gather(*(connection.open() for connection in connections))
    began = time.monotonic()
    until = began + seconds
    await asyncio.gather(*(_client(connection, began, until, run) for connection in connections))
    run.seconds = time.monotonic() - began  # until the last request sent in the window was answered
    run.probes = results.get(timeout=60)
    probe.join(10)
    return run


def _fmt(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "-"
    return f"{value * 100:.1f} %" if unit == "%" else f"{value:.2f} {unit}".strip()


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms" if values else "-"


def overload(args: argparse.Namespace) -> None:
    configurations = [
        ("admission (default queue)", {}),
        ("unbounded queue (peer)", {"synthesis_queue": "4096"}),
    ]
    runs: list[Run] = []
    for label, env in configurations:
        env = {"max_concurrent_synthesis": str(args.pool), **env}
        with serving(env) as (url, _):
            for clients in args.clients:
                runs.append(asyncio.run(_drive(url, clients, args.seconds, label)))
                time.sleep(1)  # let the queue drain between runs
    load = os.getloadavg()[0]
    print(
        f"\noverload: {args.seconds:.0f} s of requests per run (goodput over the time to the last answer), "
        f"pool {args.pool}, text of {len(TEXT)} characters (pcm); "
        f"{os.cpu_count()} cores, load average {load:.1f} at the end (other work on the box counts)"
    )
    header = ("server", "clients", "ok", "goodput/s", "p50 ok", "p95 ok", "throttled", "<100 ms")
    header += ("after 1 s", "p50 thr.", "healthz p50", "timeouts", "err")
    print(" | ".join(f"{h:>10}" if i else f"{h:<26}" for i, h in enumerate(header)))
    for run in runs:
        row = (
            run.label,
            str(run.clients),
            str(len(run.ok)),
            f"{run.goodput:.2f}",
            _fmt(run.percentile(50)),
            _fmt(run.percentile(95)),
            str(len(run.throttled)),
            _fmt(run.fast_throttle_share, "%"),
            _fmt(run.fast_throttle_share_after_burst, "%"),
            _ms(run.throttled),
            _ms(run.probes),
            str(run.timeouts),
            str(run.errors),
        )
        print(" | ".join(f"{c:>10}" if i else f"{c:<26}" for i, c in enumerate(row)))
    for label, _ in configurations:
        mine = {run.clients: run for run in runs if run.label == label}
        low, high = min(mine), max(mine)
        if mine[low].goodput:
            ratio = mine[high].goodput / mine[low].goodput
            print(f"{label}: goodput at {high} = {ratio:.2f} x goodput at {low}")


# -- slow loris ----------------------------------------------------------------------------------------------


def slowloris(args: argparse.Namespace) -> None:
    with serving({"header_timeout_seconds": str(args.header_timeout)}) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(args.connections)]
        began = time.monotonic()
        for sock in sockets:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            sock.setblocking(False)
        closed: dict[int, float] = {}
        normal: list[float] = []
        failures = 0
        next_dribble = began
        limit = args.header_timeout * 3 + 5
        with httpx.Client() as http:
            while len(closed) < len(sockets) and time.monotonic() - began < limit:
                now = time.monotonic()
                if now >= next_dribble:  # one more header line per second: never a whole head
                    next_dribble = now + 1.0
                    for index, sock in enumerate(sockets):
                        if index not in closed:
                            try:
                                sock.sendall(b"X-Slow: 1\r\n")
                            except OSError:
                                closed[index] = now - began
                for index, sock in enumerate(sockets):
                    if index in closed:
                        continue
                    try:
                        if sock.recv(4096) == b"":
                            closed[index] = time.monotonic() - began
                    except BlockingIOError:
                        pass
                    except OSError:
                        closed[index] = time.monotonic() - began
                started = time.monotonic()
                try:
                    ok = http.get(f"{url}/healthz", timeout=5).status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    normal.append(time.monotonic() - started)
                else:
                    failures += 1
                time.sleep(0.05)
        for sock in sockets:
            sock.close()
    times = sorted(closed.values())
    print(
        f"\nslowloris: {args.connections} connections dribbling a header line a second, header timeout "
        f"{args.header_timeout:g} s"
    )
    print(f"{'closed':<28} {len(times)} of {args.connections}")
    if times:
        spread = f"{times[0]:.2f} / {statistics.median(times):.2f} / {times[-1]:.2f} s"
        print(f"{'closed after (min/median/max)':<28} {spread}")
    print(f"{'still open after the run':<28} {args.connections - len(times)}")
    if normal:
        p95 = statistics.quantiles(normal, n=20)[-1] if len(normal) > 1 else normal[0]
        print(
            f"{'normal requests meanwhile':<28} {len(normal)} ok, {failures} failed, p95 {p95 * 1000:.0f} ms"
        )


SCENARIOS: dict[
    str, tuple[Callable[[argparse.Namespace], None], Callable[[argparse.ArgumentParser], None]]
] = {}


def _overload_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clients", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--seconds", type=float, default=30.0, help="load per run (bounded: at most 120)")
    parser.add_argument("--pool", type=int, default=2, help="synthesis threads of the server (its cores)")


def _slowloris_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--header-timeout", type=float, default=5.0)


SCENARIOS["overload"] = (overload, _overload_args)
SCENARIOS["slowloris"] = (slowloris, _slowloris_args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="scenario", required=True)
    for name, (_, add_args) in SCENARIOS.items():
        add_args(commands.add_parser(name))
    every = commands.add_parser("all", help="every scenario with its defaults")
    every.set_defaults(all=True)
    args = parser.parse_args()
    if args.scenario == "all":
        for run, add_args in SCENARIOS.values():
            sub = argparse.ArgumentParser()
            add_args(sub)
            run(sub.parse_args([]))
        return
    if getattr(args, "seconds", 0) > 120:
        parser.error("--seconds is at most 120")
    SCENARIOS[args.scenario][0](args)


if __name__ == "__main__":
    main()

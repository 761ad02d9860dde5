"""Three ``voicesmith serve`` processes over one PostgreSQL and one S3 store (moto's server), as a team
runs them behind a load balancer: work survives a node killed with SIGKILL, lexicons and voices written
through one node are used by the others without a restart, and SIGTERM drains within its bound.

Where the machine allows network namespaces (root, iproute2), nodes B and C run as separate hosts
(tests/netns.py): each in its own namespace with its own address, reaching the S3 endpoint over its link
and PostgreSQL over its Unix socket; node A stays in this namespace. Elsewhere all three use loopback."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import netns
import pytest
from s3 import CREDENTIALS, S3Endpoint, start_moto
from server.harness import free_port, polly_client, wait_for

SRC = Path(__file__).resolve().parents[2] / "src"
LEXICON = (
    '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" '
    'xml:lang="en-US"><lexeme><grapheme>W3C</grapheme><alias>World Wide Web Consortium</alias></lexeme>'
    "</lexicon>"
)


class Webhook:
    """Records the task JSON POSTed to it (on an address every node reaches)."""

    def __init__(self, address: str) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((address, 0), Handler)
        self.url = f"http://{address}:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@dataclass
class Topology:
    hosts: dict[str, netns.Host]
    """Nodes that run as hosts of their own (network namespaces); the others run here on loopback."""
    endpoint: S3Endpoint
    db_url: str
    address: str = "127.0.0.1"
    """Where this namespace's services (S3, the webhook) listen: an address every node reaches."""


@pytest.fixture()
def topology(postgres, pg_url, s3_endpoint):
    if not netns.available():
        yield Topology({}, s3_endpoint, pg_url)
        return
    hosts = netns.Hosts()
    try:
        b, c = hosts.add(), hosts.add()
        server, endpoint = start_moto(b.gateway)  # an address of this namespace every host reaches
        try:
            yield Topology({"b": b, "c": c}, endpoint, postgres.socket_url(pg_url), b.gateway)
        finally:
            server.stop()
    finally:
        hosts.close()


class Cluster:
    """Nodes sharing one database and one store; each has a data dir (its cache) of its own."""

    def __init__(
        self, tmp_path: Path, shared_cache: Path, db_url: str, s3_url: str, bucket: str, hosts: dict
    ) -> None:
        self.tmp_path, self.shared_cache, self.hosts = tmp_path, shared_cache, hosts
        self.env = {
            **os.environ,
            **CREDENTIALS,
            "PYTHONPATH": str(SRC),
            "VOICESMITH_DB_URL": db_url,
            "VOICESMITH_STORAGE_URL": "s3://",
            "VOICESMITH_S3_ENDPOINT_URL": s3_url,
            "VOICESMITH_SHARED_STORAGE_URL": f"s3://{bucket}/shared",
            "VOICESMITH_TASK_LEASE_SECONDS": "3",
            "VOICESMITH_TASK_POLL_SECONDS": "0.2",
            "VOICESMITH_MAX_CONCURRENT_SYNTHESIS": "1",
            "VOICESMITH_INTRA_OP_THREADS": "1",
            "VOICESMITH_SHUTDOWN_DRAIN_SECONDS": "1",
            # the test's webhook listens on loopback or on a namespace link: allowed explicitly
            "VOICESMITH_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8", "10.213.0.0/16"]',
        }
        self.processes: dict[str, subprocess.Popen] = {}
        self.urls: dict[str, str] = {}

    def node_env(self, name: str, workers: int) -> dict[str, str]:
        data = self.tmp_path / name
        if not data.exists():
            data.mkdir()
            (data / "cache").symlink_to(self.shared_cache, target_is_directory=True)
        return {**self.env, "VOICESMITH_DATA_DIR": str(data), "VOICESMITH_TASK_WORKERS": str(workers)}

    def start(self, name: str, workers: int) -> None:
        port = free_port()
        host = self.hosts.get(name)
        address = host.address if host else "127.0.0.1"
        command = [sys.executable, "-m", "voicesmith.cli", "serve", "--host", address, "--port", str(port)]
        command += ["--log-level", "warning"]
        log = open(self.tmp_path / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen(
            host.command(command) if host else command,
            env=self.node_env(name, workers),
            stdout=log,
            stderr=log,
        )
        self.urls[name] = f"http://{address}:{port}"

    def wait_up(self, *names: str) -> None:
        for name in names:

            def up(name: str = name) -> bool:
                assert self.processes[name].poll() is None, (self.tmp_path / f"{name}.log").read_text()[
                    -3000:
                ]
                try:
                    return httpx.get(f"{self.urls[name]}/healthz", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(up, timeout=180, interval=0.25)

    def polly(self, name: str):
        return polly_client(self.urls[name])

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(10)


def task_status(polly, task_id: str) -> str:
    return polly.get_speech_synthesis_task(TaskId=task_id)["SynthesisTask"]["TaskStatus"]


def pcm_seconds(audio: bytes) -> float:
    return len(audio) / 2 / 16000


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_three_nodes_over_one_database_and_one_store(tmp_path, shared_cache, topology, joe_files):
    s3_endpoint = topology.endpoint
    out = s3_endpoint.bucket("nodes-out")
    shared = s3_endpoint.bucket("nodes-shared")
    cluster = Cluster(tmp_path, shared_cache, topology.db_url, s3_endpoint.url, shared, topology.hosts)
    print(f"nodes as separate hosts (network namespaces): {sorted(topology.hosts) or 'none, loopback only'}")
    webhook = Webhook(topology.address)
    try:
        cluster.start("a", workers=1)
        cluster.start("c", workers=0)
        cluster.wait_up("a", "c")
        a, c = cluster.polly("a"), cluster.polly("c")

        # A voice installed on A (its CLI, its settings) is listed and spoken by C, with no restart.
        model, config = joe_files
        subprocess.run(
            [sys.executable, "-m", "voicesmith.cli", "voices", "add", str(model), "--id", "shared-joe"],
            env=cluster.node_env("a", 1),
            check=True,
            capture_output=True,
            timeout=180,
        )
        assert "shared-joe" in [v["Id"] for v in c.describe_voices()["Voices"]]
        speech = c.synthesize_speech(Text="Spoken by node C.", VoiceId="shared-joe", OutputFormat="pcm")
        assert pcm_seconds(speech["AudioStream"].read()) > 0.5

        # Tasks submitted to A; A dies with SIGKILL while running the first.
        long_text = " ".join(f"Sentence {n} of a text long enough to be killed halfway." for n in range(14))
        texts = [long_text, "A short task.", "Another short task."]
        ids = [
            a.start_speech_synthesis_task(
                Text=text, VoiceId="joe", OutputFormat="pcm", OutputS3BucketName=out, SnsTopicArn=webhook.url
            )["SynthesisTask"]["TaskId"]
            for text in texts
        ]
        wait_for(lambda: task_status(c, ids[0]) == "inProgress", timeout=120)
        cluster.processes["a"].send_signal(signal.SIGKILL)
        cluster.processes["a"].wait(10)

        # B joins; it takes A's tasks (the running one once A's lease ran out) and finishes each once.
        cluster.start("b", workers=1)
        cluster.wait_up("b")
        b = cluster.polly("b")
        wait_for(lambda: all(task_status(b, i) == "completed" for i in ids), timeout=240, interval=0.5)
        wait_for(lambda: len(webhook.received) >= len(ids), timeout=30)
        time.sleep(1)
        notified = [json.loads(h["Message"])["taskId"] for h in webhook.received]  # SNS envelopes, as Polly's
        assert sorted(notified) == sorted(ids)  # each task completed exactly once
        keys = [o["Key"] for o in s3_endpoint.client().list_objects_v2(Bucket=out)["Contents"]]
        assert sorted(keys) == sorted(f"{i}.pcm" for i in ids)
        first = io.BytesIO()
        s3_endpoint.client().download_fileobj(out, f"{ids[0]}.pcm", first)
        assert pcm_seconds(first.getvalue()) > 20  # the whole long text

        # A lexicon written through B is used by C.
        plain = c.synthesize_speech(Text="The W3C.", VoiceId="joe", OutputFormat="pcm")["AudioStream"].read()
        b.put_lexicon(Name="w3c", Content=LEXICON)
        aliased = c.synthesize_speech(
            Text="The W3C.", VoiceId="joe", OutputFormat="pcm", LexiconNames=["w3c"]
        )
        assert pcm_seconds(aliased["AudioStream"].read()) > pcm_seconds(plain) + 0.5

        # SIGTERM drains B: it stops at once, hands its running task back, and exits within the bound.
        very_long = " ".join(f"Sentence {n} of a very long text for the drain test." for n in range(150))
        drained = b.start_speech_synthesis_task(
            Text=very_long, VoiceId="joe", OutputFormat="pcm", OutputS3BucketName=out
        )["SynthesisTask"]["TaskId"]
        wait_for(lambda: task_status(c, drained) == "inProgress", timeout=120)
        started = time.monotonic()
        cluster.processes["b"].send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught: the exit status says SIGTERM.
        assert cluster.processes["b"].wait(30) in (0, -signal.SIGTERM)
        assert time.monotonic() - started < 15  # drain bound 1 s (+ process teardown)
        assert task_status(c, drained) == "scheduled"  # handed back: the next worker takes it at once
    finally:
        cluster.close()
        webhook.close()
        for name in ("a", "b", "c"):
            log = tmp_path / f"{name}.log"
            if log.exists():
                print(f"--- node {name} ---\n{log.read_text()[-2000:]}")

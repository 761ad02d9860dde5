"""Task notifications: what an SNS HTTP subscription delivers, off the task worker, only where allowed.

The subscriber here is written the way SNS HTTP(S) subscribers are: it reads the ``x-amz-sns-message-type``
header, parses the envelope, checks its signature against the SigningCertURL's certificate, and
``json.loads(envelope["Message"])`` for Polly's task message."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from voicesmith.server.webhooks import WebhookRefused, check_address

from .harness import make_settings, polly_client, serve, wait_for

SIGNED_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")


class SnsSubscriber:
    """An HTTP endpoint subscribed to a topic, as SNS subscribers are written. ``plan`` lists the
    status (or ``"hang"``) to answer each delivery with; past its end it answers 200."""

    def __init__(self, plan: list[int | str] | None = None) -> None:
        self.notifications: list[dict] = []
        self.headers: list[dict] = []
        self.attempts = 0
        plan = list(plan or [])
        subscriber = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                subscriber.attempts += 1
                step = plan.pop(0) if plan else 200
                if step == "hang":
                    time.sleep(30)
                    return
                if step == 200 and self.headers["x-amz-sns-message-type"] == "Notification":
                    subscriber.headers.append(dict(self.headers))
                    subscriber.notifications.append(json.loads(body))
                self.send_response(int(step))
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sns"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify(envelope: dict, certificate_pem: bytes) -> None:
    """SNS signature version 2: SHA256withRSA over the envelope's canonical fields."""
    text = "".join(f"{name}\n{envelope[name]}\n" for name in SIGNED_FIELDS if envelope.get(name) is not None)
    key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    key.verify(base64.b64decode(envelope["Signature"]), text.encode(), padding.PKCS1v15(), hashes.SHA256())


@pytest.fixture(scope="module")
def hooked(tmp_path_factory, shared_cache):
    settings = make_settings(
        tmp_path_factory.mktemp("hooks"),
        shared_cache,
        webhook_timeout_seconds=1.0,
        webhook_attempts=3,
        sns_subscriptions={},
    )
    yield from serve(settings)


def start(polly, topic: str, text: str = "Notify me.") -> str:
    return polly.start_speech_synthesis_task(
        Text=text, VoiceId="joe", OutputFormat="mp3", OutputS3BucketName="hooks", SnsTopicArn=topic
    )["SynthesisTask"]["TaskId"]


def test_subscriber_gets_the_sns_envelope_with_pollys_message(hooked):
    subscriber = SnsSubscriber()
    try:
        polly = polly_client(hooked.url)
        task_id = start(polly, subscriber.url)
        wait_for(lambda: subscriber.notifications, timeout=60)
        envelope, headers = subscriber.notifications[0], subscriber.headers[0]
        assert envelope["Type"] == "Notification"
        assert envelope["TopicArn"].startswith("arn:aws:sns:us-east-1:")
        assert headers["x-amz-sns-message-type"] == "Notification"
        assert headers["x-amz-sns-message-id"] == envelope["MessageId"]
        assert headers["x-amz-sns-topic-arn"] == envelope["TopicArn"]
        assert headers["Content-Type"] == "text/plain; charset=UTF-8"
        assert envelope["SignatureVersion"] == "2" and envelope["UnsubscribeURL"]
        assert envelope["SigningCertURL"].endswith("/sns/voicesmith-sns.pem")
        certificate = httpx.get(f"{hooked.url}/sns/voicesmith-sns.pem").content
        verify(envelope, certificate)
        message = json.loads(envelope["Message"])
        task = polly.get_speech_synthesis_task(TaskId=task_id)["SynthesisTask"]
        assert message["taskId"] == task_id and message["taskStatus"] == "COMPLETED"
        assert message["outputUri"] == task["OutputUri"]
        assert message["requestCharacters"] == len("Notify me.")
        assert message["snsTopicArn"] == subscriber.url
        assert (message["outputFormat"], message["textType"], message["voiceId"]) == ("mp3", "text", "joe")
        assert message["creationTime"].endswith("Z")
        tampered = {**envelope, "Message": envelope["Message"].replace("COMPLETED", "FAILED")}
        with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidSignature
            verify(tampered, certificate)
    finally:
        subscriber.close()


def test_failed_deliveries_are_retried_with_backoff(hooked):
    subscriber = SnsSubscriber(plan=[500, 503])
    try:
        start(polly_client(hooked.url), subscriber.url)
        wait_for(lambda: subscriber.notifications, timeout=60)
        assert subscriber.attempts == 3
    finally:
        subscriber.close()


def test_a_hook_that_never_answers_does_not_hold_the_worker(hooked):
    hanging = SnsSubscriber(plan=["hang"] * 6)
    try:
        polly = polly_client(hooked.url)
        first = start(polly, hanging.url, "First.")
        second = start(polly, hanging.url, "Second.")
        began = time.monotonic()
        for task_id in (first, second):
            wait_for(
                lambda t=task_id: (
                    polly.get_speech_synthesis_task(TaskId=t)["SynthesisTask"]["TaskStatus"] == "completed"
                ),
                timeout=60,
            )
        assert time.monotonic() - began < 20  # not 2 x (timeout x attempts + backoff) on the worker
    finally:
        hanging.close()


def test_sns_topic_arn_delivers_to_its_subscribers(tmp_path, shared_cache):
    """An unchanged Polly caller passes a real topic ARN; the operator subscribed a URL to it."""
    subscriber = SnsSubscriber()
    topic = "arn:aws:sns:us-east-1:123456789012:polly-done"
    settings = make_settings(tmp_path / "arn", shared_cache, sns_subscriptions={topic: [subscriber.url]})
    try:
        for running in serve(settings):
            task_id = start(polly_client(running.url), topic)
            wait_for(lambda: subscriber.notifications, timeout=60)
        envelope = subscriber.notifications[0]
        assert envelope["TopicArn"] == topic
        message = json.loads(envelope["Message"])
        assert message["taskId"] == task_id and message["snsTopicArn"] == topic
    finally:
        subscriber.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/hook",
        "http://[::ffff:127.0.0.1]:9/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0:9/hook",
    ],
)
def test_internal_addresses_are_refused(tmp_path_factory, shared_cache, url, closed_server):
    with pytest.raises(ClientError) as caught:
        start(polly_client(closed_server.url), url)
    assert caught.value.response["Error"]["Code"] == "InvalidSnsTopicArnException"
    assert "refused" in caught.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def closed_server(tmp_path_factory, shared_cache):
    """Webhooks to no internal network (the default)."""
    settings = make_settings(tmp_path_factory.mktemp("closed"), shared_cache, webhook_allowed_networks=[])
    yield from serve(settings)


def test_address_rules():
    assert str(check_address("93.184.216.34", [])) == "93.184.216.34"
    for address in ("127.0.0.1", "192.168.1.1", "fe80::1", "fc00::1", "224.0.0.1", "::ffff:10.0.0.1"):
        with pytest.raises(WebhookRefused):
            check_address(address, [])
    from voicesmith.server.webhooks import parse_networks

    assert str(check_address("10.1.2.3", parse_networks(["10.1.0.0/16"]))) == "10.1.2.3"

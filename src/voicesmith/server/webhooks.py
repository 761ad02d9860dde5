"""Task notifications as an SNS HTTP(S) subscription delivers them, off the task worker.

A synthesis task's ``SnsTopicArn`` may be an http(s) URL (a voicesmith extension: the URL is the
subscriber), or a real SNS topic ARN that an operator subscribed URLs to
(``Settings.sns_subscriptions``). When the task ends, the subscriber gets what SNS would POST: the
notification envelope (``Type``, ``MessageId``, ``TopicArn``, ``Subject``, ``Message``, ``Timestamp``,
``SignatureVersion``, ``Signature``, ``SigningCertURL``, ``UnsubscribeURL``) as ``text/plain`` with
the ``x-amz-sns-*`` headers, and ``Message`` is the JSON string Polly publishes (``taskId``,
``taskStatus`` ``COMPLETED``/``FAILED``, ``outputUri``, ...), so a handler written for Polly
(``json.loads(envelope["Message"])["taskStatus"]``) works unchanged. The envelope is signed
(SignatureVersion 2, SHA256withRSA) with a key of this server's; its certificate is served at
``/sns/voicesmith-sns.pem`` (SNS's own cert is on amazonaws.com, which no self-hosted server can sign for).

Deliveries run on their own small thread pool with a bounded backlog: a subscriber that never
answers costs one attempt's timeout on a delivery thread, never the task worker. Failed attempts (a
network error, a 5xx or 429) are retried with exponential backoff, up to ``webhook_attempts``.

Where a webhook may point is checked twice: when the task is submitted (a typed
``InvalidSnsTopicArnException``) and at each delivery, on every address the host resolves to; the
connection then goes to the checked address (no second lookup a DNS rebinding could change), and
redirects are not followed. Loopback, private, link-local, shared, reserved and multicast addresses
are refused unless ``webhook_allowed_networks`` names them.
"""

from __future__ import annotations

import base64
import heapq
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Request, Response

from voicesmith.errors import InvalidSnsTopicArnError

_LOGGER = logging.getLogger(__name__)

MAX_BACKLOG = 1000
DELIVERY_THREADS = 2
CERT_PATH = "/sns/voicesmith-sns.pem"
SUBJECT = "Amazon Polly speech synthesis task"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookRefused(Exception):
    """A webhook URL that may not be reached from this server."""


def parse_networks(texts: list[str]) -> list[Network]:
    return [ipaddress.ip_network(text, strict=False) for text in texts]


def _address(text: str) -> Address:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def check_address(text: str, allowed: list[Network]) -> Address:
    """The address, if a webhook may go there: a global unicast address, or one in ``allowed``."""
    address = _address(text)
    if any(address in network for network in allowed if network.version == address.version):
        return address
    if not address.is_global or address.is_multicast:
        kind = (
            "loopback"
            if address.is_loopback
            else "link-local"
            if address.is_link_local
            else "private"
            if address.is_private
            else "multicast"
            if address.is_multicast
            else "non-global"
        )
        raise WebhookRefused(
            f"{address} is a {kind} address; webhooks go only to public addresses unless the operator "
            "allows the network (VOICESMITH_WEBHOOK_ALLOWED_NETWORKS)"
        )
    return address


def resolve(url: str, allowed: list[Network]) -> tuple[str, int, list[Address]]:
    """Host, port and the checked addresses of a webhook URL (every address the host resolves to)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused(f"{url[:100]!r} is not an http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise WebhookRefused(f"the host {parts.hostname!r} does not resolve: {error}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    return parts.hostname, port, [check_address(text, allowed) for text in addresses]


def check_webhook_url(url: str, allowed: list[Network]) -> None:
    """InvalidSnsTopicArnException for a webhook this server would refuse to call."""
    try:
        resolve(url, allowed)
    except WebhookRefused as error:
        raise InvalidSnsTopicArnError(f"SnsTopicArn webhook {url[:100]!r} is refused: {error}") from None


# -- the message --------------------------------------------------------------------------------------------


def iso_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def polly_message(task: dict[str, Any], created: datetime) -> dict[str, Any]:
    """The message Polly publishes to a task's topic, from the task as GetSpeechSynthesisTask shows it."""
    message: dict[str, Any] = {
        "taskId": task["TaskId"],
        "taskStatus": str(task["TaskStatus"]).upper(),
        "outputUri": task.get("OutputUri"),
        "creationTime": iso_time(created),
        "requestCharacters": task.get("RequestCharacters"),
        "snsTopicArn": task.get("SnsTopicArn"),
        "outputFormat": task.get("OutputFormat"),
        "textType": task.get("TextType"),
        "voiceId": task.get("VoiceId"),
        "engine": task.get("Engine"),
    }
    for key, name in (
        ("TaskStatusReason", "taskStatusReason"),
        ("LanguageCode", "languageCode"),
        ("SampleRate", "sampleRate"),
        ("LexiconNames", "lexiconNames"),
        ("SpeechMarkTypes", "speechMarkTypes"),
    ):
        if task.get(key):
            message[name] = task[key]
    return message


class Signer:
    """SNS SignatureVersion 2 (SHA256withRSA) with this server's own key and self-signed certificate,
    made on first use under ``folder`` (the key readable by the owner only)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._key: Any = None
        self._lock = threading.Lock()

    def certificate(self) -> bytes:
        self._load()
        return (self.folder / "sns-cert.pem").read_bytes()

    def _load(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        with self._lock:
            if self._key is not None:
                return
            key_file, cert_file = self.folder / "sns-key.pem", self.folder / "sns-cert.pem"
            if key_file.exists() and cert_file.exists():
                self._key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
                return
            self.folder.mkdir(parents=True, exist_ok=True)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "voicesmith task notifications")])
            now = datetime.now(UTC)
            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now)
                .not_valid_after(now.replace(year=now.year + 10))
                .sign(key, hashes.SHA256())
            )
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            key_file.touch(mode=0o600)
            key_file.write_bytes(pem)
            cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            self._key = key

    def sign(self, envelope: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        self._load()
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
        text = "".join(f"{name}\n{envelope[name]}\n" for name in names if envelope.get(name) is not None)
        signature = self._key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()


def envelope(topic_arn: str, message: dict[str, Any], signer: Signer, base_url: str) -> dict[str, Any]:
    """The JSON body SNS POSTs to an HTTP(S) subscriber for one notification."""
    body: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": topic_arn,
        "Subject": SUBJECT,
        "Message": json.dumps(message, separators=(",", ":")),
        "Timestamp": iso_time(datetime.now(UTC)),
        "SignatureVersion": "2",
    }
    body["Signature"] = signer.sign(body)
    body["SigningCertURL"] = base_url.rstrip("/") + CERT_PATH
    body["UnsubscribeURL"] = base_url.rstrip("/") + "/sns/unsubscribe?SubscriptionArn=" + topic_arn
    return body


# -- delivery ------------------------------------------------------------------------------------------------


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address checked beforehand, sending the URL's host name."""

    def __init__(self, host: str, port: int, address: Address, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self._address), self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: Address, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((str(self._address), self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass(order=True)
class _Delivery:
    due: float
    url: str = field(compare=False)
    body: bytes = field(compare=False)
    headers: dict[str, str] = field(compare=False)
    label: str = field(compare=False)
    attempt: int = field(default=1, compare=False)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float, allowed: list[Network]) -> int:
    """One POST to a checked address; the status. Raises WebhookRefused or OSError."""
    host, port, addresses = resolve(url, allowed)
    parts = urlsplit(url)
    headers = dict(headers)
    if parts.username is not None:  # SNS sends a URL's user:password as basic auth
        token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
    kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = kind(host, port, addresses[0], timeout)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", target, body=body, headers=headers)
        answer = connection.getresponse()
        answer.read(65536)
        return answer.status
    finally:
        connection.close()


class WebhookSender:
    """A bounded backlog of deliveries and a few threads that make them, with retries and backoff."""

    def __init__(
        self,
        allowed_networks: list[str],
        timeout: float,
        attempts: int,
        signer: Signer,
        threads: int = DELIVERY_THREADS,
    ) -> None:
        self.signer = signer
        self.allowed = parse_networks(allowed_networks)
        self.timeout = timeout
        self.attempts = attempts
        self._heap: list[_Delivery] = []
        self._condition = threading.Condition()
        self._closed = False
        self.delivered = 0
        self.dropped = 0
        self._threads = [
            threading.Thread(target=self._work, name=f"webhook-{n}", daemon=True) for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, url: str, body: bytes, headers: dict[str, str], label: str) -> bool:
        """Queue one notification; False (and a warning) when the backlog is full."""
        with self._condition:
            if len(self._heap) >= MAX_BACKLOG:
                self.dropped += 1
                _LOGGER.warning(
                    "%s: webhook backlog full (%d); notification to %s dropped", label, MAX_BACKLOG, url
                )
                return False
            heapq.heappush(self._heap, _Delivery(time.monotonic(), url, body, headers, label))
            self._condition.notify()
        return True

    def pending(self) -> int:
        with self._condition:
            return len(self._heap)

    def _next(self) -> _Delivery | None:
        with self._condition:
            while not self._closed:
                if self._heap:
                    wait = self._heap[0].due - time.monotonic()
                    if wait <= 0:
                        return heapq.heappop(self._heap)
                    self._condition.wait(wait)
                else:
                    self._condition.wait()
            return None

    def _work(self) -> None:
        while (delivery := self._next()) is not None:
            self._attempt(delivery)

    def _attempt(self, delivery: _Delivery) -> None:
        try:
            status = post(delivery.url, delivery.body, delivery.headers, self.timeout, self.allowed)
        except WebhookRefused as error:
            _LOGGER.warning("%s: webhook %s refused: %s", delivery.label, delivery.url, error)
            return
        except (OSError, http.client.HTTPException) as error:
            status, reason = None, f"{type(error).__name__}: {error}"
        else:
            if 200 <= status < 300:
                self.delivered += 1
                _LOGGER.info("%s: webhook %s answered %s", delivery.label, delivery.url, status)
                return
            reason = f"HTTP {status}"
            if status < 500 and status != 429:  # the subscriber refused it: retrying will not help
                _LOGGER.warning(
                    "%s: webhook %s answered %s; not retried", delivery.label, delivery.url, status
                )
                return
        if delivery.attempt >= self.attempts:
            _LOGGER.warning(
                "%s: webhook %s failed %d times (%s); dropped",
                delivery.label,
                delivery.url,
                delivery.attempt,
                reason,
            )
            return
        backoff = 2.0 ** (delivery.attempt - 1)
        _LOGGER.info(
            "%s: webhook %s failed (%s); retry in %.0f s", delivery.label, delivery.url, reason, backoff
        )
        delivery.attempt += 1
        delivery.due = time.monotonic() + backoff
        with self._condition:
            heapq.heappush(self._heap, delivery)
            self._condition.notify()

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()


def sns_headers(body: dict[str, Any]) -> dict[str, str]:
    return {
        "Content-Type": "text/plain; charset=UTF-8",
        "x-amz-sns-message-type": body["Type"],
        "x-amz-sns-message-id": body["MessageId"],
        "x-amz-sns-topic-arn": body["TopicArn"],
        "User-Agent": "Amazon Simple Notification Service Agent",
    }


LOCAL_TOPIC = "arn:aws:sns:{region}:000000000000:voicesmith-task-notifications"
"""The TopicArn of a notification whose SnsTopicArn is a URL (the envelope needs an ARN)."""


def subscribers(settings: Any, topic: str) -> tuple[str, list[str]]:
    """The envelope's TopicArn and the URLs a task's SnsTopicArn is delivered to."""
    if topic.startswith(("http://", "https://")):
        return LOCAL_TOPIC.format(region=settings.aws_regions[0]), [topic]
    return topic, list(settings.sns_subscriptions.get(topic, []))


def notify(services: Any, task_id: str) -> None:
    """Queue the finished task's notification for its subscribers (called by the task runner)."""
    from voicesmith.server.polly_tasks import task_json

    row = services.store.get_task(task_id)
    topic = row.request.get("SnsTopicArn") if row is not None else None
    if row is None or not topic or services.webhooks is None:
        return
    topic_arn, urls = subscribers(services.settings, topic)
    if not urls:
        _LOGGER.info("task %s: SNS topic %s recorded; no subscriber configured for it", task_id, topic)
        return
    settings = services.settings
    base_url = settings.public_url or f"http://{settings.host}:{settings.port}"
    body = envelope(topic_arn, polly_message(task_json(row), row.created), services.webhooks.signer, base_url)
    data = json.dumps(body, indent=2).encode()
    for url in urls:
        services.webhooks.submit(url, data, sns_headers(body), f"task {task_id}")


router = APIRouter(tags=["sns"], include_in_schema=False)


@router.get(CERT_PATH)
def signing_certificate(request: Request) -> Response:
    """The certificate that verifies notification signatures (``SigningCertURL``)."""
    services = request.app.state.services
    return Response(services.webhooks.signer.certificate(), media_type="application/x-pem-file")

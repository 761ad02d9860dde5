"""Credentials on every route, checked as AWS and OpenAI check them, before the body is read.

Through boto3 (polly, sagemaker-runtime), botocore's signers, the openai SDK and raw sockets against a
running server."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import time

import httpx
import openai
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from fastapi import WebSocket

from voicesmith.server.app import create_app

from .harness import ACCESS_KEY, OPENAI_KEY, SECRET_KEY, make_settings, openai_client, polly_client, serve

LEXICON = (
    '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" '
    'xml:lang="en-US"><lexeme><grapheme>abc</grapheme><alias>alphabet</alias></lexeme></lexicon>'
)


@pytest.fixture(scope="module")
def locked(tmp_path_factory, shared_cache):
    settings = make_settings(
        tmp_path_factory.mktemp("locked"),
        shared_cache,
        aws_credentials={ACCESS_KEY: SECRET_KEY},
        openai_api_keys=[OPENAI_KEY],
    )
    yield from serve(settings)


@pytest.fixture(scope="module")
def openai_only(tmp_path_factory, shared_cache):
    """Only OpenAI keys: every Polly route must still be closed."""
    settings = make_settings(
        tmp_path_factory.mktemp("openai-only"), shared_cache, openai_api_keys=[OPENAI_KEY]
    )
    yield from serve(settings)


def error_code(caught: pytest.ExceptionInfo) -> tuple[str, int]:
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def signed_request(
    url: str,
    method: str = "POST",
    body: bytes = b"",
    *,
    service: str = "polly",
    region: str = "us-east-1",
    secret: str = SECRET_KEY,
    headers: dict[str, str] | None = None,
) -> AWSRequest:
    headers = {"Content-Type": "application/json", **(headers or {})}
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials(ACCESS_KEY, secret), service, region).add_auth(request)
    return request


def send(request: AWSRequest, body: bytes | None = None) -> httpx.Response:
    prepared = request.prepare()
    return httpx.request(
        prepared.method,
        prepared.url,
        headers=dict(prepared.headers),
        content=prepared.body if body is None else body,
        timeout=60,
    )


# -- SigV4 on the Polly routes -------------------------------------------------------------------------------


def test_signed_requests_pass(locked):
    polly = polly_client(locked.url)
    assert polly.describe_voices(LanguageCode="en-US")["Voices"]
    audio = polly.synthesize_speech(Text="Signed.", VoiceId="joe", OutputFormat="pcm")["AudioStream"].read()
    assert len(audio) > 8000
    polly.put_lexicon(Name="abc", Content=LEXICON)
    assert polly.get_lexicon(Name="abc")["Lexicon"]["Name"] == "abc"


@pytest.mark.parametrize(
    ("access_key", "secret_key", "code"),
    [
        (ACCESS_KEY, "wrong-secret", "InvalidSignatureException"),
        ("AKIDUNKNOWN", SECRET_KEY, "UnrecognizedClientException"),
    ],
    ids=["wrong-secret", "unknown-key"],
)
def test_bad_credentials_get_aws_errors(locked, access_key, secret_key, code):
    polly = polly_client(locked.url, access_key, secret_key)
    with pytest.raises(ClientError) as caught:
        polly.synthesize_speech(Text="Nope.", VoiceId="joe", OutputFormat="mp3")
    assert error_code(caught) == (code, 403)


def test_tampered_body_is_refused(locked):
    """A request signed for one body and sent with another fails the payload hash."""
    polly = polly_client(locked.url)

    def swap_body(request, **kwargs):
        request.body = request.body.replace(b"Original", b"Tampered")

    polly.meta.events.register_last("before-send.polly.SynthesizeSpeech", swap_body)
    with pytest.raises(ClientError) as caught:
        polly.synthesize_speech(Text="Original text.", VoiceId="joe", OutputFormat="mp3")
    assert error_code(caught) == ("InvalidSignatureException", 403)


def test_unsigned_requests_are_refused(locked):
    answer = httpx.get(f"{locked.url}/v1/voices")
    assert answer.status_code == 403
    assert answer.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert answer.json()["message"] == "Missing Authentication Token"
    bearer = httpx.get(f"{locked.url}/v1/voices", headers={"Authorization": f"Bearer {OPENAI_KEY}"})
    assert bearer.status_code == 400 and bearer.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"


@pytest.mark.parametrize(
    ("service", "region", "needle"),
    [("sagemaker", "us-east-1", "correct service: 'polly'"), ("polly", "eu-west-1", "valid region")],
    ids=["service", "region"],
)
def test_credential_scope_is_checked(locked, service, region, needle):
    body = json.dumps({"Text": "Scoped.", "VoiceId": "joe", "OutputFormat": "pcm"}).encode()
    answer = send(signed_request(f"{locked.url}/v1/speech", body=body, service=service, region=region))
    assert answer.status_code == 403
    assert answer.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert needle in answer.json()["message"]


def test_stale_signature_is_refused(locked):
    old = "20200101T000000Z"
    request = AWSRequest(method="GET", url=f"{locked.url}/v1/voices", headers={"X-Amz-Date": old})
    request.context["timestamp"] = old
    signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "polly", "us-east-1")
    signature = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    request.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{old[:8]}/us-east-1/polly/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={signature}"
    )
    answer = send(request)
    assert answer.status_code == 403 and "Signature expired" in answer.json()["message"]


def test_unsigned_payload_with_a_body_is_refused(locked):
    """UNSIGNED-PAYLOAD would let anyone on the path change the body: not accepted with one."""
    body = json.dumps({"Text": "Original.", "VoiceId": "joe", "OutputFormat": "pcm"}).encode()
    headers = {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    answer = send(
        signed_request(f"{locked.url}/v1/speech", body=body, headers=headers), body.replace(b"O", b"T")
    )
    assert answer.status_code == 403 and answer.headers["x-amzn-ErrorType"] == "InvalidSignatureException"


def test_declared_payload_hash_is_checked_while_streaming(locked):
    body = json.dumps({"Text": "Declared.", "VoiceId": "joe", "OutputFormat": "pcm"}).encode()
    headers = {"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}
    good = send(signed_request(f"{locked.url}/v1/speech", body=body, headers=headers))
    assert good.status_code == 200 and len(good.content) > 8000, good.text
    bad = send(
        signed_request(f"{locked.url}/v1/speech", body=body, headers=headers), body.replace(b"D", b"X")
    )
    assert bad.status_code == 403 and "x-amz-content-sha256" in bad.json()["message"]


def _raw_headers_only(url: str, head: str) -> bytes:
    """Send a request head (no body) and read what comes back before any body is sent."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode())
        return sock.recv(65536)


@pytest.mark.parametrize("declared", [False, True], ids=["hash-not-declared", "hash-declared"])
def test_huge_body_with_bogus_signature_is_refused_before_it_is_sent(locked, declared):
    """300 MiB announced on the upload route, a known key id and a bogus signature: the answer comes
    back while the client has sent no byte of the body."""
    request = signed_request(f"{locked.url}/v1/voices", body=b"", secret="not-the-secret")
    headers = dict(request.headers)
    host = locked.url.removeprefix("http://")
    lines = ["POST /v1/voices HTTP/1.1", f"Host: {host}", "Content-Type: application/json"]
    lines += [
        f"{name}: {value}"
        for name, value in headers.items()
        if name.lower() not in ("host", "content-length")
    ]
    if declared:
        lines.append("X-Amz-Content-SHA256: " + "ab" * 32)
    lines.append(f"Content-Length: {300 * 2**20}")
    started = time.monotonic()
    answer = _raw_headers_only(locked.url, "\r\n".join(lines) + "\r\n\r\n")
    assert time.monotonic() - started < 5
    status = int(answer.split(b" ", 2)[1])
    assert status in (400, 403), answer[:300]
    expected = b"InvalidSignatureException" if declared else b"IncompleteSignatureException"
    assert expected in answer


# -- one switch for every route ------------------------------------------------------------------------------


def _routes(app) -> list[tuple[str, str]]:
    result = []
    from voicesmith.server.auth import flat_routes

    for route in flat_routes(app):
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            if method != "HEAD":
                result.append((method, re.sub(r"\{[^}]+\}", "x", route.path)))
    return result


PUBLIC = {"/", "/healthz", "/readyz", "/ping", "/console/x", "/sns/voicesmith-sns.pem"}


def test_every_route_is_closed_without_credentials(locked):
    """Each route the app has (including ones other doors add later) answers 401/403 when unsigned,
    except the public health checks and the console's static page."""
    checked = 0
    for method, path in _routes(locked.app):
        if path in PUBLIC:
            continue
        answer = httpx.request(method, locked.url + path, content=b"{}", timeout=30)
        assert answer.status_code in (401, 403), (method, path, answer.status_code, answer.text[:200])
        checked += 1
    assert checked >= 15
    assert httpx.get(f"{locked.url}/healthz").json()["status"] == "ok"
    assert httpx.get(f"{locked.url}/").status_code == 200


def test_openai_keys_alone_close_the_polly_routes(openai_only):
    url = openai_only.url
    with pytest.raises(ClientError) as caught:
        polly_client(url).put_lexicon(Name="abc", Content=LEXICON)
    assert error_code(caught) == ("UnrecognizedClientException", 403)
    assert httpx.put(f"{url}/v1/lexicons/abc", json={"Content": LEXICON}).status_code == 403
    invocation = httpx.post(f"{url}/invocations", json={"Text": "x", "LexiconNames": ["secret"]})
    assert invocation.status_code == 403 and "secret" not in invocation.text
    assert httpx.get(f"{url}/openapi.json").status_code == 403
    assert httpx.get(f"{url}/docs").status_code == 403
    keyed = {"Authorization": f"Bearer {OPENAI_KEY}"}
    assert httpx.get(f"{url}/openapi.json", headers=keyed).json()["info"]["title"] == "voicesmith"
    good = openai_client(url)
    assert good.audio.speech.create(model="tts-1", voice="alloy", input="Hi.", response_format="pcm").content


def test_openai_errors_keep_openai_shape(locked):
    with pytest.raises(openai.AuthenticationError) as caught:
        openai_client(locked.url, "sk-wrong-key-123").audio.speech.create(
            model="tts-1", voice="alloy", input="Hi."
        )
    assert caught.value.status_code == 401 and caught.value.body["code"] == "invalid_api_key"
    assert (
        "Incorrect API key" in caught.value.body["message"]
        and "wrong-key" not in caught.value.body["message"]
    )
    missing = httpx.post(
        f"{locked.url}/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": "x"}
    )
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "invalid_request_error"


def test_sagemaker_runtime_signs_for_invocations(locked):
    import boto3
    from botocore.config import Config

    runtime = boto3.client(
        "sagemaker-runtime",
        endpoint_url=locked.url,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}),
    )
    answer = runtime.invoke_endpoint(
        EndpointName="voicesmith",
        ContentType="application/json",
        Body=json.dumps({"Text": "Invoked.", "OutputFormat": "pcm"}),
    )
    assert len(answer["Body"].read()) > 8000
    body = json.dumps({"Text": "x"}).encode()
    polly_signed = send(signed_request(f"{locked.url}/invocations", body=body, service="polly"))
    assert (
        polly_signed.status_code == 403 and "correct service: 'sagemaker'" in polly_signed.json()["message"]
    )


def test_the_switch(tmp_path, shared_cache):
    with pytest.raises(ValueError, match="no credentials"):
        create_app(make_settings(tmp_path / "on", shared_cache, auth="on"))
    settings = make_settings(
        tmp_path / "off", shared_cache, auth="off", aws_credentials={ACCESS_KEY: SECRET_KEY}
    )
    for running in serve(settings):
        assert httpx.get(f"{running.url}/v1/voices").status_code == 200


def test_websocket_doors_take_the_same_credentials(tmp_path, shared_cache):
    """A WebSocket route behind a door (the streaming doors) is refused at the handshake without a key."""
    import asyncio

    import websockets

    from voicesmith.server.auth import OPENAI
    from voicesmith.server.deps import require_auth

    settings = make_settings(tmp_path / "ws", shared_cache, openai_api_keys=[OPENAI_KEY])
    app = create_app(settings)

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    app.router.add_api_websocket_route("/v1/test-echo", echo, dependencies=[require_auth(OPENAI)])

    async def talk(url: str, headers: dict[str, str]) -> str:
        async with websockets.connect(url, additional_headers=headers) as socket_:
            await socket_.send("hi")
            return await socket_.recv()

    from .harness import serve_app

    for running in serve_app(app, settings):
        ws_url = running.url.replace("http://", "ws://") + "/v1/test-echo"
        with pytest.raises(websockets.exceptions.InvalidStatus) as caught:
            asyncio.run(talk(ws_url, {}))
        assert caught.value.response.status_code == 403
        assert asyncio.run(talk(ws_url, {"Authorization": f"Bearer {OPENAI_KEY}"})) == "hi"

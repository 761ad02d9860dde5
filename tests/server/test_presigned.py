"""Presigned SynthesizeSpeech URLs (GET /v1/speech with a query-string signature), made by the real
presigners: the JS SDK's @aws-sdk/polly-request-presigner run by node, and botocore's SigV4QueryAuth."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from botocore.auth import SIGV4_TIMESTAMP, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .harness import ACCESS_KEY, SECRET_KEY, make_settings, serve

JS_DIR = Path(__file__).resolve().parents[1] / "js"
NODE = shutil.which("node")


@pytest.fixture(scope="module")
def keyed(tmp_path_factory, shared_cache):
    settings = make_settings(
        tmp_path_factory.mktemp("presigned"), shared_cache, aws_credentials={ACCESS_KEY: SECRET_KEY}
    )
    yield from serve(settings)


def js_presign(url: str, params: dict, expires: int | None = None, secret: str = SECRET_KEY) -> str:
    if NODE is None or not (JS_DIR / "node_modules" / "@aws-sdk" / "polly-request-presigner").is_dir():
        pytest.fail("node and tests/js/node_modules are needed: `make test` runs npm ci --prefix tests/js")
    options = {
        "endpoint": url,
        "region": "us-east-1",
        "accessKeyId": ACCESS_KEY,
        "secretAccessKey": secret,
        "params": params,
        "expiresIn": expires,
    }
    done = subprocess.run(
        [NODE, str(JS_DIR / "presign.mjs"), json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=JS_DIR,
        check=True,
    )
    return done.stdout.strip()


def botocore_presign(url: str, params: dict, expires: int = 900) -> str:
    """What boto3's generate_presigned_url would do for Polly: the operation's fields in the query of a
    GET, signed with SigV4QueryAuth."""
    request = AWSRequest(method="GET", url=f"{url}/v1/speech", params=params)
    SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), "polly", "us-east-1", expires=expires).add_auth(
        request
    )
    return request.prepare().url


def test_js_presigned_url_speaks(keyed):
    url = js_presign(
        keyed.url, {"Text": "Hello from a presigned URL.", "VoiceId": "joe", "OutputFormat": "mp3"}
    )
    assert "X-Amz-Signature=" in url and url.startswith(f"{keyed.url}/v1/speech?")
    answer = httpx.get(url, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "audio/mpeg"
    assert answer.content[:3] == b"ID3" or answer.content[0] == 0xFF
    assert len(answer.content) > 4000


def test_js_presigned_marks_and_lists(keyed):
    params = {
        "Text": "Two words.",
        "VoiceId": "joe",
        "OutputFormat": "json",
        "SpeechMarkTypes": ["word", "sentence"],
        "Engine": "neural",
        "TextType": "text",
        "LanguageCode": "en-US",
    }
    answer = httpx.get(js_presign(keyed.url, params), timeout=60)
    assert answer.status_code == 200, answer.text
    marks = [json.loads(line) for line in answer.text.splitlines()]
    assert {mark["type"] for mark in marks} == {"word", "sentence"}
    pcm = {"Text": "Rate.", "VoiceId": "joe", "OutputFormat": "pcm", "SampleRate": "8000"}
    audio = httpx.get(js_presign(keyed.url, pcm), timeout=60)
    assert audio.status_code == 200 and len(audio.content) > 2000


def test_botocore_presigned_url_speaks(keyed):
    url = botocore_presign(
        keyed.url, {"Text": "Signed by botocore.", "VoiceId": "joe", "OutputFormat": "pcm"}
    )
    answer = httpx.get(url, timeout=60)
    assert answer.status_code == 200, answer.text
    assert len(answer.content) > 8000


def test_tampered_query_is_refused(keyed):
    url = js_presign(keyed.url, {"Text": "Say this.", "VoiceId": "joe", "OutputFormat": "mp3"})
    tampered = url.replace("Say%20this.", "Say%20that.")
    assert tampered != url
    answer = httpx.get(tampered, timeout=60)
    assert answer.status_code == 403
    assert answer.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    wrong_secret = httpx.get(
        js_presign(keyed.url, {"Text": "x", "VoiceId": "joe", "OutputFormat": "mp3"}, secret="no")
    )
    assert wrong_secret.status_code == 403


def test_expired_and_overlong_urls_are_refused(keyed):
    url = botocore_presign(
        keyed.url, {"Text": "Too late.", "VoiceId": "joe", "OutputFormat": "mp3"}, expires=1
    )
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    # Re-sign as if made an hour ago, valid for a minute.
    request = AWSRequest(
        method="GET",
        url=f"{keyed.url}/v1/speech",
        params={k: v for k, v in query.items() if not k.startswith("X-Amz-")},
    )
    signer = SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), "polly", "us-east-1", expires=60)
    # SigV4QueryAuth.add_auth's steps, with the clock an hour back.
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    request.context["timestamp"] = an_hour_ago.strftime(SIGV4_TIMESTAMP)
    signer._modify_request_before_signing(request)
    string_to_sign = signer.string_to_sign(request, signer.canonical_request(request))
    signer._inject_signature_to_request(request, signer.signature(string_to_sign, request))
    expired = httpx.get(request.prepare().url, timeout=60)
    assert expired.status_code == 403, expired.text
    assert expired.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert "Signature expired" in expired.json()["message"]
    too_long = botocore_presign(
        keyed.url, {"Text": "x", "VoiceId": "joe", "OutputFormat": "mp3"}, expires=604_801
    )
    answer = httpx.get(too_long, timeout=60)
    assert answer.status_code == 400 and "7 days" in answer.json()["message"]


def test_get_speech_checks_its_fields(keyed):
    url = botocore_presign(keyed.url, {"Text": "No voice.", "OutputFormat": "mp3"})
    answer = httpx.get(url, timeout=60)
    assert answer.status_code == 400 and "voiceId" in answer.json()["message"]
    unsigned = httpx.get(
        f"{keyed.url}/v1/speech?" + urlencode({"Text": "x", "VoiceId": "joe", "OutputFormat": "mp3"})
    )
    assert unsigned.status_code == 403
    assert unsigned.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"

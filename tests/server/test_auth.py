"""Credentials: SigV4 on the Polly routes and Bearer keys on the OpenAI routes, once keys are configured."""

from __future__ import annotations

import httpx
import openai
import pytest

from .harness import ACCESS_KEY, OPENAI_KEY, SECRET_KEY, make_settings, openai_client, polly_client, serve


@pytest.fixture(scope="module")
def locked(tmp_path_factory, shared_cache):
    settings = make_settings(
        tmp_path_factory.mktemp("locked"),
        shared_cache,
        aws_credentials={ACCESS_KEY: SECRET_KEY},
        openai_api_keys=[OPENAI_KEY],
    )
    yield from serve(settings)


def test_signed_requests_pass(locked):
    polly = polly_client(locked.url)
    assert polly.describe_voices(LanguageCode="en-US")["Voices"]
    audio = polly.synthesize_speech(Text="Signed.", VoiceId="joe", OutputFormat="pcm")["AudioStream"].read()
    assert len(audio) > 8000
    polly.put_lexicon(
        Name="abc",
        Content='<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" '
        'alphabet="ipa" '
        'xml:lang="en-US"><lexeme><grapheme>abc</grapheme><alias>alphabet</alias></lexeme></lexicon>',
    )
    assert polly.get_lexicon(Name="abc")["Lexicon"]["Name"] == "abc"


@pytest.mark.parametrize(
    ("access_key", "secret_key"),
    [(ACCESS_KEY, "wrong-secret"), ("AKIDUNKNOWN", SECRET_KEY)],
    ids=["wrong-secret", "unknown-key"],
)
def test_bad_credentials_are_access_denied(locked, access_key, secret_key):
    polly = polly_client(locked.url, access_key, secret_key)
    with pytest.raises(polly.exceptions.AccessDeniedException) as caught:
        polly.synthesize_speech(Text="Nope.", VoiceId="joe", OutputFormat="mp3")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_tampered_body_is_access_denied(locked):
    """A request signed for one body and sent with another fails the payload hash."""
    polly = polly_client(locked.url)

    def swap_body(request, **kwargs):
        request.body = request.body.replace(b"Original", b"Tampered")

    polly.meta.events.register_last("before-send.polly.SynthesizeSpeech", swap_body)
    with pytest.raises(polly.exceptions.AccessDeniedException):
        polly.synthesize_speech(Text="Original text.", VoiceId="joe", OutputFormat="mp3")


def test_unsigned_requests_are_denied(locked):
    answer = httpx.get(f"{locked.url}/v1/voices")
    assert answer.status_code == 403
    assert answer.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert "Authorization" in answer.json()["message"]


def test_openai_keys(locked):
    good = openai_client(locked.url)
    assert good.audio.speech.create(model="tts-1", voice="alloy", input="Hi.", response_format="pcm").content
    with pytest.raises(openai.AuthenticationError) as caught:
        openai_client(locked.url, "sk-wrong").audio.speech.create(model="tts-1", voice="alloy", input="Hi.")
    assert caught.value.status_code == 401 and caught.value.body["code"] == "invalid_api_key"


def test_health_stays_open(locked):
    assert httpx.get(f"{locked.url}/healthz").json()["status"] == "ok"

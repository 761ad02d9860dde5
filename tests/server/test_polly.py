"""The Polly REST API through stock boto3: speech in every format, marks, voices, lexicons, errors."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from voicesmith.audio.encode import decode

TEXT = "Hello there. This is voicesmith speaking."
W3C_LEXICON = """<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"
         alphabet="ipa" xml:lang="en-US">
  <lexeme><grapheme>W3C</grapheme><alias>World Wide Web Consortium</alias></lexeme>
</lexicon>"""


def speak(polly, **fields):
    request = {"Text": TEXT, "VoiceId": "joe", "OutputFormat": "pcm", **fields}
    answer = polly.synthesize_speech(**request)
    return answer, answer["AudioStream"].read()


@pytest.mark.parametrize(
    ("fmt", "rate", "content_type", "expected_rate"),
    [
        ("mp3", None, "audio/mpeg", 24000),
        ("ogg_vorbis", None, "audio/ogg", 24000),
        ("ogg_opus", None, "audio/ogg", 48000),
        ("pcm", None, "audio/pcm", 16000),
        ("pcm", "8000", "audio/pcm", 8000),
        ("mulaw", None, "audio/mulaw", 8000),
        ("alaw", None, "audio/alaw", 8000),
        ("mp3", "22050", "audio/mpeg", 22050),
    ],
)
def test_every_format_decodes_at_polly_rates(polly, fmt, rate, content_type, expected_rate):
    fields = {"OutputFormat": fmt, **({"SampleRate": rate} if rate else {})}
    answer, data = speak(polly, **fields)
    assert answer["ContentType"] == content_type
    assert answer["RequestCharacters"] == len(TEXT)
    audio, got_rate = decode(data, fmt, expected_rate)
    assert got_rate == expected_rate
    assert 1.5 < len(audio) / got_rate < 6.0
    assert np.abs(audio).max() > 0.05


def test_describe_voices_lists_the_catalog(polly):
    voices = polly.describe_voices()["Voices"]
    joe = next(v for v in voices if v["Id"] == "joe")
    assert joe["SupportedEngines"] == ["standard", "neural", "long-form", "generative"]
    assert joe["LanguageCode"] == "en-US" and joe["LanguageName"] == "US English"
    assert joe["Gender"] == "Male" and joe["Name"] == "Joe"
    assert polly.describe_voices(Engine="standard")["Voices"] == voices
    german = polly.describe_voices(LanguageCode="de-DE")["Voices"]
    assert {v["Id"] for v in german} >= {"Hans", "Vicki", "Daniel"} and "joe" not in {v["Id"] for v in german}
    us = [v["Id"] for v in polly.describe_voices(Engine="neural", LanguageCode="en-US")["Voices"]]
    assert us[0] == "joe" and {"Joanna", "Matthew", "Ruth"} <= set(us)


def test_ssml_is_billed_without_tags(polly):
    ssml = '<speak>Hello <break time="200ms"/> <prosody rate="slow">world</prosody>.</speak>'
    answer, data = speak(polly, Text=ssml, TextType="ssml")
    assert answer["RequestCharacters"] == len("Hello  world.")
    assert len(data) > 8000


def test_speech_marks_are_json_lines(polly):
    answer = polly.synthesize_speech(
        Text="Hello big world. Bye now.",
        VoiceId="joe",
        OutputFormat="json",
        SpeechMarkTypes=["word", "sentence"],
    )
    assert answer["ContentType"] == "application/x-json-stream"
    marks = [json.loads(line) for line in answer["AudioStream"].read().decode().splitlines()]
    words = [m["value"] for m in marks if m["type"] == "word"]
    assert words == ["Hello", "big", "world", "Bye", "now"]
    assert [m["type"] for m in marks].count("sentence") == 2
    times = [m["time"] for m in marks]
    assert times == sorted(times)
    source = b"Hello big world. Bye now."
    assert all(source[m["start"] : m["end"]].decode() == m["value"] for m in marks if m["type"] == "word")


def test_ssml_marks_need_ssml(polly):
    answer = polly.synthesize_speech(
        Text='<speak>One <mark name="here"/> two.</speak>',
        TextType="ssml",
        VoiceId="joe",
        OutputFormat="json",
        SpeechMarkTypes=["ssml", "word"],
    )
    marks = [json.loads(line) for line in answer["AudioStream"].read().splitlines()]
    assert [m["value"] for m in marks if m["type"] == "ssml"] == ["here"]
    with pytest.raises(polly.exceptions.SsmlMarksNotSupportedForTextTypeException):
        polly.synthesize_speech(Text="One two.", VoiceId="joe", OutputFormat="json", SpeechMarkTypes=["ssml"])


BAD_REQUESTS = [
    ({"OutputFormat": "wav"}, "ValidationException"),
    ({"TextType": "html"}, "ValidationException"),
    ({"Engine": "fast"}, "ValidationException"),
    ({"VoiceId": "Nobody"}, "ValidationException"),
    ({"VoiceId": "../etc"}, "ValidationException"),
    ({"SpeechMarkTypes": ["word"]}, "MarksNotSupportedForFormatException"),
    ({"OutputFormat": "json", "SpeechMarkTypes": ["words"]}, "ValidationException"),
    ({"OutputFormat": "json", "SpeechMarkTypes": ["word"] * 5}, "ValidationException"),
    ({"OutputFormat": "json"}, "ValidationException"),
    ({"SampleRate": "12345"}, "InvalidSampleRateException"),
    ({"OutputFormat": "ogg_opus", "SampleRate": "22050"}, "InvalidSampleRateException"),
    ({"TextType": "ssml", "Text": "<speak>Hi <blink>there</blink></speak>"}, "InvalidSsmlException"),
    ({"TextType": "ssml", "Text": "<speak>unclosed"}, "InvalidSsmlException"),
    ({"Text": "x" * 3001}, "TextLengthExceededException"),
    ({"TextType": "ssml", "Text": "<speak>" + "<break/>" * 800 + "</speak>"}, "TextLengthExceededException"),
    ({"LexiconNames": ["missing"]}, "LexiconNotFoundException"),
    ({"LexiconNames": ["a", "b", "c", "d", "e", "f"]}, "MaxLexiconsNumberExceededException"),
    ({"LexiconNames": ["bad-name"]}, "ValidationException"),
    ({"LanguageCode": "de-DE"}, "LanguageNotSupportedException"),
]


@pytest.mark.parametrize(
    ("fields", "error"), BAD_REQUESTS, ids=[e + str(i) for i, (_, e) in enumerate(BAD_REQUESTS)]
)
def test_bad_requests_raise_polly_types(polly, fields, error):
    with pytest.raises(getattr(polly.exceptions, error)) as caught:
        speak(polly, **fields)
    response = caught.value.response
    assert response["Error"]["Code"] == error
    assert response["Error"]["Message"]
    assert response["ResponseMetadata"]["RequestId"]


def test_internal_failures_are_service_failures(polly, server, monkeypatch):
    def broken(request):
        raise RuntimeError("the voice model is corrupt")

    monkeypatch.setattr(server.app.state.services.synthesizer, "open", broken)
    with pytest.raises(polly.exceptions.ServiceFailureException) as caught:
        speak(polly)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert "RuntimeError" in caught.value.response["Error"]["Message"]


def test_lexicon_crud_and_effect(polly):
    with pytest.raises(polly.exceptions.LexiconNotFoundException):
        polly.get_lexicon(Name="w3c")
    plain = speak(polly, Text="W3C")[1]
    polly.put_lexicon(Name="w3c", Content=W3C_LEXICON)
    stored = polly.get_lexicon(Name="w3c")
    assert stored["Lexicon"] == {"Name": "w3c", "Content": W3C_LEXICON}
    attributes = stored["LexiconAttributes"]
    assert attributes["LexemesCount"] == 1 and attributes["Alphabet"] == "ipa"
    assert attributes["LanguageCode"] == "en-US" and attributes["Size"] == len(W3C_LEXICON)
    assert [entry["Name"] for entry in polly.list_lexicons()["Lexicons"]] == ["w3c"]
    aliased = speak(polly, Text="W3C", LexiconNames=["w3c"])[1]
    # "World Wide Web Consortium" takes much longer to say than "W 3 C".
    assert len(aliased) > 1.3 * len(plain)
    polly.delete_lexicon(Name="w3c")
    assert polly.list_lexicons()["Lexicons"] == []
    with pytest.raises(polly.exceptions.LexiconNotFoundException):
        polly.delete_lexicon(Name="w3c")


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("<lexicon>", "InvalidLexiconException"),
        (W3C_LEXICON.replace('alphabet="ipa"', 'alphabet="klingon"'), "UnsupportedPlsAlphabetException"),
        (
            W3C_LEXICON.replace("</lexicon>", "<!--" + "x" * 4000 + "--></lexicon>"),
            "LexiconSizeExceededException",
        ),
        (W3C_LEXICON.replace("World Wide Web Consortium", "w" * 101), "MaxLexemeLengthExceededException"),
    ],
)
def test_bad_lexicons_raise_polly_types(polly, content, error):
    with pytest.raises(getattr(polly.exceptions, error)):
        polly.put_lexicon(Name="bad", Content=content)


def test_invalid_next_token(polly):
    with pytest.raises(polly.exceptions.InvalidNextTokenException):
        polly.list_lexicons(NextToken="not-a-token")
    with pytest.raises(polly.exceptions.InvalidNextTokenException):
        polly.describe_voices(NextToken="bogus!")


def test_several_clients_at_once_get_the_same_audio(polly):
    texts = [f"Client number {n} says hello." for n in range(4)]
    alone = [speak(polly, Text=text)[1] for text in texts]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda text: speak(polly, Text=text)[1], texts))
    assert together == alone


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "fmt"), [("speech", "pcm"), ("speech", "mp3"), ("speech", "ogg_vorbis"), ("audio", "wav")]
)
def test_audio_streams_before_synthesis_ends(server, monkeypatch, path, fmt):
    """The client holds the first bytes before the server has made the last audio."""
    synthesizer = server.app.state.services.synthesizer
    real_open = synthesizer.open
    synthesis_done: list[float] = []

    class Recorded:
        """The opened stream, noting when its last chunk has been made."""

        def __init__(self, opened):
            self.opened = opened
            self.sentence_emotions = opened.sentence_emotions
            self.sample_rate = opened.sample_rate

        def __iter__(self):
            yield from self.opened
            synthesis_done.append(time.monotonic())

    monkeypatch.setattr(synthesizer, "open", lambda request: Recorded(real_open(request)))
    text = " ".join(f"This is sentence number {n} of a text that takes a while to speak." for n in range(5))
    if path == "speech":
        url, body = f"{server.url}/v1/speech", {"Text": text, "VoiceId": "joe", "OutputFormat": fmt}
    else:
        url, body = (
            f"{server.url}/v1/audio/speech",
            {"model": "tts-1", "voice": "joe", "input": text, "response_format": fmt},
        )
    arrivals = []
    with httpx.stream("POST", url, json=body, timeout=120) as answer:
        assert answer.status_code == 200
        assert "content-length" not in answer.headers
        for block in answer.iter_raw():
            arrivals.append((time.monotonic(), len(block)))
    assert len(synthesis_done) == 1
    assert arrivals[0][0] < synthesis_done[0]
    assert len(arrivals) > 2 and sum(size for _, size in arrivals) > 20_000


def test_healthz_and_request_ids(server):
    health = httpx.get(f"{server.url}/healthz").json()
    assert health["status"] == "ok" and health["voices"] >= 1 and health["version"]
    first = httpx.get(f"{server.url}/v1/voices").headers["x-amzn-RequestId"]
    second = httpx.get(f"{server.url}/v1/voices").headers["x-amzn-RequestId"]
    assert first and second and first != second


def test_request_body_is_capped(server):
    body = {"Text": "x" * (server.settings.max_request_bytes + 10), "VoiceId": "joe", "OutputFormat": "mp3"}
    answer = httpx.post(f"{server.url}/v1/speech", json=body)
    assert answer.status_code == 413
    assert answer.headers["x-amzn-ErrorType"] == "ValidationException"


def test_chunked_request_body_is_capped(server):
    def chunks():
        for _ in range(server.settings.max_request_bytes // 10_000 + 2):
            yield b"x" * 10_000

    answer = httpx.put(f"{server.url}/v1/lexicons/big", content=chunks())
    assert answer.status_code == 413
    assert answer.headers["x-amzn-ErrorType"] == "ValidationException"


def test_unknown_route_is_a_polly_error(server):
    answer = httpx.get(f"{server.url}/v1/nothing-here")
    assert answer.status_code == 404
    assert answer.json()["__type"] == answer.headers["x-amzn-ErrorType"]


def test_sagemaker_ping_and_invocations(server):
    assert httpx.get(f"{server.url}/ping").status_code == 200
    answer = httpx.post(f"{server.url}/invocations", json={"Text": "Hello.", "OutputFormat": "ogg_vorbis"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/ogg"
    audio, rate = decode(answer.content, "ogg_vorbis")
    assert rate == 24000 and len(audio) > 0.3 * rate
    bad = httpx.post(f"{server.url}/invocations", content=b"not json")
    assert bad.status_code == 400 and bad.json()["__type"] == "ValidationException"


def test_emotion_extension_fields_over_raw_http(server):
    """Raw HTTP clients may add Emotion/EmotionIntensity (boto3 cannot: it validates its parameters)."""
    body = {"Text": "Where is my refund?", "VoiceId": "joe", "OutputFormat": "pcm", "SampleRate": "16000"}
    plain = httpx.post(f"{server.url}/v1/speech", json=body, timeout=60)
    angry = httpx.post(
        f"{server.url}/v1/speech", json={**body, "Emotion": "angry", "EmotionIntensity": 1.5}, timeout=60
    )
    assert plain.status_code == angry.status_code == 200
    assert len(angry.content) < len(plain.content)  # angry speaks faster
    bad = httpx.post(f"{server.url}/v1/speech", json={**body, "Emotion": "grumpy"}, timeout=60)
    assert bad.status_code == 400 and bad.json()["__type"].endswith("ValidationException")


def test_the_answer_reports_the_emotion_of_each_sentence(server):
    ssml = (
        '<speak><amazon:emotion name="angry" intensity="high">Where is my order?</amazon:emotion> '
        "It was due on Monday.</speak>"
    )
    body = {"Text": ssml, "TextType": "ssml", "VoiceId": "joe", "OutputFormat": "pcm"}
    answer = httpx.post(f"{server.url}/v1/speech", json=body, timeout=60)
    assert answer.headers["x-voicesmith-emotions"] == "angry,neutral"
    marks = httpx.post(
        f"{server.url}/v1/speech",
        timeout=60,
        json={**body, "OutputFormat": "json", "SpeechMarkTypes": ["sentence"]},
    ).text.splitlines()
    assert [json.loads(line).get("emotion") for line in marks] == ["angry", None]

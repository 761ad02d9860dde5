"""POST /v1/emotion: the analyser over HTTP, in AWS Comprehend's DetectSentiment shape."""

from __future__ import annotations

import httpx
import pytest

from .harness import make_settings, serve


def test_per_sentence_emotions_and_sentiment(server):
    text = "This is absolutely unacceptable, I am furious. Thank you so much, that is wonderful news!"
    answer = httpx.post(f"{server.url}/v1/emotion", json={"Text": text, "LanguageCode": "en"}, timeout=60)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    first, second = body["Sentences"]
    assert (first["Emotion"], first["Sentiment"]) == ("angry", "NEGATIVE")
    assert (second["Emotion"], second["Sentiment"]) == ("happy", "POSITIVE")
    assert text[first["BeginOffset"] : first["EndOffset"]] == first["Text"]
    assert set(body["SentimentScore"]) == {"Positive", "Negative", "Neutral", "Mixed"}
    assert abs(sum(first["EmotionScores"].values()) - 1) < 1e-3 and 0 <= first["Intensity"] <= 2


def test_bad_input_in_the_api_error_shape(server):
    empty = httpx.post(f"{server.url}/v1/emotion", json={"Text": ""}, timeout=30)
    assert empty.status_code == 400 and "__type" in empty.json()
    german = httpx.post(f"{server.url}/v1/emotion", json={"Text": "Hallo.", "LanguageCode": "de"}, timeout=30)
    assert german.status_code == 400 and german.json()["__type"].endswith("LanguageNotSupportedException")


@pytest.fixture(scope="module")
def server(tmp_path_factory, shared_cache):
    """A server whose operator lexicon (VOICESMITH_EMOTION_LEXICON) says a chargeback is angry."""
    root = tmp_path_factory.mktemp("emotion-server")
    lexicon = root / "emotion-lexicon.tsv"
    lexicon.write_text("chargeback\tangry\thigh\n", encoding="utf-8")
    yield from serve(make_settings(root, shared_cache, emotion_lexicon=lexicon))


def test_explain_names_the_words_with_offsets(server):
    text = "Thanks for calling. I am furious about the late delivery."
    answer = httpx.post(f"{server.url}/v1/emotion", json={"Text": text, "Explain": True}, timeout=60)
    assert answer.status_code == 200, answer.text
    second = answer.json()["Sentences"][1]
    assert second["Emotion"] == "angry" and second["Explanation"]["Explained"] == "angry"
    top = second["Explanation"]["Words"][0]
    assert top["Text"] == "furious" and text[top["BeginOffset"] : top["EndOffset"]] == "furious"
    plain = httpx.post(f"{server.url}/v1/emotion", json={"Text": text}, timeout=60).json()
    assert "Explanation" not in plain["Sentences"][0]
    bad = httpx.post(f"{server.url}/v1/emotion", json={"Text": text, "Explain": "yes"}, timeout=30)
    assert bad.status_code == 400 and "__type" in bad.json()


def test_spoken_emotion_carries_through_the_paragraph(server):
    text = "I am furious. Third time this week. Fix it.\n\nThe next train leaves at six."
    body = httpx.post(f"{server.url}/v1/emotion", json={"Text": text}, timeout=60).json()
    assert [s["SpokenEmotion"] for s in body["Sentences"]] == ["angry", "angry", "angry", "neutral"]
    assert body["Sentences"][2]["DecidedBy"] in ("context", "model", "cue")


def test_the_operator_lexicon_decides_before_the_model(server):
    text = "I would like to start a chargeback."
    sentence = httpx.post(f"{server.url}/v1/emotion", json={"Text": text}, timeout=60).json()["Sentences"][0]
    assert (sentence["Emotion"], sentence["DecidedBy"], sentence["Cue"]) == ("angry", "lexicon", "chargeback")
    assert sentence["Intensity"] == 1.5
    speech = {"Text": text, "VoiceId": "joe", "OutputFormat": "pcm", "Emotion": "auto"}
    answer = httpx.post(f"{server.url}/v1/speech", json=speech, timeout=60)
    assert answer.status_code == 200 and answer.headers["x-voicesmith-emotions"] == "angry"

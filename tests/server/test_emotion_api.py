"""POST /v1/emotion: the analyser over HTTP, in AWS Comprehend's DetectSentiment shape."""

from __future__ import annotations

import httpx


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

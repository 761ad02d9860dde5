"""``POST /v1/emotion``: the emotion the analyser hears, per sentence, in AWS Comprehend's shape.

The body is DetectSentiment's (``{"Text": ..., "LanguageCode": "en"}``); the answer has Comprehend's
``Sentiment`` and ``SentimentScore`` (POSITIVE / NEGATIVE / NEUTRAL / MIXED, derived from the emotion
scores) for the whole text, plus voicesmith's ``Emotion``, ``EmotionScores`` and ``Intensity``, and the
same for each sentence with its character offsets (``BeginOffset``/``EndOffset``, as Comprehend's
entities carry them).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from voicesmith.errors import LanguageNotSupportedError, ValidationError
from voicesmith.server.deps import polly_auth
from voicesmith.text.sentences import split_sentences
from voicesmith.text.unicode import check_text

router = APIRouter(prefix="/v1", tags=["emotion"], dependencies=[Depends(polly_auth)])

MAX_TEXT_BYTES = 5000
"""Comprehend's DetectSentiment limit (UTF-8 bytes)."""


class EmotionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Text: str = Field(min_length=1)
    LanguageCode: str = "en"


def sentiment(scores: dict[str, float]) -> tuple[str, dict[str, float]]:
    """Comprehend's sentiment from the five emotion scores: joy is positive, anger and sadness
    negative, surprise half positive and half neutral; MIXED where both sides are strong."""
    positive = scores.get("happy", 0.0) + scores.get("surprise", 0.0) / 2
    negative = scores.get("angry", 0.0) + scores.get("sad", 0.0)
    neutral = scores.get("neutral", 0.0) + scores.get("surprise", 0.0) / 2
    mixed = min(positive, negative) if min(positive, negative) > 0.3 else 0.0
    values = {"Positive": positive, "Negative": negative, "Neutral": neutral, "Mixed": mixed}
    label = (
        "MIXED"
        if mixed
        else max(
            ("POSITIVE", positive), ("NEGATIVE", negative), ("NEUTRAL", neutral), key=lambda pair: pair[1]
        )[0]
    )
    return label, {key: round(value, 6) for key, value in values.items()}


def _describe(result) -> dict:
    label, score = sentiment(result.scores)
    return {
        "Sentiment": label,
        "SentimentScore": score,
        "Emotion": str(result.label),
        "EmotionScores": {key: round(value, 6) for key, value in result.scores.items()},
        "Intensity": round(float(result.intensity), 4),
    }


@router.post("/emotion", summary="Detect the emotion of a text, per sentence")
def detect_emotion(body: EmotionRequest) -> dict:
    from voicesmith.emotion.analyze import EmotionAnalyzer

    if not body.LanguageCode.lower().startswith("en"):
        raise LanguageNotSupportedError(
            f"LanguageCode {body.LanguageCode!r}: the emotion analyser reads English"
        )
    if len(check_text(body.Text, "Text").encode()) > MAX_TEXT_BYTES:
        raise ValidationError(f"Text is longer than {MAX_TEXT_BYTES} bytes")
    sentences = split_sentences(body.Text) or []
    if not sentences:
        raise ValidationError("Text has no sentence to analyse")
    analyzer = EmotionAnalyzer.default()
    results = analyzer.analyze_sentences([s.text for s in sentences])
    whole = analyzer.analyze(body.Text)
    return {
        **_describe(whole),
        "Sentences": [
            {"Text": s.text, "BeginOffset": s.start, "EndOffset": s.end, **_describe(r)}
            for s, r in zip(sentences, results, strict=True)
        ],
    }

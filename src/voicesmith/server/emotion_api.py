"""``POST /v1/emotion``: the emotion the analyser hears, per sentence, in AWS Comprehend's shape.

The body is DetectSentiment's (``{"Text": ..., "LanguageCode": "en"}``), plus voicesmith's optional
``Explain`` (true: say which words drove each decision). The answer has Comprehend's ``Sentiment`` and
``SentimentScore`` (POSITIVE / NEGATIVE / NEUTRAL / MIXED, derived from the emotion scores) for the
whole text, plus voicesmith's ``Emotion``, ``EmotionScores`` and ``Intensity``, and the same for each
sentence with its character offsets (``BeginOffset``/``EndOffset``, as Comprehend's entities carry
them). Per sentence, ``Emotion`` is the sentence's own analysis and ``SpokenEmotion`` /
``SpokenIntensity`` what ``emotion=auto`` speaks it with after the paragraph context rules;
``DecidedBy`` says which rule decided (``model``, ``cue``: a clear emotion word, ``lexicon``: the
operator's ``VOICESMITH_EMOTION_LEXICON`` list, ``context``) and ``Cue`` the word or phrase.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from voicesmith.errors import LanguageNotSupportedError, ValidationError
from voicesmith.server.deps import SettingsDep, polly_auth
from voicesmith.text.sentences import split_sentences
from voicesmith.text.unicode import check_text

router = APIRouter(prefix="/v1", tags=["emotion"], dependencies=[Depends(polly_auth)])

MAX_TEXT_BYTES = 5000
"""Comprehend's DetectSentiment limit (UTF-8 bytes)."""
MAX_EXPLAINED_SENTENCES = 50
"""Explaining costs one model run per word; a request may ask it for this many sentences at most."""


class EmotionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Text: str = Field(min_length=1)
    LanguageCode: str = "en"
    Explain: StrictBool = False


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
        "DecidedBy": result.source,
        "Cue": result.cue,
    }


def _explanation(analyzer, sentence, result) -> dict:
    from voicesmith.emotion.explain import explain

    found = explain(analyzer, sentence.text, result)
    return {
        "Explained": found.explained.value,
        "Words": [
            {
                "Text": w.word,
                "BeginOffset": sentence.start + w.start,
                "EndOffset": sentence.start + w.end,
                "Weight": round(w.weight, 4),
            }
            for w in found.top(5)
        ],
    }


@router.post("/emotion", summary="Detect the emotion of a text, per sentence")
def detect_emotion(body: EmotionRequest, settings: SettingsDep) -> dict:
    from voicesmith.emotion.analyze import EmotionAnalyzer, load_operator_lexicon
    from voicesmith.emotion.context import paragraph_numbers, route_in_context

    if not body.LanguageCode.lower().startswith("en"):
        raise LanguageNotSupportedError(
            f"LanguageCode {body.LanguageCode!r}: the emotion analyser reads English"
        )
    if len(check_text(body.Text, "Text").encode()) > MAX_TEXT_BYTES:
        raise ValidationError(f"Text is longer than {MAX_TEXT_BYTES} bytes")
    sentences = split_sentences(body.Text) or []
    if not sentences:
        raise ValidationError("Text has no sentence to analyse")
    if body.Explain and len(sentences) > MAX_EXPLAINED_SENTENCES:
        raise ValidationError(
            f"Explain is limited to {MAX_EXPLAINED_SENTENCES} sentences a request; this text has "
            f"{len(sentences)}"
        )
    aliases = {"disgust_as": settings.emotion_disgust_as, "fear_as": settings.emotion_fear_as}
    lexicon = load_operator_lexicon(settings.emotion_lexicon, **aliases)
    analyzer = EmotionAnalyzer.default()
    texts = [s.text for s in sentences]
    results = analyzer.analyze_sentences(texts, lexicon=lexicon, **aliases)
    spoken = route_in_context(
        texts, results, paragraph_numbers(body.Text, [(s.start, s.end) for s in sentences])
    )
    whole = analyzer.analyze_sentences([body.Text], lexicon=lexicon, **aliases)[0]
    out_sentences = []
    for sentence, result, routed in zip(sentences, results, spoken, strict=True):
        item = {
            "Text": sentence.text,
            "BeginOffset": sentence.start,
            "EndOffset": sentence.end,
            **_describe(result),
            "SpokenEmotion": str(routed.label),
            "SpokenIntensity": round(float(routed.intensity), 4),
        }
        if routed.source == "context":
            item["DecidedBy"] = "context"
        if body.Explain:
            item["Explanation"] = _explanation(analyzer, sentence, result)
        out_sentences.append(item)
    return {**_describe(whole), "Sentences": out_sentences}

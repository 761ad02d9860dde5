"""route_emotions and the context rules: explicit emotions win; auto carries a paragraph's emotion to
its short follow-ups, with hysteresis, and never changes inside a sentence."""

from __future__ import annotations

import pytest

from voicesmith.emotion.analyze import EmotionAnalyzer, EmotionResult, route_emotions
from voicesmith.emotion.context import paragraph_numbers, route_in_context
from voicesmith.emotion.labels import SPOKEN_EMOTIONS, Emotion

A, N, H, S = Emotion.ANGRY, Emotion.NEUTRAL, Emotion.HAPPY, Emotion.SAD
THRESHOLDS = {"angry": 0.5, "happy": 0.5, "sad": 0.5, "surprise": 0.5}
LONG = "this sentence has quite a few words in it, more than five."
SHORT = "Fix it."


def _result(label: str, score: float, source: str = "model") -> EmotionResult:
    """An analysis decided ``label`` with ``score`` for it (the rest on neutral)."""
    scores = dict.fromkeys((e.value for e in SPOKEN_EMOTIONS), 0.0)
    scores[label if label != "neutral" else "neutral"] = score if label != "neutral" else 1.0
    if label != "neutral":
        scores["neutral"] = 1.0 - score
    decided = Emotion(label) if label == "neutral" or score >= 0.5 or source != "model" else N
    return EmotionResult(
        label=decided,
        scores=scores,
        intensity=0.0 if decided is N else 1.2,
        ekman={},
        source=source,
        thresholds=THRESHOLDS,
    )


def _neutral(with_angry: float = 0.0) -> EmotionResult:
    result = _result("neutral", 0)
    scores = {**result.scores, "angry": with_angry, "neutral": 1.0 - with_angry}
    return EmotionResult(N, scores, 0.0, {}, thresholds=THRESHOLDS)


def _labels(texts, results, paragraphs=None, smoothing=True):
    return [r.label for r in route_in_context(texts, results, paragraphs, smoothing=smoothing)]


def test_short_follow_ups_take_the_paragraphs_emotion():
    texts = ["I am furious about this whole thing.", "Third time this week.", SHORT]
    routed = route_in_context(texts, [_result("angry", 0.9), _neutral(), _neutral()])
    assert [r.label for r in routed] == [A, A, A]
    assert [r.source for r in routed] == ["model", "context", "context"]
    assert routed[1].intensity == pytest.approx(1.2 * 0.9)


def test_one_neutral_clause_does_not_flip_the_voice_mid_rant():
    texts = [LONG, LONG, LONG]
    assert _labels(texts, [_result("angry", 0.9), _neutral(0.05), _result("angry", 0.8)]) == [A, A, A]


def test_a_long_neutral_with_some_support_holds_and_without_it_ends_the_run():
    texts = [LONG, LONG, LONG]
    assert _labels(texts, [_result("angry", 0.9), _neutral(0.3), _neutral(0.05)]) == [
        A,
        A,
        N,
    ]  # 0.3 >= 0.5 x 0.5
    assert _labels(texts, [_result("angry", 0.9), _neutral(0.05), _neutral(0.05)]) == [A, N, N]
    # once ended, a short sentence is not carried any more
    assert _labels([LONG, LONG, SHORT], [_result("angry", 0.9), _neutral(), _neutral()]) == [A, N, N]


def test_a_weak_other_emotion_inside_a_run_keeps_the_run_but_a_strong_one_switches():
    texts = [LONG, "Great job, really.", SHORT]
    assert _labels(texts, [_result("angry", 0.9), _result("happy", 0.6), _neutral()]) == [A, A, A]
    assert _labels(texts, [_result("angry", 0.9), _result("happy", 0.95), _neutral()]) == [A, H, H]
    assert _labels(texts, [_result("angry", 0.9), _result("happy", 0.6, "cue"), _neutral()]) == [A, H, H]
    # a long sentence of another emotion is a decision of its own
    assert _labels([LONG, LONG], [_result("angry", 0.9), _result("sad", 0.6)]) == [A, S]


def test_paragraphs_are_independent():
    texts = [LONG, SHORT, SHORT]
    results = [_result("angry", 0.9), _neutral(), _neutral()]
    assert _labels(texts, results, [0, 0, 1]) == [A, A, N]


def test_lexicon_decisions_are_kept_and_start_a_run():
    texts = [LONG, SHORT, LONG]
    lexicon = EmotionResult(H, _result("happy", 0.1).scores, 1.0, {}, source="lexicon", thresholds=THRESHOLDS)
    assert _labels(texts, [lexicon, _neutral(), _result("angry", 0.9)]) == [H, H, A]
    neutral_by_operator = EmotionResult(
        N, _neutral().scores, 0.0, {}, source="lexicon", thresholds=THRESHOLDS
    )
    assert _labels([LONG, SHORT, SHORT], [_result("angry", 0.9), neutral_by_operator, _neutral()]) == [
        A,
        N,
        N,
    ]


def test_no_smoothing_and_single_sentences_are_unchanged():
    results = [_result("angry", 0.9), _neutral(), _neutral()]
    assert _labels([LONG, SHORT, SHORT], results, smoothing=False) == [A, N, N]
    assert _labels([SHORT], [_neutral()]) == [N]


def test_paragraph_numbers_from_blank_lines_and_ssml():
    text = "One. Two.\n\nThree.\n  \nFour."
    spans = [(0, 4), (5, 9), (11, 17), (21, 26)]
    assert paragraph_numbers(text, spans) == [0, 0, 1, 2]
    ssml = b"<speak><p>One.</p><p>Two. Three.</p></speak>"
    spans = [(10, 14), (21, 25), (26, 32)]
    assert paragraph_numbers(ssml, spans) == [0, 1, 1]


def test_explicit_emotion_wins_without_loading_the_model(monkeypatch):
    def fail():
        raise AssertionError("the analyser must not run for an explicit emotion")

    monkeypatch.setattr(EmotionAnalyzer, "default", fail)
    sentences = ["I am furious!", "What a lovely day."]
    assert route_emotions(sentences, explicit=Emotion.SAD) == [(Emotion.SAD, 1.0)] * 2
    assert route_emotions(sentences, explicit=Emotion.HAPPY, intensity=1.5) == [(Emotion.HAPPY, 1.5)] * 2
    assert route_emotions(sentences, explicit=Emotion.NEUTRAL) == [(Emotion.NEUTRAL, 0.0)] * 2


@pytest.mark.parametrize("explicit", [None, Emotion.AUTO])
def test_auto_analyses_each_sentence(explicit):
    sentences = [
        "Your parcel will be delivered on Thursday.",
        "This is completely unacceptable and I demand to speak to a manager.",
        "I am furious that you charged my card twice without asking.",
        "Stop sending me these useless emails!",
        "Thank you so much, you have been incredibly helpful!",
    ]
    routed = route_emotions(sentences, explicit=explicit)
    labels = [label for label, _ in routed]
    assert labels[0] is Emotion.NEUTRAL
    assert labels[1:4] == [Emotion.ANGRY] * 3
    assert labels[4] is Emotion.HAPPY
    assert routed[0][1] == 0.0
    assert all(intensity > 0 for _, intensity in routed[1:])


def test_the_issues_rant_is_angry_throughout():
    routed = route_emotions(["I am furious.", "Third time this week.", "Fix it."], explicit=None)
    assert [label for label, _ in routed] == [A, A, A]
    # and the same follow-ups after a calm sentence stay calm
    routed = route_emotions(["Your order has shipped.", "Third time this week.", "Fix it."], explicit=None)
    assert [label for label, _ in routed][0] is N


def test_one_threshold_override():
    text = ["Wow, that was much faster than I expected!"]
    assert route_emotions(text, explicit=None)[0][0] is not N
    assert route_emotions(text, explicit=None, threshold=0.99)[0][0] is N

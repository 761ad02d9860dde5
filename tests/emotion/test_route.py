"""route_emotions: explicit emotions win; auto switches per sentence above the threshold, smoothed."""

from __future__ import annotations

import pytest

from voicesmith.emotion.analyze import EmotionAnalyzer, EmotionResult, route_emotions, smooth_emotions
from voicesmith.emotion.labels import SPOKEN_EMOTIONS, Emotion

THRESHOLD = 0.5


def _result(label: str, score: float) -> EmotionResult:
    """An analysis whose top emotional label is ``label`` with ``score`` (the rest on neutral)."""
    scores = {e.value: 0.0 for e in SPOKEN_EMOTIONS}
    if label == "neutral":
        scores["neutral"] = 1.0
    else:
        scores[label] = score
        scores["neutral"] = 1.0 - score
    return EmotionResult(label=Emotion(label), scores=scores, intensity=0.0, ekman={})


def _route(*spec: tuple[str, float], smoothing: bool = True) -> list[Emotion]:
    texts = [f"sentence {i}." for i in range(len(spec))]
    results = [_result(label, score) for label, score in spec]
    return [label for label, _ in smooth_emotions(texts, results, THRESHOLD, smoothing=smoothing)]


A, N, H = Emotion.ANGRY, Emotion.NEUTRAL, Emotion.HAPPY


def test_lone_moderate_neutral_between_angry_stays_angry():
    assert _route(("angry", 0.7), ("angry", 0.3), ("angry", 0.8)) == [A, A, A]


def test_bridge_needs_a_moderate_score_and_equal_neighbours():
    assert _route(("angry", 0.8), ("angry", 0.1), ("angry", 0.8)) == [A, N, A]  # 0.1 < threshold / 2
    assert _route(("angry", 0.8), ("angry", 0.3), ("happy", 0.8)) == [A, N, H]
    # without the bridge, weak ends are isolated and revert
    assert _route(("angry", 0.7), ("angry", 0.1), ("angry", 0.7)) == [N, N, N]


def test_lone_weak_emotion_between_neutrals_reverts():
    assert _route(("neutral", 0), ("happy", 0.6), ("neutral", 0)) == [N, N, N]


def test_lone_strong_emotion_is_kept():
    # strong = halfway from the threshold to 1 = 0.75
    assert _route(("neutral", 0), ("happy", 0.8), ("neutral", 0)) == [N, H, N]


def test_edges_have_one_neighbour():
    assert _route(("happy", 0.6), ("neutral", 0), ("neutral", 0)) == [N, N, N]
    assert _route(("happy", 0.6), ("happy", 0.6)) == [H, H]


def test_no_smoothing_and_single_sentences():
    assert _route(("neutral", 0), ("happy", 0.6), ("neutral", 0), smoothing=False) == [N, H, N]
    assert _route(("happy", 0.6)) == [H]
    assert _route(("happy", 0.4)) == [N]


def test_intensities():
    texts = ["a.", "b.", "c!!!"]
    results = [_result("angry", 0.9), _result("angry", 0.3), _result("angry", 0.7)]
    routed = smooth_emotions(texts, results, THRESHOLD)
    assert routed[0][1] > routed[2][1] - 0.3  # a higher score counts
    assert routed[1] == (A, min(routed[0][1], routed[2][1]))  # bridged: the weaker neighbour's
    assert all(0.25 <= intensity <= 2.0 for _, intensity in routed)


def test_explicit_emotion_wins_without_loading_the_model(monkeypatch):
    def fail():
        raise AssertionError("the analyser must not run for an explicit emotion")

    monkeypatch.setattr(EmotionAnalyzer, "default", fail)
    sentences = ["I am furious!", "What a lovely day."]
    assert route_emotions(sentences, explicit=Emotion.SAD, threshold=0.5) == [(Emotion.SAD, 1.0)] * 2
    assert (
        route_emotions(sentences, explicit=Emotion.HAPPY, threshold=0.5, intensity=1.5)
        == [(Emotion.HAPPY, 1.5)] * 2
    )
    assert route_emotions(sentences, explicit=Emotion.NEUTRAL, threshold=0.5) == [(Emotion.NEUTRAL, 0.0)] * 2


@pytest.mark.parametrize("explicit", [None, Emotion.AUTO])
def test_auto_analyses_each_sentence(explicit):
    sentences = [
        "Your parcel will be delivered on Thursday.",
        "This is completely unacceptable and I demand to speak to a manager.",
        "I am furious that you charged my card twice without asking.",
        "Stop sending me these useless emails!",
        "Thank you so much, you have been incredibly helpful!",
    ]
    routed = route_emotions(sentences, explicit=explicit, threshold=EmotionAnalyzer.default().threshold)
    labels = [label for label, _ in routed]
    assert labels[0] is Emotion.NEUTRAL
    assert labels[1:4] == [Emotion.ANGRY] * 3
    assert labels[4] is Emotion.HAPPY
    assert routed[0][1] == 0.0
    assert all(intensity > 0 for _, intensity in routed[1:])

"""Leave-one-word-out explanations: the words that drove a decision, on the shipped model."""

from __future__ import annotations

from voicesmith.emotion.analyze import EmotionAnalyzer
from voicesmith.emotion.explain import explain
from voicesmith.emotion.labels import Emotion


def test_the_emotion_word_drives_an_angry_decision():
    analyzer = EmotionAnalyzer.default()
    text = "I am furious about the late delivery."
    found = explain(analyzer, text)
    assert found.label is Emotion.ANGRY and found.explained is Emotion.ANGRY
    assert [w.word for w in found.words] == ["I", "am", "furious", "about", "the", "late", "delivery"]
    assert found.top(1)[0].word == "furious"
    for word in found.words:
        assert text[word.start : word.end] == word.word
    as_dict = found.as_dict(3)
    assert len(as_dict["words"]) <= 3 and as_dict["words"][0]["word"] == "furious"


def test_a_neutral_decision_explains_the_closest_emotion_and_the_rule_is_named():
    analyzer = EmotionAnalyzer.default()
    neutral = explain(analyzer, "The train leaves at six.")
    assert neutral.label is Emotion.NEUTRAL and neutral.explained is not Emotion.NEUTRAL
    assert len(neutral.words) == 5
    cue = explain(analyzer, "Honestly, I'm livid.")
    assert (cue.label, cue.source in ("model", "cue")) == (Emotion.ANGRY, True)
    assert explain(analyzer, "!!!").words == []

"""The shipped analyser: result shape, batching, the decision rules, and quality on in-domain text."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from voicesmith.emotion.analyze import (
    EmotionAnalyzer,
    EmotionResult,
    estimate_intensity,
    is_plain_question,
    spoken_scores,
)
from voicesmith.emotion.labels import SPOKEN_EMOTIONS, Emotion
from voicesmith.errors import ServiceFailureError, ValidationError

IN_DOMAIN = Path(__file__).with_name("in_domain.tsv")
EKMAN = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")


@pytest.fixture(scope="module")
def analyzer() -> EmotionAnalyzer:
    return EmotionAnalyzer.default()


def test_default_is_loaded_once(analyzer):
    assert EmotionAnalyzer.default() is analyzer
    assert 0.0 < analyzer.threshold < 1.0
    assert analyzer.ekman_labels == EKMAN


def test_result_shape(analyzer):
    result = analyzer.analyze("Thank you so much, this is wonderful news!")
    assert isinstance(result, EmotionResult)
    assert result.label is Emotion.HAPPY
    assert list(result.scores) == [e.value for e in SPOKEN_EMOTIONS]
    assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-3)
    assert set(result.ekman) == set(EKMAN)
    assert all(0.0 <= p <= 1.0 for p in result.ekman.values())
    assert 0.25 <= result.intensity <= 2.0


def test_plain_narration_is_neutral(analyzer):
    result = analyzer.analyze("The train left the station at half past seven.")
    assert result.label is Emotion.NEUTRAL
    assert result.intensity == 0.0


def test_angry_customer_is_angry(analyzer):
    result = analyzer.analyze("I am furious that you charged my card twice without asking.")
    assert result.label is Emotion.ANGRY
    assert result.scores["angry"] >= analyzer.threshold


def test_blank_text_is_neutral_without_running_the_model(analyzer):
    results = analyzer.analyze_sentences(["", "   "])
    assert [r.label for r in results] == [Emotion.NEUTRAL, Emotion.NEUTRAL]
    assert results[0].scores["neutral"] == 1.0
    assert analyzer.analyze_sentences([]) == []


def test_batching_does_not_change_results(analyzer):
    texts = [
        "Wow!",
        "I have been waiting for two weeks and I am sick of your excuses, and nobody answers my calls.",
        "",
        "She wept quietly by her brother's grave.",
        "Great news, your refund has been approved!",
    ]
    batched = analyzer.analyze_sentences(texts)
    one_by_one = [analyzer.analyze(text) for text in texts]
    for together, alone in zip(batched, one_by_one, strict=True):
        assert together.label is alone.label
        for name, score in together.ekman.items():
            assert score == pytest.approx(alone.ekman[name], abs=1e-6)


def test_threshold_override_switches_less(analyzer):
    strict = EmotionAnalyzer(threshold=0.99)
    text = "Wow, that was much faster than I expected!"
    assert analyzer.analyze(text).label is not Emotion.NEUTRAL
    assert strict.analyze(text).label is Emotion.NEUTRAL


def test_plain_questions_are_not_surprised(analyzer):
    assert analyzer.analyze("How can I help you today?").label is Emotion.NEUTRAL
    assert analyzer.analyze("How can I help you today?").scores["surprise"] == 0.0
    assert is_plain_question('Where is my order?"')
    assert not is_plain_question("Really? You did all that for me?")
    assert not is_plain_question("You did what?!")
    assert not is_plain_question("The order is on its way.")


def test_disgust_and_fear_mapping():
    ekman = np.array([[0.0, 0.9, 0.0, 0.0, 0.1, 0.0, 0.0], [0.0, 0.0, 0.8, 0.0, 0.2, 0.0, 0.0]])
    default = spoken_scores(ekman, EKMAN)
    assert SPOKEN_EMOTIONS[int(np.argmax(default[0]))] is Emotion.ANGRY
    assert SPOKEN_EMOTIONS[int(np.argmax(default[1]))] is Emotion.SAD
    moved = spoken_scores(ekman, EKMAN, disgust_as="sad", fear_as="surprise")
    assert SPOKEN_EMOTIONS[int(np.argmax(moved[0]))] is Emotion.SAD
    assert SPOKEN_EMOTIONS[int(np.argmax(moved[1]))] is Emotion.SURPRISE
    assert np.allclose(moved.sum(axis=1), 1.0)


def test_bad_mapping_fails_at_construction():
    with pytest.raises(ValidationError, match="fear_as"):
        EmotionAnalyzer(fear_as="terror")


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ServiceFailureError, match="train_emotion_analyzer"):
        EmotionAnalyzer(tmp_path)


def test_intensity_grows_with_score_and_cues():
    calm = estimate_intensity("I am angry.", 0.6, 0.5)
    assert estimate_intensity("I am angry.", 0.9, 0.5) > calm
    assert estimate_intensity("I am angry!!!", 0.6, 0.5) > calm
    assert estimate_intensity("I AM SO ANGRY.", 0.6, 0.5) > calm
    assert estimate_intensity("I am really very angry.", 0.6, 0.5) > calm
    assert estimate_intensity("I AM REALLY VERY ANGRY!!!!!!", 1.0, 0.5) == 2.0
    assert estimate_intensity("ok", 0.0, 0.5) == 0.25


def _in_domain_rows() -> list[dict[str, str]]:
    with IN_DOMAIN.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def test_in_domain_quality(analyzer):
    """Floors a little under what the shipped model measures on our own narration / audiobook /
    customer-service sentences (measured: accuracy 0.73; recall neutral 1.0, angry 0.5, happy 0.85,
    sad 0.65, surprise 0.65; angry precision 1.0)."""
    rows = _in_domain_rows()
    assert len(rows) >= 80
    results = analyzer.analyze_sentences([row["text"] for row in rows])
    gold = [row["label"] for row in rows]
    predicted = [result.label.value for result in results]
    hits = Counter(g for g, p in zip(gold, predicted, strict=True) if g == p)
    totals = Counter(gold)
    recall = {label: hits[label] / totals[label] for label in totals}
    accuracy = sum(hits.values()) / len(rows)
    said_angry = [g for g, p in zip(gold, predicted, strict=True) if p == "angry"]
    assert accuracy >= 0.68, recall
    assert recall["neutral"] >= 0.9
    assert recall["angry"] >= 0.4
    assert recall["happy"] >= 0.75
    assert recall["sad"] >= 0.6
    assert recall["surprise"] >= 0.55
    assert said_angry.count("angry") / len(said_angry) >= 0.85


def test_angry_customer_service_sentences_are_angry(analyzer):
    rows = [r for r in _in_domain_rows() if r["label"] == "angry" and r["domain"] == "service"]
    results = analyzer.analyze_sentences([row["text"] for row in rows])
    angry = sum(result.label is Emotion.ANGRY for result in results)
    assert angry / len(rows) >= 0.5  # measured 8 of 12


def test_threshold_out_of_range():
    with pytest.raises(ValidationError, match="threshold"):
        EmotionAnalyzer(threshold=1.5)


def test_inference_does_not_import_torch():
    code = (
        "import sys; from voicesmith.emotion.analyze import EmotionAnalyzer; "
        "EmotionAnalyzer().analyze('What a lovely day!'); "
        "assert not {'torch', 'transformers', 'sklearn'} & set(sys.modules), 'heavy import'"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)

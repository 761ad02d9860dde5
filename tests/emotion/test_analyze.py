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
    apply_cues,
    decide,
    is_plain_question,
    spoken_scores,
    text_intensity,
)
from voicesmith.emotion.labels import SPOKEN_EMOTIONS, Emotion
from voicesmith.emotion.lexicon import OperatorLexicon
from voicesmith.errors import ServiceFailureError, ValidationError

IN_DOMAIN = Path(__file__).with_name("in_domain.tsv")
OWN_DATA = Path(__file__).resolve().parents[2] / "data" / "emotion" / "sentences.tsv"
EKMAN = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")


@pytest.fixture(scope="module")
def analyzer() -> EmotionAnalyzer:
    return EmotionAnalyzer.default()


def test_default_is_loaded_once(analyzer):
    assert EmotionAnalyzer.default() is analyzer
    assert 0.0 < analyzer.threshold < 1.0
    assert set(analyzer.thresholds) == {"angry", "happy", "sad", "surprise"}
    assert all(0.0 < t < 1.0 for t in analyzer.thresholds.values())
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
    assert set(strict.thresholds.values()) == {0.99}


def test_decide_per_label_thresholds_and_margin():
    #                  neutral angry happy sad surprise
    scores = np.array(
        [
            [0.5, 0.40, 0.05, 0.03, 0.02],  # angry clears its 0.35
            [0.5, 0.10, 0.38, 0.01, 0.01],  # happy under its 0.45
            [0.2, 0.40, 0.00, 0.38, 0.02],  # both clear theirs, 0.02 apart: no clear winner
            [0.1, 0.50, 0.00, 0.38, 0.02],  # both clear, angry well ahead
        ]
    )
    thresholds = np.array([0.35, 0.45, 0.30, 0.50])
    assert decide(scores, thresholds, margin=0.05).tolist() == [1, 0, 0, 1]
    assert decide(scores, thresholds).tolist() == [1, 0, 3, 1]  # without a margin, by score / threshold
    assert decide(scores, 0.6).tolist() == [0, 0, 0, 0]


def test_clear_words_are_never_overruled_into_another_emotion():
    thresholds = {"angry": 0.5, "happy": 0.5, "sad": 0.5, "surprise": 0.5}
    scores = {"neutral": 0.2, "angry": 0.1, "happy": 0.6, "sad": 0.1, "surprise": 0.0}
    assert apply_cues(Emotion.HAPPY, scores, thresholds, {Emotion.ANGRY: "livid"}) == (Emotion.ANGRY, "livid")
    # neutral gives way too: the model may not know the word ("livid" reads sad to it)
    assert apply_cues(Emotion.NEUTRAL, scores, thresholds, {Emotion.ANGRY: "livid"}) == (
        Emotion.ANGRY,
        "livid",
    )
    # an emotion named only in the negative is not spoken
    assert apply_cues(Emotion.ANGRY, scores, thresholds, {}, {Emotion.ANGRY}) == (Emotion.NEUTRAL, None)
    # sarcasm: a happy word in a sentence decided angry stays angry
    assert apply_cues(Emotion.ANGRY, scores, thresholds, {Emotion.HAPPY: "thrilled"}) == (Emotion.ANGRY, None)
    assert apply_cues(Emotion.SAD, scores, thresholds, {}) == (Emotion.SAD, None)


ISSUE_EXAMPLES = [
    "Our flight has been delayed again, this is a complete joke.",
    "Your driver threw my parcel over the fence and broke it, and I want my money back now.",
    "I am fed up with waiting on hold for an hour every single time I call.",
    "I am furious, this is the third time my order is late!",
]


@pytest.mark.parametrize("text", ISSUE_EXAMPLES)
def test_the_issues_examples_are_angry(analyzer, text):
    assert analyzer.analyze(text).label is Emotion.ANGRY


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I am livid about the way you handled my complaint.", Emotion.ANGRY),
        ("Honestly, I'm furious.", Emotion.ANGRY),
        ("We are thrilled to announce our new store.", Emotion.HAPPY),
        ("I'm thrilled, it arrived a day early!", Emotion.HAPPY),
        ("She was heartbroken when the letter came.", Emotion.SAD),
        ("I'm heartbroken, my cat died this morning.", Emotion.SAD),
        ("I am not angry, just tired.", Emotion.NEUTRAL),
        ("We apologise for the inconvenience.", Emotion.NEUTRAL),
        ("Great, just great, another delay.", Emotion.ANGRY),
        ("Oh I'm thrilled, my train is cancelled again, what a joke.", Emotion.ANGRY),
    ],
)
def test_clear_words_negation_and_sarcasm(analyzer, text, label):
    assert analyzer.analyze(text).label is label


def test_intensity_rises_with_the_wording(analyzer):
    mild, plain, strong = (
        analyzer.analyze(text)
        for text in (
            "I am a bit annoyed with the delay.",
            "I am angry about the delay.",
            "I am absolutely furious about the delay!",
        )
    )
    assert [r.label for r in (mild, plain, strong)] == [Emotion.ANGRY] * 3
    assert mild.intensity < plain.intensity < strong.intensity
    assert mild.intensity <= 0.7 and 0.8 <= plain.intensity <= 1.2 and strong.intensity >= 1.7


def test_operator_lexicon_is_applied_before_the_model(analyzer, tmp_path):
    path = tmp_path / "lexicon.tsv"
    path.write_text("chargeback\tangry\thigh\nangry birds\tneutral\n", encoding="utf-8")
    lexicon = OperatorLexicon.from_file(path)
    calm = analyzer.analyze("I would like to start a chargeback.", lexicon=lexicon)
    assert (calm.label, calm.intensity, calm.source, calm.cue) == (
        Emotion.ANGRY,
        1.5,
        "lexicon",
        "chargeback",
    )
    game = analyzer.analyze("Angry Birds is the angriest game, I am furious!", lexicon=lexicon)
    assert (game.label, game.source) == (Emotion.NEUTRAL, "lexicon")
    assert analyzer.analyze("I would like to start a chargeback.").source != "lexicon"


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


def test_intensity_without_emotion_words_follows_the_confidence():
    low = text_intensity("It happened again.", Emotion.ANGRY, 0.5, 0.5)
    high = text_intensity("It happened again.", Emotion.ANGRY, 1.0, 0.5)
    assert (low, high) == (0.75, 1.25)
    assert text_intensity("It happened again!!!", Emotion.ANGRY, 1.0, 0.5) == pytest.approx(1.55)
    assert text_intensity("I AM REALLY VERY ANGRY!!!!!!", Emotion.ANGRY, 1.0, 0.5) == 2.0


def _in_domain_rows() -> list[dict[str, str]]:
    with IN_DOMAIN.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _quality(analyzer, texts: list[str], gold: list[str]) -> dict:
    predicted = [result.label.value for result in analyzer.analyze_sentences(texts)]
    hits = Counter(g for g, p in zip(gold, predicted, strict=True) if g == p)
    totals = Counter(gold)
    said_angry = [g for g, p in zip(gold, predicted, strict=True) if p == "angry"]
    angry_or_happy = [p for g, p in zip(gold, predicted, strict=True) if g in ("angry", "happy")]
    return {
        "accuracy": sum(hits.values()) / len(gold),
        "recall": {label: hits[label] / totals[label] for label in totals},
        "angry_precision": said_angry.count("angry") / max(len(said_angry), 1),
        "spoken_sad": angry_or_happy.count("sad") / len(angry_or_happy),
    }


def test_in_domain_quality(analyzer):
    """The project's own test set (never trained or tuned on). Floors a little under what the shipped
    model measures (emotion_model.json, metrics.project_test: v6 accuracy 0.95, angry recall 1.0, angry
    precision 0.95, 1 of 40 angry or happy sentences spoken sad; the first model measured 0.73 and 0.50)."""
    rows = _in_domain_rows()
    assert len(rows) >= 80
    m = _quality(analyzer, [row["text"] for row in rows], [row["label"] for row in rows])
    assert m["accuracy"] >= 0.85, m
    assert m["recall"]["neutral"] >= 0.9, m
    assert m["recall"]["angry"] >= 0.85, m
    assert m["angry_precision"] >= 0.85, m
    assert m["spoken_sad"] <= 0.05, m


def _held_out_rows(path: Path, keep) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [r for r in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if keep(r)]


def _spoken_quality(analyzer, rows: list[dict[str, str]]) -> dict:
    spoken = {"fear": "sad", "disgust": "angry"}
    return _quality(analyzer, [r["text"] for r in rows], [spoken.get(r["label"], r["label"]) for r in rows])


def test_own_held_out_quality(analyzer):
    """data/emotion's held-out fifth, writing rounds 1-2 (the 270 sentences v3 was measured on; never
    trained or tuned on). v6 (MiniLM's top 4 layers trained on rounds 1-6, blended with the in-domain
    n-gram model) measures accuracy 0.859, angry recall 0.896 at precision 0.920, none of 121 angry or
    happy sentences spoken sad; v4 measured 0.815, 0.844 and 0.915, v3 0.741, 0.714 and 0.797."""
    rows = _held_out_rows(OWN_DATA, lambda r: r["split"] == "heldout" and int(r["round"]) <= 2)
    assert len(rows) == 270
    m = _spoken_quality(analyzer, rows)
    assert m["accuracy"] >= 0.83, m
    assert m["recall"]["angry"] >= 0.86, m
    assert m["angry_precision"] >= 0.89, m
    assert m["spoken_sad"] <= 0.02, m


def test_second_held_out_quality(analyzer):
    """data/emotion/heldout2.tsv: 156 sentences written apart from the training data and committed
    before any model was measured on them. v6 measures accuracy 0.897, angry recall 0.917 at precision
    0.957, none spoken sad; v4 measured 0.859, 0.813 and 0.907, v3 0.782, 0.771 and 0.841."""
    rows = _held_out_rows(OWN_DATA.with_name("heldout2.tsv"), lambda r: True)
    m = _spoken_quality(analyzer, rows)
    assert m["accuracy"] >= 0.87, m
    assert m["recall"]["angry"] >= 0.87, m
    assert m["angry_precision"] >= 0.92, m
    assert m["spoken_sad"] <= 0.02, m


def test_third_held_out_quality(analyzer):
    """data/emotion/heldout3.tsv: 163 sentences weighted to the hard cases (sarcasm, polite complaints,
    quiet sadness, pleasantries), committed before any model was measured on them. v6 measures accuracy
    0.804, angry recall 0.833 at precision 0.889 (the issue's targets not met), 1 of 71 angry or happy
    sentences spoken sad; v4 measured 0.779, 0.812 and 0.867, none spoken sad. Floors a little under
    that, so a regression shows."""
    rows = _held_out_rows(OWN_DATA.with_name("heldout3.tsv"), lambda r: True)
    assert len(rows) == 163
    m = _spoken_quality(analyzer, rows)
    assert m["accuracy"] >= 0.78, m
    assert m["recall"]["angry"] >= 0.81, m
    assert m["angry_precision"] >= 0.86, m
    assert m["spoken_sad"] <= 0.02, m


def test_held_out_sets_are_never_training_data():
    """No sentence of heldout2.tsv or heldout3.tsv is in the training data or its sources."""
    held = set()
    for name in ("heldout2.tsv", "heldout3.tsv"):
        held |= {r["text"].strip().lower() for r in _held_out_rows(OWN_DATA.with_name(name), lambda r: True)}
    trained = {r["text"].strip().lower() for r in _held_out_rows(OWN_DATA, lambda r: True)}
    for source in OWN_DATA.with_name("source").glob("*.txt"):
        trained |= {line.strip().lower() for line in source.read_text(encoding="utf-8").splitlines()}
    assert not held & trained


def test_angry_customer_service_sentences_are_angry(analyzer):
    rows = [r for r in _in_domain_rows() if r["label"] == "angry" and r["domain"] == "service"]
    results = analyzer.analyze_sentences([row["text"] for row in rows])
    angry = sum(result.label is Emotion.ANGRY for result in results)
    assert angry / len(rows) >= 0.8


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

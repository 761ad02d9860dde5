"""The in-domain n-gram model: stable features, a valid distribution, the shipped table and its blend."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from voicesmith.emotion.analyze import DATA_DIR, EmotionAnalyzer, blend_scores
from voicesmith.emotion.labels import SPOKEN_EMOTIONS
from voicesmith.emotion.ngram import BUCKETS, NGRAM_FILE, NgramModel, feature_ids, tokens


def test_tokens_keep_exclamations_and_questions():
    assert tokens("Oh GREAT, another delay?!") == ["oh", "great", "another", "delay", "?", "!"]
    assert tokens("I can’t") == ["i", "can't"]


def test_feature_ids_are_stable_across_processes():
    """crc32, not Python's salted hash(): a new process must hash the same text to the same ids."""
    text = "Brilliant, just brilliant, the lift is broken again."
    here = feature_ids(text).tolist()
    code = f"from voicesmith.emotion.ngram import feature_ids; print(feature_ids({text!r}).tolist())"
    there = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "7"},
    ).stdout.strip()
    assert str(here) == there
    assert len(set(here)) == len(here) and all(0 <= i < BUCKETS for i in here)
    assert feature_ids("").tolist() == feature_ids("   ").tolist()  # one "empty" feature, not a crash


def test_probabilities_are_a_distribution_and_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    model = NgramModel(rng.normal(size=(BUCKETS, 5)).astype(np.float32), np.zeros(5, np.float32))
    probs = model.probabilities(["I am furious!", "", "The train leaves at nine."])
    assert probs.shape == (3, 5)
    assert np.allclose(probs.sum(axis=1), 1.0)
    model.save(tmp_path / NGRAM_FILE)
    again = NgramModel.load(tmp_path / NGRAM_FILE)
    assert np.allclose(again.probabilities(["I am furious!"]), probs[:1], atol=2e-3)  # float16 table


def test_shipped_model_is_blended():
    analyzer = EmotionAnalyzer.default()
    assert (DATA_DIR / NGRAM_FILE).exists()
    assert (DATA_DIR / NGRAM_FILE).stat().st_size < 2_000_000
    assert 0.0 < analyzer.ngram_weight < 1.0
    model = NgramModel.load(DATA_DIR / NGRAM_FILE)
    # The n-gram model alone reads an in-register complaint as angry and an IVR prompt as neutral.
    probs = model.probabilities(
        ["Sort it out, I have called six times about this.", "Press one for billing."]
    )
    assert SPOKEN_EMOTIONS[int(probs[0].argmax())].value == "angry"
    assert SPOKEN_EMOTIONS[int(probs[1].argmax())].value == "neutral"


def test_blend_is_a_convex_mix():
    a = np.array([[1.0, 0, 0, 0, 0]])
    b = np.array([[0, 1.0, 0, 0, 0]])
    assert blend_scores(a, b, 0.25).tolist() == [[0.75, 0.25, 0, 0, 0]]
    assert blend_scores(a, b, 0.0).tolist() == a.tolist()


def test_zero_weight_does_not_load_the_table(tmp_path):
    """A model folder without an n-gram table (``ngram_weight`` 0, as v3 was) loads: MiniLM alone."""
    for name in ("emotion_minilm_int8.onnx", "tokenizer.json"):
        (tmp_path / name).symlink_to(DATA_DIR / name)
    settings = json.loads((DATA_DIR / "emotion_model.json").read_text())
    settings["ngram_weight"] = 0.0
    (tmp_path / "emotion_model.json").write_text(json.dumps(settings))
    analyzer = EmotionAnalyzer(tmp_path)
    assert analyzer.ngram_weight == 0.0
    assert analyzer.analyze("I am absolutely furious!").label.value == "angry"

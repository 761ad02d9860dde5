"""The pure parts of scripts/train_emotion_analyzer.py, on small generated data (no torch needed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_emotion_analyzer.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("train_emotion_analyzer", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path: Path, rows: list[tuple[str, str, str]]) -> None:
    path.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")


def test_splits_are_disjoint_and_multi_hot(script, tmp_path):
    rows = [(f"text number {i}", "3" if i % 2 else "0,1", f"id{i}") for i in range(200)]
    _write(tmp_path / "train.tsv", rows)
    _write(tmp_path / "dev.tsv", rows[:5])
    splits = script.load_all(tmp_path)
    train, held = splits["train"][0], splits["heldout"][0]
    assert len(train) + len(held) == 200
    assert not set(train) & set(held)
    assert 5 <= len(held) <= 40  # about a tenth, fixed by the comment ids
    assert splits["heldout"][0] == script.load_all(tmp_path)["heldout"][0]
    labels = splits["dev"][1]
    assert labels.shape == (5, 7)
    assert labels[0].tolist() == [1, 1, 0, 0, 0, 0, 0]
    assert labels[1].tolist() == [0, 0, 0, 1, 0, 0, 0]


def test_f1_and_class_thresholds(script):
    gold = np.array([[1, 0], [1, 0], [0, 1], [0, 0]], dtype=float)
    assert script.f1_per_class(gold, gold).tolist() == [1.0, 1.0]
    probs = np.array([[0.3, 0.1], [0.35, 0.2], [0.1, 0.9], [0.2, 0.1]])
    thresholds = script.tune_class_thresholds(gold, probs)
    assert 0.2 <= thresholds[0] < 0.3  # the only cut that separates class 0
    assert script.f1_per_class(gold, (probs > thresholds).astype(float)).tolist() == [1.0, 1.0]


def test_switch_threshold_respects_anger_precision(script):
    anger, neutral = np.eye(7)[0], np.eye(7)[4]
    # four sentences that score angry at 0.9 (three right), and four that score 0.6 (one right)
    gold = np.array([anger, anger, anger, neutral, anger, neutral, neutral, neutral])
    probs = np.full((8, 7), 0.01)
    probs[:, 4] = 0.1
    probs[:4, 0] = 0.9
    probs[4:, 0] = 0.6
    texts = ["a sentence."] * 8
    loose = script.switch_metrics(texts, gold, probs, 0.5)
    assert loose["angry_precision"] == pytest.approx(0.5)
    threshold = script.tune_switch_threshold(texts, gold, probs, min_anger_precision=0.7)
    assert script.switch_metrics(texts, gold, probs, threshold)["angry_precision"] == pytest.approx(0.75)

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


def test_in_domain_splits_are_fixed_and_disjoint(script):
    own = script.load_in_domain()
    assert set(own) == {"train", "tune", "heldout"}
    texts = [set(own[name][0]) for name in own]
    assert not (texts[0] & texts[1]) and not (texts[0] & texts[2]) and not (texts[1] & texts[2])
    assert 0.15 <= len(own["heldout"][0]) / sum(len(t) for t in texts) <= 0.25
    project = set(script.load_project_test()[0])
    assert not project & set().union(*texts)  # the project's test set is never trained on
    assert own["train"][1].shape[1] == 7 and (own["train"][1].sum(1) == 1).all()


def test_single_label_report_and_the_sad_rate(script):
    gold = np.array([1, 1, 1, 2, 2, 0, 3, 4])
    predicted = np.array([1, 1, 3, 2, 2, 1, 3, 0])
    report = script.single_label_report(gold, predicted)
    assert report["accuracy"] == pytest.approx(5 / 8, abs=1e-3)
    assert report["angry_recall"] == pytest.approx(2 / 3, abs=1e-3)
    assert report["angry_precision"] == pytest.approx(2 / 3, abs=1e-3)
    assert report["angry_or_happy_spoken_sad"] == pytest.approx(1 / 5, abs=1e-3)
    assert report["confusion"]["angry"] == [0, 2, 0, 1, 0]


def test_decision_tuning_keeps_angry_precision(script):
    anger, neutral = np.eye(7)[0], np.eye(7)[4]
    # in-domain: four sentences that score angry at 0.9 (three right) and four at 0.6 (one right)
    gold = np.array([anger, anger, anger, neutral, anger, neutral, neutral, neutral])
    probs = np.full((8, 7), 0.01)
    probs[:, 4] = 0.1
    probs[:4, 0] = 0.9
    probs[4:, 0] = 0.6
    texts = ["a sentence."] * 8
    loose = script.switch_metrics(texts, gold, probs, 0.5)
    assert loose["angry_precision"] == pytest.approx(0.5)
    thresholds, margin, _ = script.tune_decisions(texts, script.spoken_index(gold), probs, texts, gold, probs)
    chosen = script.pipeline_labels(texts, probs, thresholds, margin)
    assert chosen.tolist() == [1, 1, 1, 1, 0, 0, 0, 0]  # only the confident ones are spoken angry


def _own_tsv(path: Path, rows: list[tuple[str, str, str, int]]) -> Path:
    lines = ["id\tlabel\tregister\tsplit\tround\ttext"]
    lines += [
        f"{i:012d}\t{label}\tchat\t{split}\t{rnd}\t{text}" for i, (label, split, text, rnd) in enumerate(rows)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_validation_rows_are_the_rounds_minilm_never_saw(script, tmp_path):
    first = script.FIRST_ROUND_UNSEEN_BY_MINILM
    path = _own_tsv(
        tmp_path / "s.tsv",
        [
            ("angry", "train", "old train", 1),
            ("angry", "tune", "old tune", first - 1),
            ("angry", "train", "new train", first),
            ("happy", "tune", "new tune", first + 1),
            ("sad", "heldout", "new heldout", first),
        ],
    )
    texts, labels = script.load_in_domain_rows(path, split="validation")
    # never a held-out row, never a train row of a round MiniLM trained on; every round's tune rows
    assert texts == ["old tune", "new train", "new tune"]
    old, _ = script.load_in_domain_rows(path, split="train", rounds=(1, 2))
    assert old == ["old train"]
    assert labels.shape == (3, 7)
    # what the MiniLM fine-tunes load: the rounds before the validation ones, all splits
    seen = script.load_in_domain(path, before_round=first)
    assert {name: rows[0] for name, rows in seen.items()} == {"train": ["old train"], "tune": ["old tune"]}
    assert script.load_in_domain(path)["train"][0] == ["old train", "new train"]


def test_ngram_fit_and_out_of_fold(script, tmp_path):
    angry = [f"this is a disgrace, fix it now number {i}" for i in range(12)]
    neutral = [f"your parcel arrives on tuesday number {i}" for i in range(12)]
    rows = [("angry", "train", t, 3) for t in angry] + [("neutral", "train", t, 3) for t in neutral]
    path = _own_tsv(tmp_path / "s.tsv", rows)
    texts, gold = script.ngram_training_rows(path)
    model = script.fit_ngram(texts, gold, 10.0)
    probs = model.probabilities(["what a disgrace, fix it", "the parcel arrives tuesday"])
    assert probs[0].argmax() == script.SPOKEN.index("angry")
    assert probs[1].argmax() == script.SPOKEN.index("neutral")
    oof = script.ngram_out_of_fold(path, texts, 10.0, folds=3)
    assert oof.shape == (24, 5) and np.allclose(oof.sum(1), 1.0)
    assert (oof.argmax(1) == gold).mean() >= 0.9  # each row scored by a model that did not see it


def test_the_data_build_drops_near_copies_of_held_out_sentences():
    """data/emotion/build.py: a training sentence that nearly copies a held-out one is dropped (the
    same writer's new rounds came back within a word of heldout3); a sentence of the same register
    that shares only its shape is kept."""
    spec = importlib.util.spec_from_file_location(
        "emotion_build", SCRIPT.parents[1] / "data/emotion/build.py"
    )
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    held = [
        "i'm a bit annoyed that nobody told me the meeting moved.",
        "thank you for calling, have a good day.",
    ]
    assert build.near_copy("I'm a bit annoyed that nobody told me the meeting had moved.", held) == held[0]
    assert build.near_copy("Thank you for your order, it ships on Monday.", held) is None
    assert build.near_copy("The lift on the ninth floor is out of order again.", held) is None

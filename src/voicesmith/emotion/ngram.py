"""The in-domain n-gram model: a small linear classifier blended with the MiniLM model's spoken scores.

MiniLM was fine-tuned mostly on GoEmotions (Reddit comments); the text a speech API meets is
complaints, support replies, notifications, narration and dialogue, where the cues are often phrases
("sort it out", "for the third time", "just what I needed", "we apologise for") more than emotion
words. This model is a multinomial logistic regression over hashed word 1-2-grams and character
2-5-grams (inside word boundaries), trained by ``scripts/train_emotion_analyzer.py ngram`` on the
in-domain ``train`` and ``tune`` splits (``data/emotion/``; never ``heldout``). Its five spoken
probabilities are blended with MiniLM's: ``(1 - w) * minilm + w * ngram``, the weight ``w`` chosen
with the decision's thresholds on validation rows MiniLM never saw, scored out of fold
(``emotion_model.json``'s ``ngram_weight``, 0.6 in v4).

Inference is numpy only: ~0.2 ms a sentence (hashing is :func:`zlib.crc32`, stable across processes
and platforms, unlike :func:`hash`). The weights are a (buckets, 5) float16 table, 0.2 MB compressed.
"""

from __future__ import annotations

import functools
import re
import zlib
from pathlib import Path

import numpy as np

NGRAM_FILE = "emotion_ngram.npz"
BUCKETS = 1 << 16
"""Hash buckets: collisions cost little at this data size (a few thousand distinct n-grams)."""

_TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)*|[!?]")
_SHOUT = re.compile(r"\b[A-Z]{3,}\b")


def tokens(text: str) -> list[str]:
    """Lower-cased words plus ``!`` and ``?`` (shouting and questions carry emotion)."""
    return _TOKEN.findall(text.lower().replace("’", "'"))


@functools.lru_cache(maxsize=1 << 15)
def _word_features(word: str, buckets: int) -> tuple[int, ...]:
    """The hashed unigram and character 2-5-gram ids of one word (a word's features depend on it alone,
    so they are hashed once per word and process, not once per sentence)."""
    padded = f" {word} "
    features = [f"w:{word}"]
    for n in range(2, 6):
        features += [f"c:{padded[i : i + n]}" for i in range(len(padded) - n + 1)]
    return tuple(zlib.crc32(f.encode()) % buckets for f in features)


def feature_ids(text: str, buckets: int = BUCKETS) -> np.ndarray:
    """Distinct hashed feature ids of ``text``: word unigrams and bigrams, character 2-5-grams of each
    word padded with spaces, and a shouting flag (a word of 3+ capitals)."""
    words = tokens(text)
    ids = [zlib.crc32(f"b:{a} {b}".encode()) % buckets for a, b in zip(words, words[1:], strict=False)]
    for word in words:
        ids.extend(_word_features(word, buckets))
    if _SHOUT.search(text):
        ids.append(zlib.crc32(b"f:shout") % buckets)
    if not ids:
        ids.append(zlib.crc32(b"f:empty") % buckets)
    return np.unique(np.array(ids, dtype=np.int64))


def design_matrix(texts: list[str], buckets: int = BUCKETS):
    """A scipy CSR matrix of the texts' features, each row L2-normalised (training only)."""
    from scipy.sparse import csr_matrix

    rows, cols, values = [], [], []
    for row, text in enumerate(texts):
        ids = feature_ids(text, buckets)
        rows.extend([row] * len(ids))
        cols.extend(ids.tolist())
        values.extend([1.0 / np.sqrt(len(ids))] * len(ids))
    return csr_matrix((values, (rows, cols)), shape=(len(texts), buckets), dtype=np.float64)


class NgramModel:
    """The shipped n-gram classifier: :meth:`probabilities` over the 5 spoken labels."""

    def __init__(self, weights: np.ndarray, bias: np.ndarray) -> None:
        self.weights = np.asarray(weights, dtype=np.float32)
        self.bias = np.asarray(bias, dtype=np.float32)
        self.buckets = self.weights.shape[0]

    @classmethod
    def load(cls, path: Path) -> NgramModel:
        with np.load(path) as data:
            return cls(data["weights"], data["bias"])

    def save(self, path: Path) -> None:
        np.savez_compressed(path, weights=self.weights.astype(np.float16), bias=self.bias)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """Softmax probabilities, shape (len(texts), 5), in SPOKEN_EMOTIONS order."""
        out = np.zeros((len(texts), self.weights.shape[1]), dtype=np.float64)
        for row, text in enumerate(texts):
            ids = feature_ids(text, self.buckets)
            logits = self.weights[ids].sum(axis=0) / np.sqrt(len(ids)) + self.bias
            logits = logits - logits.max()
            e = np.exp(logits)
            out[row] = e / e.sum()
        return out

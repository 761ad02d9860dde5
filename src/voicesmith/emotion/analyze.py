"""Text emotion analysis: sentence -> voicesmith emotion label, scores and intensity.

The model is all-MiniLM-L6-v2 fine-tuned on GoEmotions (Ekman's 7 labels, multi-label), exported to
ONNX and quantised to int8 (``data/``; ``scripts/train_emotion_analyzer.py`` reproduces it). Inference
needs onnxruntime and tokenizers only, and reads nothing from the network.

From the model's 7 independent Ekman probabilities the analyser derives

* ``scores``: a distribution over the 5 spoken labels. disgust and fear have no voice; each adds its
  probability to a label chosen by ``disgust_as`` / ``fear_as`` (default angry / sad) by taking the
  larger of the two, and the five values are then normalised to sum to 1.
* plain questions: GoEmotions' Ekman ``surprise`` also holds curiosity and confusion, so the model
  hears surprise in nearly every question. For a question with no sign of surprise (no "!", "wow",
  "really", "can't believe", ...), the surprise score is moved to neutral.
* ``label``: the emotional label (angry, happy, sad, surprise) with the highest score if that score
  reaches :attr:`EmotionAnalyzer.threshold`, else neutral. The shipped threshold (0.52) is the one
  with the best 5-label macro-F1 on GoEmotions dev among those where an ``angry`` decision is right
  at least 75 % of the time (gold anger or disgust); on the held-out split that gives 71 %. The
  measurements are in ``data/emotion_model.json``.
* ``intensity``: 0 for neutral; otherwise 0.5 at the threshold rising to 1.5 at a score of 1, plus
  cues the model under-weights for speech: exclamation marks (+0.1 each, up to 3), shouting in
  capitals (+0.3) and intensifiers such as "very", "so", "absolutely" (+0.1 each, up to 2); clipped
  to 0.25..2.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicesmith.emotion.labels import SPOKEN_EMOTIONS, Emotion, resolve_emotion
from voicesmith.errors import ServiceFailureError, ValidationError

_LOGGER = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "data"
MODEL_FILE = "emotion_minilm_int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
SETTINGS_FILE = "emotion_model.json"

_INTENSIFIERS = re.compile(
    r"\b(very|so|really|extremely|absolutely|totally|utterly|incredibly|completely|terribly|such)\b",
    re.IGNORECASE,
)
_WORDS = re.compile(r"[A-Za-z]{2,}")
_SURPRISE_CUES = re.compile(
    r"!|\b(wow|whoa|woah|oh|huh|really|seriously|what\?|no way|(can't|cannot|couldn't) believe|unbelievable"
    r"|surpris\w*|amaz\w*|astonish\w*|stun\w*|shock\w*)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class EmotionResult:
    """The analysis of one sentence."""

    label: Emotion
    """The label to speak the sentence with (never ``auto``)."""
    scores: dict[str, float]
    """A distribution over the 5 spoken labels (neutral, angry, happy, sad, surprise); sums to 1."""
    intensity: float
    """How strongly to render ``label``: 0 for neutral, else 0.25..2 (1.0 = nominal)."""
    ekman: dict[str, float]
    """The model's independent probabilities of the 7 Ekman labels (multi-label, do not sum to 1)."""


def spoken_scores(
    ekman: np.ndarray, ekman_labels: tuple[str, ...], *, disgust_as: str = "angry", fear_as: str = "sad"
) -> np.ndarray:
    """Map Ekman probabilities, shape (n, 7), to normalised scores over :data:`SPOKEN_EMOTIONS`, (n, 5)."""
    merged = np.zeros((ekman.shape[0], len(SPOKEN_EMOTIONS)), dtype=np.float64)
    for column, name in enumerate(ekman_labels):
        target = resolve_emotion(name, disgust_as=disgust_as, fear_as=fear_as)
        index = SPOKEN_EMOTIONS.index(target)
        merged[:, index] = np.maximum(merged[:, index], ekman[:, column])
    total = merged.sum(axis=1, keepdims=True)
    return merged / np.maximum(total, 1e-9)


def is_plain_question(text: str) -> bool:
    """A question with no sign of surprise ("Where is my order?", not "Really? You came?!")."""
    return text.rstrip().rstrip("\"'”’)").endswith("?") and not _SURPRISE_CUES.search(text)


def discount_plain_questions(scores: np.ndarray, texts: list[str]) -> np.ndarray:
    """Move the surprise score of plain questions to neutral, in place; returns ``scores``.

    GoEmotions' Ekman ``surprise`` also holds curiosity and confusion, so the model hears surprise in
    almost any question; spoken, a plain question ("How can I help you?") is neutral.
    """
    surprise = SPOKEN_EMOTIONS.index(Emotion.SURPRISE)
    for row, text in enumerate(texts):
        if is_plain_question(text):
            scores[row, 0] += scores[row, surprise]
            scores[row, surprise] = 0.0
    return scores


def decide(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Indices into :data:`SPOKEN_EMOTIONS`: the top emotional label if it reaches ``threshold``, else 0."""
    top = np.argmax(scores[:, 1:], axis=1) + 1
    return np.where(scores[np.arange(len(scores)), top] >= threshold, top, 0)


def estimate_intensity(text: str, score: float, threshold: float) -> float:
    """Intensity for an emotional label with ``score`` (see the module docstring for the rule)."""
    base = 0.5 + (score - threshold) / max(1.0 - threshold, 1e-6)
    cues = 0.1 * min(text.count("!"), 3)
    words = _WORDS.findall(text)
    shouted = sum(word.isupper() for word in words)
    if shouted >= 2 or (words and shouted / len(words) >= 0.5 and shouted >= 1):
        cues += 0.3
    cues += 0.1 * min(len(_INTENSIFIERS.findall(text)), 2)
    return round(float(np.clip(base + cues, 0.25, 2.0)), 3)


class EmotionAnalyzer:
    """Sentence-level emotion analysis with the shipped int8 ONNX model.

    Loading takes ~0.2 s; use :meth:`default` to share one instance. Thread-safe for concurrent calls
    (onnxruntime sessions are). ``threads`` sets onnxruntime's intra-op threads; with 1, a 15-token
    sentence takes ~2 ms (``benchmarks/bench_emotion.py``). ``disgust_as`` / ``fear_as`` choose the spoken
    label for those Ekman emotions; ``threshold`` overrides the tuned switch threshold.
    """

    def __init__(
        self,
        model_dir: Path | str = DATA_DIR,
        *,
        threshold: float | None = None,
        disgust_as: str = "angry",
        fear_as: str = "sad",
        threads: int = 1,
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        try:
            settings = json.loads((model_dir / SETTINGS_FILE).read_text(encoding="utf-8"))
            self._tokenizer = Tokenizer.from_file(str(model_dir / TOKENIZER_FILE))
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            self._session = onnxruntime.InferenceSession(
                str(model_dir / MODEL_FILE), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime and tokenizers raise their own exception types
            raise ServiceFailureError(
                f"Cannot load the emotion model from {model_dir}: {error}. "
                "Reinstall voicesmith or rebuild it with scripts/train_emotion_analyzer.py."
            ) from error
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ValidationError(f"Emotion threshold {threshold} is out of range; use a value from 0 to 1.")
        # Validate the disgust/fear mapping once, so a bad value fails here and not per sentence.
        resolve_emotion("disgust", disgust_as=disgust_as, fear_as=fear_as)
        resolve_emotion("fear", disgust_as=disgust_as, fear_as=fear_as)
        self._tokenizer.enable_truncation(int(settings.get("max_tokens", 128)))
        self._tokenizer.no_padding()
        self._ekman_labels: tuple[str, ...] = tuple(settings["ekman_labels"])
        self._disgust_as = disgust_as
        self._fear_as = fear_as
        self.threshold: float = float(settings["threshold"] if threshold is None else threshold)
        """Score an emotional label needs to replace neutral (see the module docstring)."""
        self.metrics: dict = settings.get("metrics", {})
        """What the training script measured on GoEmotions dev and its held-out split."""
        _LOGGER.debug("loaded the emotion model from %s (threshold %.2f)", model_dir, self.threshold)

    @classmethod
    @functools.cache
    def default(cls) -> EmotionAnalyzer:
        """The shipped model with its tuned threshold, loaded once per process."""
        return cls()

    @property
    def ekman_labels(self) -> tuple[str, ...]:
        return self._ekman_labels

    def ekman_probabilities(self, texts: list[str]) -> np.ndarray:
        """The model's sigmoid probabilities, shape (len(texts), 7), in :attr:`ekman_labels` order."""
        out = np.zeros((len(texts), len(self._ekman_labels)), dtype=np.float32)
        if not texts:
            return out
        # One sentence per run: the int8 graph quantises activations per tensor, with a range taken over
        # the whole batch, so batching would make a sentence's scores depend on its neighbours (by up to
        # 0.03). Batches gain little on one core anyway.
        for row, encoding in enumerate(self._tokenizer.encode_batch(list(texts))):
            ids = np.asarray([encoding.ids], dtype=np.int64)
            (logits,) = self._session.run(["logits"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})
            out[row] = 1.0 / (1.0 + np.exp(-logits[0]))
        return out

    def analyze(self, text: str) -> EmotionResult:
        """Analyse one sentence."""
        return self.analyze_sentences([text])[0]

    def analyze_sentences(self, texts: list[str]) -> list[EmotionResult]:
        """Analyse each text on its own; blank texts are neutral with intensity 0.

        A text longer than the model's 128 tokens (about 90 words) is judged on its first 128 tokens.
        """
        results: list[EmotionResult | None] = [None] * len(texts)
        filled = [i for i, text in enumerate(texts) if text.strip()]
        for i, text in enumerate(texts):
            if not text.strip():
                results[i] = EmotionResult(
                    label=Emotion.NEUTRAL,
                    scores={e.value: float(e is Emotion.NEUTRAL) for e in SPOKEN_EMOTIONS},
                    intensity=0.0,
                    ekman={name: 0.0 for name in self._ekman_labels},
                )
        ekman = self.ekman_probabilities([texts[i] for i in filled])
        scores = spoken_scores(ekman, self._ekman_labels, disgust_as=self._disgust_as, fear_as=self._fear_as)
        discount_plain_questions(scores, [texts[i] for i in filled])
        labels = decide(scores, self.threshold)
        for row, i in enumerate(filled):
            label = SPOKEN_EMOTIONS[int(labels[row])]
            score = float(scores[row, labels[row]])
            intensity = (
                0.0 if label is Emotion.NEUTRAL else estimate_intensity(texts[i], score, self.threshold)
            )
            results[i] = EmotionResult(
                label=label,
                scores={
                    e.value: round(float(s), 4) for e, s in zip(SPOKEN_EMOTIONS, scores[row], strict=True)
                },
                intensity=intensity,
                ekman={n: round(float(p), 4) for n, p in zip(self._ekman_labels, ekman[row], strict=True)},
            )
        return results  # type: ignore[return-value]


def _raw_decision(text: str, result: EmotionResult, threshold: float) -> tuple[Emotion, float, float]:
    """(label, intensity, score of the top emotional label) of one analysed sentence at ``threshold``."""
    top = max(SPOKEN_EMOTIONS[1:], key=lambda e: result.scores[e.value])
    score = result.scores[top.value]
    if score >= threshold:
        return top, estimate_intensity(text, score, threshold), score
    return Emotion.NEUTRAL, 0.0, score


def smooth_emotions(
    sentences: list[str], results: list[EmotionResult], threshold: float, *, smoothing: bool = True
) -> list[tuple[Emotion, float]]:
    """Per-sentence (label, intensity) from analyses, with the neighbour rule of :func:`route_emotions`."""
    raw = [_raw_decision(text, result, threshold) for text, result in zip(sentences, results, strict=True)]
    routed = [(label, intensity) for label, intensity, _ in raw]
    if not smoothing or len(raw) < 2:
        return routed
    strong = threshold + (1.0 - threshold) / 2
    # Pass 1, bridge: decided on the unsmoothed labels.
    for i in range(1, len(raw) - 1):
        (left, left_intensity, _), (right, right_intensity, _) = raw[i - 1], raw[i + 1]
        if raw[i][0] is Emotion.NEUTRAL and left is right and left is not Emotion.NEUTRAL:
            if results[i].scores[left.value] >= threshold / 2:
                routed[i] = (left, min(left_intensity, right_intensity))
    # Pass 2, isolate: decided on the bridged labels, so a bridge's ends are not isolated.
    bridged = [label for label, _ in routed]
    for i, (label, _, score) in enumerate(raw):
        neighbours = [bridged[j] for j in (i - 1, i + 1) if 0 <= j < len(raw)]
        if label is not Emotion.NEUTRAL and score < strong and all(n is Emotion.NEUTRAL for n in neighbours):
            routed[i] = (Emotion.NEUTRAL, 0.0)
    return routed


def route_emotions(
    sentences: list[str],
    *,
    explicit: Emotion | None,
    threshold: float | None = None,
    smoothing: bool = True,
    intensity: float | None = None,
    analyzer: EmotionAnalyzer | None = None,
) -> list[tuple[Emotion, float]]:
    """Choose the (emotion, intensity) to speak each sentence with.

    An explicit emotion (anything but ``None`` / ``Emotion.AUTO``) always wins: every sentence gets it,
    with ``intensity`` (default 1.0; neutral is always 0.0). Otherwise each sentence is analysed on its
    own, so the emotion only ever changes at a sentence boundary, and a sentence leaves neutral only when
    its top emotional score reaches ``threshold`` (default: the analyser's tuned threshold). Then, with
    ``smoothing``, two neighbour rules apply, in this order:

    * bridge: a neutral sentence between two sentences of the same emotion E (as first decided) takes E
      when its own score for E is at least ``threshold / 2`` (a moderate score), with the weaker
      neighbour's intensity;
    * isolate: an emotional sentence whose neighbours after bridging (one at the start or end of the
      text) are all neutral reverts to neutral unless its score is strong, i.e. at least halfway from
      ``threshold`` to 1.

    A single sentence is never smoothed.
    """
    if explicit is not None and explicit is not Emotion.AUTO:
        level = 0.0 if explicit is Emotion.NEUTRAL else (1.0 if intensity is None else float(intensity))
        return [(explicit, level)] * len(sentences)
    analyzer = analyzer or EmotionAnalyzer.default()
    limit = analyzer.threshold if threshold is None else float(threshold)
    results = analyzer.analyze_sentences(list(sentences))
    return smooth_emotions(list(sentences), results, limit, smoothing=smoothing)

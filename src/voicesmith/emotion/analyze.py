"""Text emotion analysis: sentence -> voicesmith emotion label, scores and intensity.

The model is all-MiniLM-L6-v2 fine-tuned on GoEmotions (Ekman's 7 labels, multi-label) with a head
retrained on GoEmotions together with voicesmith's own in-domain sentences (``data/emotion/`` in the
repository: complaints, support replies, notifications, IVR prompts, narration, dialogue, chat),
exported to ONNX and quantised to int8 (``data/``; ``scripts/train_emotion_analyzer.py`` reproduces
it). Inference needs onnxruntime and tokenizers only, and reads nothing from the network.

A sentence's decision, in order:

1. the operator lexicon (:class:`~voicesmith.emotion.lexicon.OperatorLexicon`, the
   ``VOICESMITH_EMOTION_LEXICON`` file): a sentence holding one of its phrases takes that phrase's
   emotion, before the model is asked;
2. the model's 7 independent Ekman probabilities become ``scores``, a distribution over the 5 spoken
   labels: disgust and fear have no voice and join the label chosen by ``disgust_as`` / ``fear_as``
   (default angry / sad) by the larger of the two; the five values are then normalised to sum to 1
   and blended with the in-domain n-gram model's five probabilities (:mod:`~voicesmith.emotion.ngram`,
   weight ``ngram_weight`` in ``data/emotion_model.json``, tuned with the thresholds).
   Plain questions (no "!", "wow", "really", ...) have their surprise moved to neutral: GoEmotions'
   surprise also holds curiosity, and spoken, "How can I help you?" is neutral;
3. calibrated decision (:func:`decide`): each emotional label has its own threshold, tuned on held-out
   data (``data/emotion_model.json``). A sentence is the emotion whose score clears its threshold by
   the largest factor; where none clears one, or the two best emotions are within ``margin`` of each
   other, it is neutral: uncertainty falls back to neutral, never to a different emotion;
4. clear words (:func:`apply_cues`): an emotion named outright and not negated ("livid", "thrilled",
   "heartbroken", "astonished") is never overruled into another emotion. The one exception is a happy
   word in a sentence decided angry ("Oh I'm thrilled, another delay"): sarcasm, and an angry caller
   spoken happy is the worse mistake. An emotion named only in the negative ("I am not angry, just
   tired") is not spoken with that emotion: neutral;
5. ``intensity`` (:func:`text_intensity`): 0 for neutral; otherwise from the wording on the same 0-2
   scale the request's ``intensity`` uses ("a bit annoyed" 0.5 < "angry" 1.0 < "furious" 1.5 <
   "absolutely furious!" 2.0), from the model's confidence where no emotion word is present, plus
   exclamation marks and shouting.

Across sentences, :func:`~voicesmith.emotion.context.route_in_context` carries a paragraph's emotion to
its short follow-ups, with hysteresis (see there); the label never changes inside a sentence.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from voicesmith.emotion.labels import SPOKEN_EMOTIONS, Emotion, resolve_emotion
from voicesmith.emotion.lexicon import (
    OperatorLexicon,
    punctuation_boost,
    scan_cues,
    word_intensity,
)
from voicesmith.emotion.ngram import NGRAM_FILE, NgramModel
from voicesmith.errors import ServiceFailureError, ValidationError

_LOGGER = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "data"
MODEL_FILE = "emotion_minilm_int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
SETTINGS_FILE = "emotion_model.json"

EMOTIONAL: tuple[Emotion, ...] = SPOKEN_EMOTIONS[1:]
"""The labels that replace neutral: angry, happy, sad, surprise."""

CUE_FLOOR = 0.0
"""A clear emotion word turns a neutral decision into its emotion when the model gives that emotion at
least this fraction of its threshold. 0: always. The model may not know the word at all ("livid"
scores sad on GoEmotions' Reddit register); names and mentions ("Furious Pete's Diner", "the word
livid") are no cue (:func:`~voicesmith.emotion.lexicon.clear_cues`)."""

_SURPRISE_CUES = re.compile(
    r"!|\b(wow|whoa|woah|oh|huh|really|seriously|what\?|no way|(can't|cannot|couldn't) believe|unbelievable"
    r"|surpris\w*|amaz\w*|astonish\w*|stun\w*|shock\w*|wait|hold on|hang on|since when|goodness"
    r"|good (heavens|grief|lord)|blimey|gosh|kidding|are you serious|you're joking)",
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
    source: str = "model"
    """What decided ``label``: ``model``, ``cue`` (a clear emotion word), ``lexicon`` (the operator's
    list), ``blank`` (nothing to analyse) or, after routing, ``context``."""
    cue: str | None = None
    """The word or phrase behind a ``cue`` or ``lexicon`` decision."""
    thresholds: dict[str, float] = field(default_factory=dict, compare=False, repr=False)
    """The thresholds the decision used (for the context rules)."""


@functools.cache
def _spoken_columns(ekman_labels: tuple[str, ...], disgust_as: str, fear_as: str) -> tuple[int, ...]:
    """The :data:`SPOKEN_EMOTIONS` index each Ekman label joins (worked out once per mapping)."""
    return tuple(
        SPOKEN_EMOTIONS.index(resolve_emotion(name, disgust_as=disgust_as, fear_as=fear_as))
        for name in ekman_labels
    )


def spoken_scores(
    ekman: np.ndarray, ekman_labels: tuple[str, ...], *, disgust_as: str = "angry", fear_as: str = "sad"
) -> np.ndarray:
    """Map Ekman probabilities, shape (n, 7), to normalised scores over :data:`SPOKEN_EMOTIONS`, (n, 5)."""
    merged = np.zeros((ekman.shape[0], len(SPOKEN_EMOTIONS)), dtype=np.float64)
    for column, index in enumerate(_spoken_columns(tuple(ekman_labels), disgust_as, fear_as)):
        merged[:, index] = np.maximum(merged[:, index], ekman[:, column])
    total = merged.sum(axis=1, keepdims=True)
    return merged / np.maximum(total, 1e-9)


def blend_scores(scores: np.ndarray, ngram: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - weight) * scores + weight * ngram``: MiniLM's spoken scores with the n-gram model's
    (both (n, 5) distributions in SPOKEN_EMOTIONS order; the result sums to 1 per row)."""
    return (1.0 - weight) * scores + weight * ngram


def is_plain_question(text: str) -> bool:
    """A question with no sign of surprise ("Where is my order?", not "Really? You came?!")."""
    return text.rstrip().rstrip("\"'”’)").endswith("?") and not _SURPRISE_CUES.search(text)


def discount_plain_questions(scores: np.ndarray, texts: list[str]) -> np.ndarray:
    """Move the surprise score of plain questions to neutral, in place; returns ``scores``."""
    surprise = SPOKEN_EMOTIONS.index(Emotion.SURPRISE)
    for row, text in enumerate(texts):
        if is_plain_question(text):
            scores[row, 0] += scores[row, surprise]
            scores[row, surprise] = 0.0
    return scores


def decide(scores: np.ndarray, thresholds: np.ndarray | float, margin: float = 0.0) -> np.ndarray:
    """Indices into :data:`SPOKEN_EMOTIONS` for rows of spoken ``scores``.

    ``thresholds``: one per emotional label (angry, happy, sad, surprise) or one for all. A row is the
    emotion with the highest score / threshold among those that reach their threshold, unless the
    runner-up emotion's score is within ``margin`` of it (two emotions, no clear winner); else 0
    (neutral)."""
    limits = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), (len(EMOTIONAL),))
    emotional = scores[:, 1:]
    ratio = emotional / np.maximum(limits, 1e-9)
    top = np.argmax(ratio, axis=1)
    rows = np.arange(len(scores))
    top_score = emotional[rows, top]
    others = emotional.copy()
    others[rows, top] = -1.0
    close = np.abs(top_score - others.max(axis=1)) < margin if margin > 0 else np.zeros(len(scores), bool)
    return np.where((ratio[rows, top] >= 1.0) & ~close, top + 1, 0)


def text_intensity(
    text: str,
    label: Emotion,
    score: float,
    threshold: float,
    *,
    disgust_as: str = "angry",
    fear_as: str = "sad",
) -> float:
    """Intensity for an emotional ``label`` on the rendering's 0-2 scale (module docstring, step 5).

    From the wording when it has an emotion word for ``label`` (:func:`~voicesmith.emotion.lexicon.
    word_intensity`), else from the model: 0.75 at the threshold to 1.25 at a score of 1; then
    exclamation marks and capitals; clipped to 0.25..2."""
    worded = word_intensity(text, label, disgust_as=disgust_as, fear_as=fear_as)
    if worded is None:
        confidence = float(np.clip((score - threshold) / max(1.0 - threshold, 1e-6), 0.0, 1.0))
        worded = 0.75 + 0.5 * confidence
    return round(float(np.clip(worded + punctuation_boost(text), 0.25, 2.0)), 3)


def apply_cues(
    label: Emotion,
    scores: dict[str, float],
    thresholds: dict[str, float],
    cues: dict[Emotion, str],
    negated: set[Emotion] = frozenset(),
) -> tuple[Emotion, str | None]:
    """The label after the clear-word rule (module docstring, step 4) and the word that decided it.

    ``negated``: emotions named only in the negative ("I am not angry"); a decision for one of them,
    with no clear word for it, falls back to neutral."""
    if label in negated and label not in cues:
        return Emotion.NEUTRAL, None
    if not cues or label in cues:
        return label, None
    if label is Emotion.ANGRY and set(cues) == {Emotion.HAPPY}:
        return label, None  # a happy word in an angry sentence: sarcasm
    best = max(cues, key=lambda e: scores[e.value] / thresholds[e.value])
    if label is not Emotion.NEUTRAL or scores[best.value] >= CUE_FLOOR * thresholds[best.value]:
        return best, cues[best]
    return label, None


def decide_text(
    text: str,
    scores: dict[str, float],
    model_label: Emotion,
    thresholds: dict[str, float],
    *,
    lexicon: OperatorLexicon | None = None,
    disgust_as: str = "angry",
    fear_as: str = "sad",
) -> tuple[Emotion, float, str, str | None]:
    """(label, intensity, source, cue) of one sentence from its spoken ``scores`` and the model's
    calibrated ``model_label`` (:func:`decide`): the operator lexicon first, then the clear-word rule,
    then the intensity (module docstring, steps 1, 4 and 5)."""
    fixed_intensity = None
    entry = lexicon.match(text) if lexicon is not None else None
    if entry is not None:
        label, source, cue, fixed_intensity = entry.emotion, "lexicon", entry.phrase, entry.intensity
    else:
        cues, negated = scan_cues(text, disgust_as=disgust_as, fear_as=fear_as)
        label, cue = apply_cues(model_label, scores, thresholds, cues, negated)
        source = "cue" if cue is not None else "model"
    if label is Emotion.NEUTRAL:
        return label, 0.0, source, cue
    if fixed_intensity is not None:
        return label, fixed_intensity, source, cue
    intensity = text_intensity(
        text, label, scores[label.value], thresholds[label.value], disgust_as=disgust_as, fear_as=fear_as
    )
    return label, intensity, source, cue


class EmotionAnalyzer:
    """Sentence-level emotion analysis with the shipped int8 ONNX model.

    Loading takes ~0.2 s; use :meth:`default` to share one instance. Thread-safe for concurrent calls
    (onnxruntime sessions are). ``threads`` sets onnxruntime's intra-op threads; with 1, a 15-token
    sentence takes ~3 ms (``benchmarks/bench_emotion.py``). ``disgust_as`` / ``fear_as`` choose the spoken
    label for those Ekman emotions; ``threshold`` replaces the tuned per-label thresholds by one value.
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
            weight = float(settings.get("ngram_weight", 0.0))
            self._ngram = NgramModel.load(model_dir / NGRAM_FILE) if weight > 0 else None
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
        self.ngram_weight: float = weight if self._ngram is not None else 0.0
        """Share of the in-domain n-gram model in the spoken scores (0: MiniLM alone)."""
        tuned = settings.get("label_thresholds") or {e.value: settings["threshold"] for e in EMOTIONAL}
        self.thresholds: dict[str, float] = {
            e.value: float(tuned[e.value] if threshold is None else threshold) for e in EMOTIONAL
        }
        """Score each emotional label needs to replace neutral (tuned per label on held-out data)."""
        self.threshold: float = float(settings["threshold"] if threshold is None else threshold)
        """One reference threshold (the angry one, unless overridden): the scale of the context rules."""
        self.margin: float = float(settings.get("margin", 0.0)) if threshold is None else 0.0
        """Lead the best emotion needs over the runner-up emotion (else neutral)."""
        self.metrics: dict = settings.get("metrics", {})
        """What the training script measured (GoEmotions, in-domain held-out, confusion tables)."""
        _LOGGER.debug("loaded the emotion model from %s (thresholds %s)", model_dir, self.thresholds)

    @classmethod
    @functools.cache
    def default(cls) -> EmotionAnalyzer:
        """The shipped model with its tuned thresholds, loaded once per process."""
        return cls()

    @property
    def ekman_labels(self) -> tuple[str, ...]:
        return self._ekman_labels

    def token_count(self, text: str) -> int:
        return len(self._tokenizer.encode(text).ids)

    def ekman_probabilities(self, texts: list[str]) -> np.ndarray:
        """The model's sigmoid probabilities, shape (len(texts), 7), in :attr:`ekman_labels` order."""
        out = np.zeros((len(texts), len(self._ekman_labels)), dtype=np.float32)
        if not texts:
            return out
        # One sentence per run: the int8 graph quantises activations per tensor, with a range taken over
        # the whole batch, so batching would make a sentence's scores depend on its neighbours (by up to
        # 0.03). Batches gain little on one core anyway.
        # encode_batch hands even one text to the tokenizers thread pool (~0.1 ms): one at a time here
        tokenizer = self._tokenizer
        encodings = [tokenizer.encode(texts[0])] if len(texts) == 1 else tokenizer.encode_batch(list(texts))
        for row, encoding in enumerate(encodings):
            ids = np.asarray([encoding.ids], dtype=np.int64)
            (logits,) = self._session.run(["logits"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})
            out[row] = 1.0 / (1.0 + np.exp(-logits[0]))
        return out

    def scores_of(self, texts: list[str], *, disgust_as: str | None = None, fear_as: str | None = None):
        """Spoken scores (n, 5) of ``texts`` after the plain-question rule, and the Ekman probabilities."""
        ekman = self.ekman_probabilities(texts)
        scores = spoken_scores(
            ekman,
            self._ekman_labels,
            disgust_as=disgust_as or self._disgust_as,
            fear_as=fear_as or self._fear_as,
        )
        if self._ngram is not None and len(texts):
            scores = blend_scores(scores, self._ngram.probabilities(list(texts)), self.ngram_weight)
        return discount_plain_questions(scores, texts), ekman

    def analyze(self, text: str, *, lexicon: OperatorLexicon | None = None) -> EmotionResult:
        """Analyse one sentence."""
        return self.analyze_sentences([text], lexicon=lexicon)[0]

    def analyze_sentences(
        self,
        texts: list[str],
        *,
        lexicon: OperatorLexicon | None = None,
        disgust_as: str | None = None,
        fear_as: str | None = None,
    ) -> list[EmotionResult]:
        """Analyse each text on its own; blank texts are neutral with intensity 0.

        ``lexicon``: the operator's phrase list, applied before the model. ``disgust_as`` / ``fear_as``
        override the analyser's mapping for this call. A text longer than the model's 128 tokens (about
        90 words) is judged by the model on its first 128 tokens.
        """
        disgust_as = disgust_as or self._disgust_as
        fear_as = fear_as or self._fear_as
        results: list[EmotionResult | None] = [None] * len(texts)
        filled = [i for i, text in enumerate(texts) if text.strip()]
        for i, text in enumerate(texts):
            if not text.strip():
                results[i] = EmotionResult(
                    label=Emotion.NEUTRAL,
                    scores={e.value: float(e is Emotion.NEUTRAL) for e in SPOKEN_EMOTIONS},
                    intensity=0.0,
                    ekman={name: 0.0 for name in self._ekman_labels},
                    source="blank",
                    thresholds=self.thresholds,
                )
        scores, ekman = self.scores_of([texts[i] for i in filled], disgust_as=disgust_as, fear_as=fear_as)
        limits = np.array([self.thresholds[e.value] for e in EMOTIONAL])
        labels = decide(scores, limits, self.margin)
        for row, i in enumerate(filled):
            row_scores = {
                e.value: round(float(v), 4) for e, v in zip(SPOKEN_EMOTIONS, scores[row], strict=True)
            }
            label, intensity, source, cue = decide_text(
                texts[i],
                row_scores,
                SPOKEN_EMOTIONS[int(labels[row])],
                self.thresholds,
                lexicon=lexicon,
                disgust_as=disgust_as,
                fear_as=fear_as,
            )
            results[i] = EmotionResult(
                label=label,
                scores=row_scores,
                intensity=intensity,
                ekman={n: round(float(p), 4) for n, p in zip(self._ekman_labels, ekman[row], strict=True)},
                source=source,
                cue=cue,
                thresholds=self.thresholds,
            )
        return results  # type: ignore[return-value]

    def with_threshold(self, result: EmotionResult, threshold: float) -> EmotionResult:
        """``result`` decided again at one ``threshold`` for every label (lexicon decisions stay)."""
        if result.source in ("lexicon", "blank"):
            return result
        scores = np.array([[result.scores[e.value] for e in SPOKEN_EMOTIONS]])
        label = SPOKEN_EMOTIONS[int(decide(scores, threshold)[0])]
        intensity = 0.0 if label is Emotion.NEUTRAL else result.intensity or 1.0
        return replace(
            result, label=label, intensity=intensity, thresholds=dict.fromkeys(self.thresholds, threshold)
        )


@functools.cache
def _cached_lexicon(path: str, mtime_ns: int, size: int, disgust_as: str, fear_as: str) -> OperatorLexicon:
    return OperatorLexicon.from_file(path, disgust_as=disgust_as, fear_as=fear_as)


def load_operator_lexicon(
    path: Path | str | None, *, disgust_as: str = "angry", fear_as: str = "sad"
) -> OperatorLexicon | None:
    """The operator lexicon at ``path`` (None: none), read once and again whenever the file changes.

    ``path`` comes from the server's settings (``VOICESMITH_EMOTION_LEXICON``), so a missing or
    malformed file is the operator's to fix: a :class:`~voicesmith.errors.ServiceFailureError` naming
    the file and line, not a client error."""
    if path is None or str(path) == "":
        return None
    try:
        stat = Path(path).stat()
        return _cached_lexicon(str(path), stat.st_mtime_ns, stat.st_size, disgust_as, fear_as)
    except (OSError, ValidationError) as error:
        raise ServiceFailureError(
            f"The emotion lexicon (VOICESMITH_EMOTION_LEXICON) is unusable: {error}"
        ) from error


def route_emotions(
    sentences: list[str],
    *,
    explicit: Emotion | None,
    threshold: float | None = None,
    smoothing: bool = True,
    intensity: float | None = None,
    analyzer: EmotionAnalyzer | None = None,
    paragraphs: list[int] | None = None,
    lexicon: OperatorLexicon | None = None,
    disgust_as: str | None = None,
    fear_as: str | None = None,
) -> list[tuple[Emotion, float]]:
    """Choose the (emotion, intensity) to speak each sentence with.

    An explicit emotion (anything but ``None`` / ``Emotion.AUTO``) always wins: every sentence gets it,
    with ``intensity`` (default 1.0; neutral is always 0.0). Otherwise each sentence is analysed on its
    own, so the emotion only ever changes at a sentence boundary, and with ``smoothing`` the context
    rules of :func:`~voicesmith.emotion.context.route_in_context` apply within each paragraph
    (``paragraphs``: a paragraph number per sentence; default: all one paragraph). ``threshold``
    replaces the tuned per-label thresholds by one value.
    """
    from voicesmith.emotion.context import route_in_context

    if explicit is not None and explicit is not Emotion.AUTO:
        level = 0.0 if explicit is Emotion.NEUTRAL else (1.0 if intensity is None else float(intensity))
        return [(explicit, level)] * len(sentences)
    analyzer = analyzer or EmotionAnalyzer.default()
    results = analyzer.analyze_sentences(
        list(sentences), lexicon=lexicon, disgust_as=disgust_as, fear_as=fear_as
    )
    if threshold is not None:
        results = [analyzer.with_threshold(result, float(threshold)) for result in results]
    routed = route_in_context(list(sentences), results, paragraphs, smoothing=smoothing)
    return [(result.label, result.intensity) for result in routed]

"""Which words drove a decision: leave-one-word-out occlusion on the shipped model.

For a sentence decided as label L, each word is removed in turn and the sentence scored again; a
word's weight is how much L's spoken score falls without it (negative: the word argued against L).
One model run per word (~3 ms each on one core), so a 15-word sentence takes ~50 ms: cheap enough
for a sentence a user asks about, not for every sentence spoken (synthesis never calls this).

The explanation also names the rule that decided, when it was not the model alone: the operator
lexicon's phrase or a clear emotion word (:mod:`voicesmith.emotion.lexicon`), so a user can see why
and add an override.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from voicesmith.emotion.analyze import EmotionAnalyzer, EmotionResult
from voicesmith.emotion.labels import Emotion

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*")
MAX_WORDS = 60
"""Longer sentences are explained over their first 60 words (each word costs one model run)."""


@dataclass(frozen=True, slots=True)
class WordWeight:
    word: str
    start: int
    """Character offsets of the word in the sentence."""
    end: int
    weight: float
    """Fall of the decided label's score when the word is left out."""


@dataclass(frozen=True, slots=True)
class Explanation:
    label: Emotion
    explained: Emotion
    """The label whose score the weights are about: the decided one, or for a neutral decision the
    emotion that came closest to its threshold."""
    source: str
    cue: str | None
    words: list[WordWeight]
    """Every word, in sentence order."""

    def top(self, count: int = 5) -> list[WordWeight]:
        """The ``count`` words that pushed hardest towards :attr:`explained` (positive weights only)."""
        ranked = sorted((w for w in self.words if w.weight > 0), key=lambda w: -w.weight)
        return ranked[:count]

    def as_dict(self, count: int = 5) -> dict:
        return {
            "label": self.label.value,
            "explained": self.explained.value,
            "source": self.source,
            "cue": self.cue,
            "words": [
                {"word": w.word, "start": w.start, "end": w.end, "weight": round(w.weight, 4)}
                for w in self.top(count)
            ],
        }


def explain(analyzer: EmotionAnalyzer, text: str, result: EmotionResult | None = None) -> Explanation:
    """Leave-one-word-out weights of ``text``'s words for its decided label (see the module docstring).

    ``result``: the sentence's analysis if already made (its label and source are reported as they
    are, e.g. after context routing); otherwise ``text`` is analysed first."""
    result = result or analyzer.analyze(text)
    if result.label is Emotion.NEUTRAL:
        explained = max(
            (e for e in Emotion if e not in (Emotion.NEUTRAL, Emotion.AUTO)),
            key=lambda e: result.scores.get(e.value, 0.0) / max(result.thresholds.get(e.value, 0.5), 1e-9),
        )
    else:
        explained = result.label
    matches = list(_WORD.finditer(text))[:MAX_WORDS]
    variants = [" ".join((text[: m.start()] + text[m.end() :]).split()) for m in matches]
    base_scores, _ = analyzer.scores_of([text])
    column = [e.value for e in Emotion if e is not Emotion.AUTO].index(explained.value)
    base = float(base_scores[0, column])
    words: list[WordWeight] = []
    if variants:
        scores, _ = analyzer.scores_of(variants)
        for match, row in zip(matches, scores, strict=True):
            words.append(WordWeight(match.group(0), match.start(), match.end(), base - float(row[column])))
    return Explanation(result.label, explained, result.source, result.cue, words)

"""A paragraph's emotion across its sentences: carry to short follow-ups, with hysteresis.

Each sentence is first analysed on its own (:class:`~voicesmith.emotion.analyze.EmotionAnalyzer`), so
the emotion can only change at a sentence boundary. Then, within a paragraph, a running emotion E
(the last emotional decision) works like a Schmitt trigger: entering E takes a sentence that clears
E's threshold; staying in E takes much less.

* follow-up: a neutral sentence after E keeps E when it is short (at most :data:`SHORT_WORDS` words:
  "Third time this week.", "Fix it."), when its own score for E is at least :data:`HOLD` of E's
  threshold, or when the next sentence is E again (one neutral clause does not flip the voice
  mid-rant). Otherwise the run ends and the sentence is neutral.
* switch: a short sentence decided as another emotion F inside a run of E keeps E unless F is strong
  (score at least :data:`STRONG` times F's threshold) or named by a clear word: "I am furious. Great
  job, really. Fix it." stays angry.
* the operator lexicon's decisions are never changed, and they start or end a run like any decision.

A carried sentence is spoken with the run's intensity times :data:`CARRY_INTENSITY` (at least 0.5).
Paragraphs are independent: nothing carries across a paragraph break.
"""

from __future__ import annotations

import re
from dataclasses import replace

from voicesmith.emotion.analyze import EmotionResult
from voicesmith.emotion.labels import Emotion

SHORT_WORDS = 5
HOLD = 0.5
STRONG = 1.5
CARRY_INTENSITY = 0.9

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*")
_BREAK = r"\n[ \t]*\n|<\s*/?\s*p[\s>/]|<\s*/?\s*paragraph[\s>/]"
_BREAKS = {str: re.compile(_BREAK, re.IGNORECASE), bytes: re.compile(_BREAK.encode(), re.IGNORECASE)}


def paragraph_numbers(source: str | bytes, spans: list[tuple[int, int]]) -> list[int]:
    """A paragraph number per sentence (``spans``: its offsets in ``source``, in order): a new paragraph
    starts after a blank line or an SSML ``<p>``/``</p>`` between two sentences."""
    pattern = _BREAKS[type(source)]
    numbers, paragraph, previous_end = [], 0, None
    for start, end in spans:
        if previous_end is not None and pattern.search(source[previous_end:start]):
            paragraph += 1
        numbers.append(paragraph)
        previous_end = end if previous_end is None else max(end, previous_end)
    return numbers


def _ratio(result: EmotionResult, emotion: Emotion) -> float:
    limit = result.thresholds.get(emotion.value, 0.5)
    return result.scores.get(emotion.value, 0.0) / max(limit, 1e-9)


def route_in_context(
    texts: list[str],
    results: list[EmotionResult],
    paragraphs: list[int] | None = None,
    *,
    smoothing: bool = True,
) -> list[EmotionResult]:
    """``results`` with the follow-up and switch rules of the module docstring applied per paragraph
    (``paragraphs``: a paragraph number per sentence, default one paragraph). Changed results have
    ``source == "context"``."""
    if not smoothing or len(results) < 2:
        return list(results)
    paragraphs = paragraphs or [0] * len(results)
    out = list(results)
    groups: dict[int, list[int]] = {}
    for index, paragraph in enumerate(paragraphs):
        groups.setdefault(paragraph, []).append(index)
    for members in groups.values():
        running: Emotion | None = None
        running_intensity = 0.0
        for position, i in enumerate(members):
            result = results[i]
            short = len(_WORD.findall(texts[i])) <= SHORT_WORDS
            if result.source in ("lexicon", "blank"):
                if result.source == "lexicon":
                    running = result.label if result.label is not Emotion.NEUTRAL else None
                    running_intensity = result.intensity
                continue
            if result.label is not Emotion.NEUTRAL:
                keeps_run = (
                    running is not None
                    and result.label is not running
                    and short
                    and result.source != "cue"
                    and _ratio(result, result.label) < STRONG
                )
                if keeps_run:
                    out[i] = _carried(result, running, running_intensity)
                else:
                    running, running_intensity = result.label, result.intensity
                continue
            if running is None:
                continue
            following = results[members[position + 1]] if position + 1 < len(members) else None
            if (
                short
                or _ratio(result, running) >= HOLD
                or (following is not None and following.label is running)
            ):
                out[i] = _carried(result, running, running_intensity)
            else:
                running = None
    return out


def _carried(result: EmotionResult, emotion: Emotion, intensity: float) -> EmotionResult:
    return replace(
        result,
        label=emotion,
        intensity=round(max(0.5, intensity * CARRY_INTENSITY), 3),
        source="context",
        cue=None,
    )

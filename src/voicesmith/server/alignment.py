"""Character timings (ElevenLabs' ``alignment``) from the synthesizer's word marks.

The synthesizer knows when each word starts (its phoneme durations); a word's characters share the time
up to the next word's start, evenly; characters between words (spaces, punctuation) take no time and sit
where the previous word ended. The last character of an utterance ends where the utterance's audio
ends, so a client that adds up ``start + duration`` of the last character of each message (pipecat does)
stays on the audio's clock.
"""

from __future__ import annotations

import html
from bisect import bisect_right
from dataclasses import dataclass, field

from voicesmith.engine.marks import SpeechMark
from voicesmith.text.normalize import byte_offsets


@dataclass
class CharTimings:
    """Characters with start times and durations, both in milliseconds."""

    chars: list[str] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)

    def extend(self, other: CharTimings) -> None:
        self.chars += other.chars
        self.starts += other.starts
        self.durations += other.durations

    def websocket_json(self) -> dict:
        """The WebSocket shape: ``chars``, ``charStartTimesMs``, ``charDurationsMs`` (integers)."""
        return {
            "chars": list(self.chars),
            "charStartTimesMs": [int(round(s)) for s in self.starts],
            "charDurationsMs": [int(round(d)) for d in self.durations],
        }

    def rest_json(self) -> dict:
        """The REST shape: ``characters`` with start and end times in seconds."""
        return {
            "characters": list(self.chars),
            "character_start_times_seconds": [round(s / 1000, 3) for s in self.starts],
            "character_end_times_seconds": [
                round((s + d) / 1000, 3) for s, d in zip(self.starts, self.durations, strict=True)
            ],
        }


class TextAligner:
    """Hands out the characters of one text utterance by utterance, each with its timings."""

    def __init__(self, text: str, lead: str = "", markup: bool = False) -> None:
        self.text = text
        self._bytes = byte_offsets(text)
        self._visible = _visible_characters(text) if markup else None
        """For SSML: source index -> the character a reader sees (tags hidden, entities decoded)."""
        self._covered = 0
        """Characters already handed out."""
        self._lead = lead
        """Characters put before the text's first ones (the space between two segments of a stream)."""

    def _char(self, byte: int) -> int:
        return max(0, bisect_right(self._bytes, byte) - 1)

    def utterance(
        self, marks: list[SpeechMark], start_ms: float, end_ms: float, last: bool = False
    ) -> CharTimings:
        """The characters an utterance speaks (from where the previous one stopped up to its sentence's
        or last word's end; to the end of the text when ``last``), times relative to ``start_ms``."""
        words = sorted((m for m in marks if m.type == "word"), key=lambda m: (m.time, m.start))
        sentence_end = max((m.end for m in marks if m.type == "sentence"), default=None)
        stop = len(self.text) if last else self._char(sentence_end) if sentence_end is not None else None
        if stop is None:
            stop = self._char(words[-1].end) if words else self._covered
        stop = max(stop, self._covered)
        out = CharTimings()
        cursor = 0.0
        length = end_ms - start_ms
        spans = []
        for index, word in enumerate(words):
            begin = word.time - start_ms
            finish = words[index + 1].time - start_ms if index + 1 < len(words) else length
            spans.append((self._char(word.start), self._char(word.end), begin, max(finish, begin)))
        if self._lead:
            for char in self._lead:
                out.chars.append(char)
                out.starts.append(0.0)
                out.durations.append(0.0)
            self._lead = ""
        position = self._covered
        for first, end, begin, finish in spans:
            if end <= position:
                continue
            first = max(first, position)
            while position < first:
                self._quiet(out, position, cursor)
                position += 1
            count = max(1, end - first)
            step = (finish - begin) / count
            for k in range(first, end):
                char = self._shown(k)
                if char is not None:
                    out.chars.append(char)
                    out.starts.append(begin + (k - first) * step)
                    out.durations.append(step)
            position = end
            cursor = finish
        while position < stop:
            self._quiet(out, position, cursor)
            position += 1
        if out.chars:  # the utterance's last character ends with its audio
            out.durations[-1] = max(0.0, length - out.starts[-1])
        self._covered = max(self._covered, stop)
        return out

    def _shown(self, index: int) -> str | None:
        if self._visible is None:
            return self.text[index]
        return self._visible.get(index)

    def _quiet(self, out: CharTimings, index: int, at: float) -> None:
        char = self._shown(index)
        if char is not None:
            out.chars.append(char)
            out.starts.append(at)
            out.durations.append(0.0)


def _visible_characters(source: str) -> dict[int, str]:
    """The characters of an SSML source that a reader sees: not inside tags; an entity is one character,
    at the index of its ``&``."""
    visible: dict[int, str] = {}
    index = 0
    while index < len(source):
        char = source[index]
        if char == "<":
            close = source.find(">", index)
            index = len(source) if close < 0 else close + 1
            continue
        if char == "&":
            end = source.find(";", index, index + 12)
            if end > 0:
                visible[index] = html.unescape(source[index : end + 1])
                index = end + 1
                continue
        visible[index] = char
        index += 1
    return visible

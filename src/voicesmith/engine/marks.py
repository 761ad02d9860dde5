"""Speech marks, as Amazon Polly writes them: one JSON object per line.

``{"time":370,"type":"word","start":5,"end":10,"value":"hello"}``: ``time`` in milliseconds
from the start of the audio, ``start``/``end`` UTF-8 byte offsets into the input as given (SSML tags
included). Times come from the voice's own phoneme durations, so they hold after breaks, rate changes
and sentence windows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from voicesmith.text.ssml.speech_marks import SPEECH_MARK_TYPES

MARK_TYPES = SPEECH_MARK_TYPES
_TYPE_ORDER = {"sentence": 0, "ssml": 1, "word": 1, "viseme": 2}


@dataclass(frozen=True)
class SpeechMark:
    time: int
    """Milliseconds from the start of the audio."""
    type: str
    start: int
    end: int
    value: str
    emotion: str | None = None
    """On sentence marks: the emotion the sentence was spoken with (a voicesmith extension; Polly's
    clients ignore keys they do not know)."""

    def to_json(self) -> dict:
        if self.type == "viseme":  # Polly's viseme marks carry no offsets
            return {"time": self.time, "type": self.type, "value": self.value}
        data = {
            "time": self.time,
            "type": self.type,
            "start": self.start,
            "end": self.end,
            "value": self.value,
        }
        if self.emotion is not None:
            data["emotion"] = self.emotion
        return data


def mark_to_json(mark: SpeechMark) -> str:
    """One mark as Polly writes it: compact JSON in Polly's key order, UTF-8 text left unescaped."""
    return json.dumps(mark.to_json(), ensure_ascii=False, separators=(",", ":"))


def marks_to_json_lines(marks: Iterable[SpeechMark]) -> bytes:
    """Polly's speech-mark stream: one compact JSON object per line, each line ending in a newline
    (``{"time":35,"type":"viseme","value":"k"}``): clients split it on lines or on whitespace."""
    return b"".join(mark_to_json(m).encode() + b"\n" for m in marks)


def sort_marks(marks: Iterable[SpeechMark]) -> list[SpeechMark]:
    """Polly's order: by time; at the same time the sentence, then words and SSML marks in document
    order, then visemes."""
    return sorted(marks, key=lambda m: (m.time, _TYPE_ORDER.get(m.type, 9), m.start))


# Amazon Polly's en-US viseme table (IPA -> viseme), extended to espeak-ng's symbols.
_VISEMES: dict[str, str] = {
    "b": "p",
    "p": "p",
    "m": "p",
    "d": "t",
    "t": "t",
    "n": "t",
    "l": "t",
    "ɾ": "t",
    "ɬ": "t",
    "dʒ": "S",
    "tʃ": "S",
    "ʃ": "S",
    "ʒ": "S",
    "ð": "T",
    "θ": "T",
    "f": "f",
    "v": "f",
    "ɡ": "k",
    "g": "k",
    "h": "k",
    "k": "k",
    "ŋ": "k",
    "x": "k",
    "j": "i",
    "ɹ": "r",
    "r": "r",
    "s": "s",
    "z": "s",
    "w": "u",
    "ə": "@",
    "ɚ": "@",
    "ɐ": "@",
    "ᵻ": "i",
    "æ": "a",
    "aɪ": "a",
    "aʊ": "a",
    "ɑ": "a",
    "a": "a",
    "eɪ": "e",
    "e": "e",
    "ɝ": "E",
    "ɜ": "E",
    "ɛ": "E",
    "ʌ": "E",
    "i": "i",
    "ɪ": "i",
    "oʊ": "o",
    "o": "o",
    "ɔ": "O",
    "ɔɪ": "O",
    "ɒ": "O",
    "u": "u",
    "ʊ": "u",
}
_JOINS = {("d", "ʒ"), ("t", "ʃ"), ("a", "ɪ"), ("a", "ʊ"), ("e", "ɪ"), ("o", "ʊ"), ("ɔ", "ɪ")}
_SILENT = set(",.;:!?—…") | {" ", "ˈ", "ˌ", "ː", "ʲ", "̩", "ʔ", "-"}


def visemes(phonemes: list[tuple[str, int, int]], final: bool = False) -> list[tuple[str, int, int]]:
    """``(phoneme, start_ms, duration_ms)`` -> ``(viseme, start_ms, duration_ms)``, Polly's en-US table.

    Diphthongs and affricates that espeak-ng writes as two symbols give one viseme; length marks and
    stress marks extend the symbol before them; punctuation and pauses give ``sil``. Consecutive equal
    visemes stay apart, as in Polly's own output ("little": ``t i t t``); only pauses merge. ``final``:
    these phonemes end the text, and Polly's marks end on the last sound, not on a closing ``sil``.
    """
    out: list[list] = []
    index = 0
    while index < len(phonemes):
        symbol, start, duration = phonemes[index]
        if index + 1 < len(phonemes) and (symbol, phonemes[index + 1][0]) in _JOINS:
            symbol = symbol + phonemes[index + 1][0]
            duration += phonemes[index + 1][2]
            index += 1
        index += 1
        if symbol in _SILENT:
            viseme = "sil" if symbol in ",.;:!?—…" else None
        else:
            viseme = _VISEMES.get(symbol)
        if viseme is None:  # stress, length or unknown symbol: part of the previous viseme
            if out:
                out[-1][2] = start + duration - out[-1][1]
            continue
        if out and out[-1][0] == viseme == "sil":
            out[-1][2] = start + duration - out[-1][1]
            continue
        out.append([viseme, start, duration])
    if final and out and out[-1][0] == "sil":
        out.pop()
    return [(v, s, d) for v, s, d in out]

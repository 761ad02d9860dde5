"""Text that arrives in pieces (an LLM's reply, token by token) -> the segments to speak, each as soon
as it is complete. Used by the doors that take streaming text in: Wyoming's ``synthesize-chunk`` and
ElevenLabs' ``stream-input`` WebSocket.

A segment ends where the synthesizer would start a new utterance anyway, at a sentence end
(:func:`voicesmith.text.sentences.split_sentences`, abbreviation-aware), so speaking the segments one
after the other gives the same audio as speaking the whole text at once. A sentence counts as complete
once whitespace follows its closing punctuation and the language's rules say it ends there even if a
capitalised word came next ("Dr. " waits for more; "fine. " does not).

A long sentence may also be cut at a clause boundary (``,;:`` or a dash, then whitespace), for early
audio, when the door asks for it: once the pending text reaches the next length of a
``chunk_length_schedule`` (ElevenLabs' generation schedule), or at once when ``trigger`` is passed
(ElevenLabs' ``try_trigger_generation``); the cut is at the last clause boundary in the pending text.
A clause spoken on its own is its own utterance, so its prosody differs from the whole sentence's:
that is the price of the earlier audio, and it is only paid when asked for.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from voicesmith.text.sentences import split_sentences

_LOGGER = logging.getLogger(__name__)

_CLAUSE_END = re.compile(r"[,;:—–](?=\s)|\s[-–—](?=\s)")
_MAYBE_END = re.compile(r"[.!?…\n]")
#: A capitalised word appended to the buffer to ask the sentence rules whether the last candidate
#: sentence end is one whatever comes next.
_PROBE = " The"
MIN_TRIGGER_CHARACTERS = 12
"""``trigger`` cuts at a clause only when at least this many characters are pending (ElevenLabs, too,
generates on a trigger only above a minimum, for quality)."""


class TextSegmenter:
    """Collects text pieces; :meth:`feed` returns the segments that became complete."""

    def __init__(self, language: str = "en-US", schedule: Sequence[int] = ()) -> None:
        self.language = language
        self._schedule = [int(n) for n in schedule]
        self._buffer = ""
        self._emitted = 0
        self._clause_end: int | None = None
        """End of the last clause boundary in the buffer (kept up to date as text arrives, so a long
        run of text is scanned once, not once per piece)."""

    @property
    def pending(self) -> str:
        """Text received and not yet handed out."""
        return self._buffer

    def feed(self, text: str, trigger: bool = False) -> list[str]:
        """Add a piece of text; the segments that are now complete, in order (often none)."""
        # Only text near the new piece can complete a sentence: a candidate end just before it (waiting
        # for whitespace or the next word) or one inside it.
        look_from = max(0, len(self._buffer.rstrip()) - 4)
        self._buffer += text
        self._scan_clauses(max(0, look_from - 1))
        out = self._complete_sentences() if _MAYBE_END.search(self._buffer, look_from) else []
        clause = self._clause(trigger)
        if clause:
            out.append(clause)
        self._emitted += len(out)
        return out

    def flush(self) -> list[str]:
        """Everything still pending, as segments (sentences where it has several); the buffer empties."""
        text = self._buffer
        self._cut(len(text))
        out = [s.text for s in split_sentences(text, self.language)] if text.strip() else []
        self._emitted += len(out)
        return out

    def clear(self) -> None:
        """Drop what is pending (the listener interrupted)."""
        self._cut(len(self._buffer))

    def _cut(self, end: int) -> None:
        self._buffer = self._buffer[end:]
        self._clause_end = None
        self._scan_clauses(0)

    def _scan_clauses(self, start: int) -> None:
        for match in _CLAUSE_END.finditer(self._buffer, start):
            if match.end() >= MIN_TRIGGER_CHARACTERS:
                self._clause_end = match.end()

    def _complete_sentences(self) -> list[str]:
        if not self._buffer.strip():
            return []
        sentences = split_sentences(self._buffer, self.language)
        if not sentences:
            return []
        done = sentences[:-1]
        last = sentences[-1]
        tail = self._buffer[last.end :]
        if tail and tail[0].isspace():
            probe = split_sentences(self._buffer[: last.end] + _PROBE, self.language)
            if probe and probe[-1].start >= last.end:
                done.append(last)
        if not done:
            return []
        self._cut(done[-1].end)
        return [s.text for s in done]

    def _clause(self, trigger: bool) -> str | None:
        if self._clause_end is None or not self._buffer.strip():
            return None
        if trigger:
            needed = MIN_TRIGGER_CHARACTERS
        elif self._schedule:
            needed = self._schedule[min(self._emitted, len(self._schedule) - 1)]
        else:
            return None
        if len(self._buffer.strip()) < needed:
            return None
        segment = self._buffer[: self._clause_end].strip()
        self._cut(self._clause_end)
        return segment or None

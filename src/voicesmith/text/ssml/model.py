"""What an SSML document turns into: a flat, ordered list of items with the tag state resolved.

Every item carries the UTF-8 *byte* span of its source inside the original input (``start`` inclusive,
``end`` exclusive), because Polly's speech marks report byte offsets into the input, tags included.
All classes are frozen dataclasses: two runs with the same :class:`TextStyle` compare equal, so the
planner can group consecutive runs by style.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from voicesmith.text.phonemes import xsampa_to_ipa

SILENT_DB = float("-inf")
"""``Prosody.volume_db`` of ``<prosody volume="silent">``: the audio layer renders it as silence."""


@dataclass(frozen=True)
class Prosody:
    """Effective ``<prosody>`` state, resolved over all enclosing tags.

    Nesting rules (Polly's documentation is the guide): ``rate`` presets and ``N%`` are relative to the
    voice's *default* rate, so an inner rate replaces an outer one (they do not multiply). Relative volume
    (``+NdB``) and relative pitch (``+N%``, ``+Nst``, ``+NHz``) add to the enclosing value; presets and
    ``default`` replace it.
    """

    rate: float = 1.0
    """Speaking-rate multiplier: 1.0 is the voice's default, 2.0 twice as fast (Polly allows 0.2-2.0)."""
    volume_db: float = 0.0
    """Gain relative to the voice's default level, in dB; :data:`SILENT_DB` for ``silent``."""
    pitch_semitones: float = 0.0
    """Pitch shift relative to the voice's default, in semitones (``N%`` is converted to semitones)."""
    pitch_hz: float = 0.0
    """Extra shift given in Hz (``+NHz``); needs the voice's F0 to turn into semitones, so kept apart."""
    max_duration_ms: int | None = None
    """``amazon:max-duration`` of the innermost enclosing tag that sets it."""
    max_duration_id: int | None = None
    """Byte offset of the ``<prosody>`` tag that set ``max_duration_ms``: runs sharing it share one budget."""


@dataclass(frozen=True)
class SayAs:
    interpret_as: str
    format: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class PhonemeSpec:
    alphabet: str
    """``ipa`` or ``x-sampa``, as written in the tag."""
    ph: str

    @property
    def ipa(self) -> str:
        """The pronunciation in IPA; map it to a voice with ``text.phonemes.ipa_to_voice_phonemes``."""
        if self.alphabet == "x-sampa":
            return xsampa_to_ipa(self.ph)  # the parser has checked that it converts
        return self.ph


@dataclass(frozen=True)
class EmotionSpec:
    """An emotion request from ``<amazon:emotion>`` or ``<mstts:express-as>``.

    The label is kept as written; the emotion layer resolves aliases (``cheerful`` -> happy, ...).
    ``intensity`` runs 0-2 with 1.0 the nominal strength: Polly's low/medium/high are 0.5/1.0/1.5, Azure's
    ``styledegree`` is used as is.
    """

    label: str
    intensity: float = 1.0


@dataclass(frozen=True)
class AutoBreaths:
    volume: str = "medium"
    frequency: str = "medium"
    duration: str = "medium"


@dataclass(frozen=True)
class Effects:
    """``<amazon:effect>``, ``<amazon:domain>``, ``<amazon:auto-breaths>`` and emotion state."""

    whispered: bool = False
    drc: bool = False
    soft_phonation: bool = False
    vocal_tract_length_percent: float = 100.0
    """100 is the voice as it is; Polly clips to 50-200."""
    domain: str | None = None
    emotion: EmotionSpec | None = None
    auto_breaths: AutoBreaths | None = None


@dataclass(frozen=True)
class TextStyle:
    """Everything the enclosing tags say about a run of text."""

    prosody: Prosody = field(default_factory=Prosody)
    emphasis: str | None = None
    """``strong``, ``moderate`` or ``reduced``; None outside ``<emphasis>``."""
    say_as: SayAs | None = None
    sub_alias: str | None = None
    """The text to speak instead of the run (``<sub alias=...>``)."""
    phoneme: PhonemeSpec | None = None
    lang: str | None = None
    """The innermost ``xml:lang`` (``<speak>``, ``<lang>``, ``<p>``, ``<s>``); None if never given."""
    w_role: str | None = None
    effects: Effects = field(default_factory=Effects)


@dataclass(frozen=True)
class TextRun:
    """Character data between two tags, with its source span and the style in force.

    ``text`` is the decoded text (entities resolved, CRLF folded to LF), so it can be shorter than its
    source; :meth:`byte_span` maps character offsets in ``text`` back to source byte offsets. Runs of
    whitespace only are kept: they separate words.
    """

    text: str
    start: int
    end: int
    style: TextStyle = field(default_factory=TextStyle)
    pieces: tuple[tuple[int, int, int], ...] = ()
    """``(char_offset, byte_start, byte_end)`` per piece the parser saw; a piece whose byte length differs
    from its UTF-8 length (an entity, a character reference, a CRLF) maps as a whole."""

    @property
    def prosody(self) -> Prosody:
        return self.style.prosody

    @property
    def say_as(self) -> SayAs | None:
        return self.style.say_as

    @property
    def sub_alias(self) -> str | None:
        return self.style.sub_alias

    @property
    def phoneme(self) -> PhonemeSpec | None:
        return self.style.phoneme

    @property
    def lang(self) -> str | None:
        return self.style.lang

    def byte_span(self, char_start: int, char_end: int) -> tuple[int, int]:
        """Source byte span of ``text[char_start:char_end]``; a span that touches part of an entity
        covers the whole entity. ``char_end`` is exclusive."""
        if not 0 <= char_start <= char_end <= len(self.text):
            raise IndexError(f"span {char_start}:{char_end} outside a run of {len(self.text)} characters")
        if not self.pieces:
            return (
                self.start + len(self.text[:char_start].encode()),
                self.start + len(self.text[:char_end].encode()),
            )
        return self._offset(char_start, start=True), self._offset(char_end, start=False)

    def _offset(self, char: int, *, start: bool) -> int:
        # The piece holding character ``char`` (for an exclusive end: the piece holding ``char - 1``).
        key = char if start else char - 1
        index = bisect.bisect_right(self.pieces, (key, math.inf, math.inf)) - 1
        if index < 0:
            return self.start
        offset, byte_start, byte_end = self.pieces[index]
        next_offset = self.pieces[index + 1][0] if index + 1 < len(self.pieces) else len(self.text)
        piece_text = self.text[offset:next_offset]
        if len(piece_text.encode()) != byte_end - byte_start:  # entity or CRLF: all or nothing
            return byte_start if start else byte_end
        return byte_start + len(piece_text[: char - offset].encode())


@dataclass(frozen=True)
class Break:
    """A pause. ``strength`` is the attribute as given (None if absent); ``timed`` is True when ``time``
    was given (it wins over ``strength``). A bare ``<break/>`` (neither attribute) has strength None and
    the medium duration; Polly lengthens such a break next to punctuation, which the planner may do."""

    time_ms: int
    strength: str | None
    start: int
    end: int
    timed: bool = False


@dataclass(frozen=True)
class Mark:
    """``<mark name=...>``: reported as an ``ssml`` speech mark at the time it is reached."""

    name: str
    start: int
    end: int


@dataclass(frozen=True)
class Breath:
    """``<amazon:breath>``: one breath sound (duration and volume as Polly's labels)."""

    volume: str
    duration: str
    start: int
    end: int


@dataclass(frozen=True)
class SentenceBoundary:
    """``<s>`` (``opening=True``) or ``</s>``: a sentence must start or end here."""

    opening: bool
    start: int
    end: int


@dataclass(frozen=True)
class ParagraphBoundary:
    """``<p>`` (``opening=True``) or ``</p>``: a paragraph must start or end here."""

    opening: bool
    start: int
    end: int


SsmlItem = TextRun | Break | Mark | Breath | SentenceBoundary | ParagraphBoundary


@dataclass(frozen=True)
class SsmlDocument:
    """The parsed input, in document order. ``source`` is the input as given (SSML or plain text)."""

    items: tuple[SsmlItem, ...]
    source: str
    is_ssml: bool = True
    lang: str | None = None
    """``xml:lang`` of ``<speak>``, if given."""

    def __iter__(self) -> Iterator[SsmlItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def text_runs(self) -> tuple[TextRun, ...]:
        return tuple(item for item in self.items if isinstance(item, TextRun))

    @property
    def marks(self) -> tuple[Mark, ...]:
        return tuple(item for item in self.items if isinstance(item, Mark))

    @property
    def text(self) -> str:
        """The spoken text (runs joined as written, aliases not applied): for counting characters."""
        return "".join(run.text for run in self.text_runs)


def plain_text_document(text: str) -> SsmlDocument:
    """Wrap plain input as a document with one run over the whole input (offsets as for SSML)."""
    if not text:
        return SsmlDocument(items=(), source=text, is_ssml=False)
    run = TextRun(text=text, start=0, end=len(text.encode()))
    return SsmlDocument(items=(run,), source=text, is_ssml=False)

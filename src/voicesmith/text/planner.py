"""From what the user wrote to what the voice says: SSML or text -> planned utterances of words.

The plan keeps, for every spoken word, the byte span of the input it came from, so speech marks can
point back at the input. The steps, per text run of the SSML document (plain text is one run):

1. cut the run into sentences (abbreviation-aware); a sentence without closing punctuation continues
   into the next run;
2. find lexicon graphemes in the raw words (Polly matches lexicons on the text as written); an alias is
   normalised in place of the words it replaces, a pronunciation is used as is;
3. normalise the rest (numbers, dates, units ... via :mod:`voicesmith.text.normalize`), or apply the
   run's ``say-as``, ``sub`` or ``phoneme``;
4. group the words into utterances: a new one starts at each sentence end, break, bleep, and where
   pitch, effects, emotion or language change (they are rendered on the audio of a whole utterance,
   and travel on it as :class:`~voicesmith.text.ssml.Prosody` and :class:`~voicesmith.text.ssml.Effects`).
   Rate, volume and max-duration change per word inside an utterance (on each :class:`PlannedWord`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from voicesmith.text.lexicon import Lexicon, apply_lexicons, simple_tokens
from voicesmith.text.normalize import Token, byte_offsets, normalize, say_as
from voicesmith.text.phonemes import ipa_to_voice_phonemes
from voicesmith.text.sentences import split_sentences
from voicesmith.text.ssml import (
    SILENT_DB,
    Break,
    Breath,
    Effects,
    EmotionSpec,
    Mark,
    ParagraphBoundary,
    Prosody,
    SentenceBoundary,
    SsmlDocument,
    SsmlItem,
    TextRun,
    TextStyle,
)

_CLOSING = re.compile(r"[.!?…][\"'”’»›)\]}]*$")
_EMPHASIS = {"strong": (0.85, 3.0), "moderate": (0.92, 1.5), "reduced": (1.1, -3.0)}
"""emphasis level -> (rate multiplier, gain dB)."""


@dataclass
class PlannedWord:
    """A word to speak, where it came from, and how."""

    text: str
    start: int
    end: int
    """UTF-8 byte span in the input (all words read from "$5.20" share its span)."""
    phonemes: tuple[str, ...] | None = None
    punctuation: str = ""
    rate: float = 1.0
    """Speaking-rate multiplier for this word (prosody rate x emphasis)."""
    gain_db: float = 0.0
    """Volume for this word (prosody volume + emphasis); -inf is silent."""
    max_duration: tuple[int, int] | None = None
    """``(budget_ms, region_id)`` of an enclosing ``amazon:max-duration``."""
    marks: list[Mark] = field(default_factory=list)
    """SSML marks right before this word."""

    @property
    def gain(self) -> float:
        """The linear gain of :attr:`gain_db` (0 for silent)."""
        return 0.0 if self.gain_db == SILENT_DB or math.isinf(self.gain_db) else 10 ** (self.gain_db / 20)


@dataclass(frozen=True)
class Tone:
    """A bleep (say-as expletive) in place of a word."""

    seconds: float
    start: int
    end: int


@dataclass
class PlannedUtterance:
    """Words spoken as one piece of audio: one encoder pass, one pitch, one set of effects."""

    words: list[PlannedWord]
    sentence: int
    """Index of the sentence it belongs to (several utterances can make one sentence)."""
    sentence_span: tuple[int, int]
    silence_before: float = 0.0
    """Seconds of silence before it (breaks, a paragraph's pause)."""
    breaths_before: int = 0
    """``amazon:breath`` sounds at the end of that silence."""
    tone: Tone | None = None
    """A bleep instead of words."""
    prosody: Prosody = field(default_factory=Prosody)
    """The part of the SSML prosody rendered on the whole utterance: its pitch. Rate, volume and
    max-duration change word by word (on each :class:`PlannedWord`) and are left at their defaults."""
    effects: Effects = field(default_factory=Effects)
    """The SSML effects and emotion in force. ``amazon:domain`` and ``amazon:auto-breaths`` are
    accepted and not rendered, so they are left out (None)."""
    lang: str | None = None
    """The innermost ``xml:lang``: foreign words are phonemised in that language."""
    trailing_marks: list[Mark] = field(default_factory=list)
    """SSML marks after the last word of the input."""

    @property
    def emotion(self) -> EmotionSpec | None:
        """The SSML emotion (``amazon:emotion``, ``mstts:express-as``) of the utterance, if any."""
        return self.effects.emotion


def _rendered_style(style: TextStyle) -> tuple[Prosody, Effects, str | None]:
    """What a run's style says about the audio of a whole utterance (words that differ in it are
    spoken as separate utterances): pitch, effects and emotion, language."""
    prosody = Prosody(pitch_semitones=style.prosody.pitch_semitones, pitch_hz=style.prosody.pitch_hz)
    effects = replace(style.effects, domain=None, auto_breaths=None)
    return prosody, effects, style.lang


@dataclass
class _Builder:
    document: SsmlDocument
    language: str
    lexicons: Sequence[Lexicon]
    voice_phonemes: Mapping[str, Sequence[int]]
    espeak_voice: str
    utterances: list[PlannedUtterance] = field(default_factory=list)
    current: PlannedUtterance | None = None
    current_style: tuple[Prosody, Effects, str | None] | None = None
    sentence: int = 0
    sentence_open: bool = False
    pending_silence: float = 0.0
    pending_breaths: int = 0
    pending_marks: list[Mark] = field(default_factory=list)
    sentence_spans: dict[int, list[int]] = field(default_factory=dict)

    # -- utterance bookkeeping ----------------------------------------------------------------------------

    def end_sentence(self) -> None:
        self.close_utterance()
        if self.sentence_open:
            self.sentence += 1
        self.sentence_open = False

    def close_utterance(self) -> None:
        if self.current is not None and (self.current.words or self.current.tone):
            self.utterances.append(self.current)
        self.current = None
        self.current_style = None

    def utterance_for(self, style: TextStyle, span_start: int) -> PlannedUtterance:
        rendered = _rendered_style(style)
        if self.current is not None and rendered == self.current_style and self.current.tone is None:
            return self.current
        self.close_utterance()
        if not self.sentence_open:
            self.sentence_open = True
        prosody, effects, lang = rendered
        self.current = PlannedUtterance(
            words=[],
            sentence=self.sentence,
            sentence_span=(span_start, span_start),
            silence_before=self.pending_silence,
            breaths_before=self.pending_breaths,
            prosody=prosody,
            effects=effects,
            lang=lang,
        )
        self.current_style = rendered
        self.pending_silence = 0.0
        self.pending_breaths = 0
        return self.current

    def add_word(self, word: PlannedWord, style: TextStyle) -> None:
        utterance = self.utterance_for(style, word.start)
        word.marks, self.pending_marks = self.pending_marks, []
        utterance.words.append(word)

    def add_punctuation(self, mark: str) -> None:
        if self.current is not None and self.current.words:
            last = self.current.words[-1]
            last.punctuation += mark

    def add_tone(self, tone: Tone, style: TextStyle) -> None:
        self.close_utterance()
        utterance = self.utterance_for(style, tone.start)
        utterance.tone = tone
        self.close_utterance()

    def touch_sentence(self, start: int, end: int) -> None:
        """The current sentence covers ``start..end`` of the input (punctuation included)."""
        span = self.sentence_spans.setdefault(self.sentence, [start, end])
        span[0], span[1] = min(span[0], start), max(span[1], end)

    # -- items --------------------------------------------------------------------------------------------

    def run(self, run: TextRun) -> None:
        style = run.style
        if style.sub_alias is not None or style.phoneme is not None or style.say_as is not None:
            if run.text.strip():
                self.touch_sentence(run.start, run.end)
        if style.sub_alias is not None:
            self.words_from_tokens(normalize(style.sub_alias, self.language), style, (run.start, run.end))
            return
        if style.phoneme is not None:
            phonemes = ipa_to_voice_phonemes(
                style.phoneme.ipa, self.voice_phonemes, language=self.espeak_voice
            )
            word = PlannedWord(run.text.strip(), run.start, run.end, phonemes=tuple(phonemes))
            self.add_word(self.styled(word, style), style)
            return
        if style.say_as is not None:
            sa = style.say_as
            tokens = say_as(run.text, sa.interpret_as, sa.format, sa.detail, self.language)
            self.words_from_tokens(tokens, style, (run.start, run.end))
            return
        for sentence in split_sentences(run.text, self.language):
            self.touch_sentence(*run.byte_span(sentence.start, sentence.end))
            self.text_piece(run, sentence.text, sentence.start, style)
            if _CLOSING.search(sentence.text):
                self.end_sentence()

    def text_piece(self, run: TextRun, text: str, char_start: int, style: TextStyle) -> None:
        """Normalise ``text`` (chars ``char_start...`` of the run), lexicons first."""
        matches = (
            apply_lexicons(simple_tokens(text), self.lexicons, language=self.language)
            if self.lexicons
            else []
        )
        cursor = 0
        for match in matches:
            if match.entry is None:
                continue
            self.normalized(run, text[cursor : match.start], char_start + cursor, style)
            span = run.byte_span(char_start + match.start, char_start + match.end)
            entry = match.entry
            if entry.alias is not None:
                self.words_from_tokens(normalize(entry.alias, self.language), style, span)
            else:
                phonemes = ipa_to_voice_phonemes(entry.ipa, self.voice_phonemes, language=self.espeak_voice)
                self.add_word(
                    self.styled(PlannedWord(match.text, *span, phonemes=tuple(phonemes)), style), style
                )
            cursor = match.end
        self.normalized(run, text[cursor:], char_start + cursor, style)

    def normalized(self, run: TextRun, text: str, char_start: int, style: TextStyle) -> None:
        if not text.strip():
            return
        char_of_byte = {b: c for c, b in enumerate(byte_offsets(text))}
        for token in normalize(text, self.language):
            span = run.byte_span(char_start + char_of_byte[token.start], char_start + char_of_byte[token.end])
            self.token(token.kind, token.text, span, style, run)

    def words_from_tokens(self, tokens: Iterable[Token], style: TextStyle, span: tuple[int, int]) -> None:
        """Tokens whose own spans do not point into the input (alias, say-as): all take ``span``."""
        for token in tokens:
            self.token(token.kind, token.text, span, style, None)

    def token(
        self, kind: str, text: str, span: tuple[int, int], style: TextStyle, run: TextRun | None
    ) -> None:
        if kind == "punct":
            self.add_punctuation(text)
        elif kind == "bleep":
            seconds = min(2.0, max(0.3, 0.08 * max(1, span[1] - span[0])))
            self.add_tone(Tone(seconds, *span), style)
        elif text.strip():
            phonemes = None
            if text == "A" and span[1] - span[0] > 1 and self.espeak_voice.startswith("en"):
                # A spelled letter (from "USA", say-as characters): espeak-ng would read the article.
                phonemes = ("ˈ", "e", "ɪ")
            self.add_word(self.styled(PlannedWord(text, *span, phonemes=phonemes), style), style)

    @staticmethod
    def styled(word: PlannedWord, style: TextStyle) -> PlannedWord:
        prosody = style.prosody
        rate, gain = prosody.rate, prosody.volume_db
        if style.emphasis in _EMPHASIS:
            emphasis_rate, emphasis_gain = _EMPHASIS[style.emphasis]
            rate *= emphasis_rate
            gain = gain + emphasis_gain if gain != SILENT_DB else gain
        word.rate = rate
        word.gain_db = gain
        if prosody.max_duration_ms is not None:
            word.max_duration = (prosody.max_duration_ms, prosody.max_duration_id or 0)
        return word

    def item(self, item: SsmlItem) -> None:
        if isinstance(item, TextRun):
            self.run(item)
        elif isinstance(item, Break):
            if item.time_ms > 0 or item.strength not in ("none", None):
                self.close_utterance()
                self.pending_silence += item.time_ms / 1000.0
        elif isinstance(item, Mark):
            self.pending_marks.append(item)
        elif isinstance(item, Breath):
            self.close_utterance()
            self.pending_breaths += 1
        elif isinstance(item, (SentenceBoundary, ParagraphBoundary)):
            self.end_sentence()
            if isinstance(item, ParagraphBoundary) and not item.opening:
                self.pending_silence = max(self.pending_silence, 0.3)


def plan_document(
    document: SsmlDocument,
    *,
    language: str,
    lexicons: Sequence[Lexicon] = (),
    voice_phonemes: Mapping[str, Sequence[int]],
    espeak_voice: str,
) -> list[PlannedUtterance]:
    """The utterances of ``document`` in order, with sentence indices and source spans.

    ``language`` (BCP-47) chooses the normalisation rules; ``voice_phonemes`` (the voice's phoneme ->
    ids map) and ``espeak_voice`` are what ``<phoneme>`` and lexicon pronunciations are mapped onto.
    Over-long utterances are cut (:func:`split_long`).
    """
    builder = _Builder(document, language, lexicons, voice_phonemes, espeak_voice)
    for item in document:
        builder.item(item)
    builder.end_sentence()
    utterances = builder.utterances
    if builder.pending_marks:
        if utterances:
            utterances[-1].trailing_marks.extend(builder.pending_marks)
    for utterance in utterances:
        if utterance.sentence in builder.sentence_spans:
            utterance.sentence_span = tuple(builder.sentence_spans[utterance.sentence])  # type: ignore[assignment]
    return [part for utterance in utterances for part in split_long(utterance)]


MAX_UTTERANCE_CHARACTERS = 200
"""Longer utterances are cut at a phrase boundary. The text encoder's cost grows with the square of
the length (0.11 s for a 15 s sentence on 2 cores): a cut keeps the first audio early, and the memory
bounded, whatever the input."""
_PHRASE_STARTERS = frozenset(
    "and but or nor so yet because although while when where which who that whose whom if unless until "
    "after before since than as to for with without from into onto over under through during about "
    "against between the a an his her their its our my your this these those".split()
)


def split_long(utterance: PlannedUtterance, limit: int = MAX_UTTERANCE_CHARACTERS) -> list[PlannedUtterance]:
    """Cut an over-long utterance where a speaker would breathe: at punctuation, else before a phrase
    starter (conjunction, preposition, article), nearest the middle; recursively until all fit."""
    words = utterance.words
    size = sum(len(w.text) + 1 for w in words)
    if utterance.tone is not None or size <= limit or len(words) < 4:
        return [utterance]
    lengths = [len(w.text) + 1 for w in words]
    middle, position, best = size / 2, 0, None
    for index in range(1, len(words) - 1):
        position += lengths[index - 1]
        score = abs(position - middle) / size
        if words[index - 1].punctuation and words[index - 1].punctuation[-1] in ",;:":
            score -= 0.5
        elif words[index].text.lower() in _PHRASE_STARTERS:
            score -= 0.25
        if best is None or score < best[0]:
            best = (score, index)
    cut = best[1] if best else len(words) // 2
    first_words, rest_words = words[:cut], words[cut:]
    if not first_words[-1].punctuation:
        first_words[-1].punctuation = ","  # a phrase end, not a sentence end, before the cut
    first = replace(utterance, words=first_words, trailing_marks=[])
    rest = replace(utterance, words=rest_words, silence_before=0.0, breaths_before=0)
    return split_long(first, limit) + split_long(rest, limit)

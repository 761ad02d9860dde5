"""The synthesis API every surface (CLI, Polly, OpenAI, tasks) calls: text in, streamed audio out.

``Synthesizer.stream`` yields :class:`AudioChunk` objects as soon as audio exists: the first sentence's
first window is short so the first audio comes early whatever the input, later windows are long so the
whole costs about what piper costs. Durations are known before any audio, so the speech marks of an
utterance travel on its first chunk, and ``speech_marks`` gives the same marks without decoding audio.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voicesmith.engine import synthetic_audio
from voicesmith.engine.bundled import BUNDLED_VOICE_ID
from voicesmith.engine.catalog import VoiceCatalog, VoiceInfo
from voicesmith.engine.marks import MARK_TYPES, SpeechMark, sort_marks
from voicesmith.engine.model import Prior, VoiceModel, VoiceParams
from voicesmith.engine.phonemize import WordInput, phonemize_words
from voicesmith.engine.planner import PlannedUtterance, plan_document, word_gain
from voicesmith.engine.render import UtteranceRendering, rendering_for
from voicesmith.errors import AudioDurationExceededError, TextLengthExceededError, ValidationError
from voicesmith.settings import Settings
from voicesmith.text.ssml import parse_ssml, plain_text_document
from voicesmith.text.unicode import check_text

_LOGGER = logging.getLogger(__name__)

FIRST_WINDOW_FRAMES = 32
"""Frames in the first decoded window of a stream (~0.37 s of audio for a 22.05 kHz voice)."""
SPOKEN_SECONDS_PER_CHARACTER = 0.15
"""A generous estimate of speech per character at rate 1 (joe: ~0.07): a request whose estimate stays
under its audio limit is not measured exactly before it streams (the stream still stops at the limit)."""
_SPEAKER_ID = re.compile(r"[0-9]{1,6}")


@dataclass(frozen=True)
class SynthesisRequest:
    """One synthesis call. Rate and volume follow Polly's prosody: rate 0.5 is half speed."""

    text: str
    voice: str = BUNDLED_VOICE_ID
    text_type: str = "text"
    """``text`` or ``ssml`` (Amazon Polly's SSML dialect)."""
    rate: float = 1.0
    """Speaking-rate multiplier, 0.2-4.0 (2.0 = twice as fast); scales the voice's own length scale."""
    volume_db: float = 0.0
    """Gain in dB, -60..+20."""
    noise_scale: float | None = None
    noise_w: float | None = None
    speaker: str | int | None = None
    """Speaker name or id of a multi-speaker voice."""
    seed: int = 0
    """Noise seed: the same request with the same seed always gives the same audio and marks."""
    emotion: str | None = None
    """An emotion for the whole text (``angry``, ``happy``, ``sad``, ``surprise``, ``neutral``, ``auto``);
    SSML ``amazon:emotion`` inside the text wins where it applies."""
    intensity: float = 1.0
    """Emotion strength 0-2."""
    lexicons: Sequence[object] = field(default_factory=tuple)
    """Parsed :class:`voicesmith.text.lexicon.Lexicon` objects, applied in order."""
    max_audio_seconds: float | None = None
    """The longest audio this request may make (breaks and pauses included); None: the synthesizer's
    ``max_speech_audio_seconds`` setting. Checked when the request is planned, before any audio."""

    def validate(self, max_characters: int) -> None:
        if isinstance(self.text, str):
            check_text(self.text)
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValidationError("text is empty: give at least one word to speak")
        if len(self.text) > max_characters:
            raise TextLengthExceededError(
                f"text is {len(self.text)} characters; the limit is {max_characters}"
            )
        if self.text_type not in ("text", "ssml"):
            raise ValidationError(f"text type {self.text_type!r} is not one of: text, ssml")
        if not 0.2 <= self.rate <= 4.0:
            raise ValidationError(f"rate {self.rate} is out of range 0.2-4.0")
        if not -60.0 <= self.volume_db <= 20.0:
            raise ValidationError(f"volume {self.volume_db} dB is out of range -60..+20")
        if not 0.0 <= self.intensity <= 2.0:
            raise ValidationError(f"emotion intensity {self.intensity} is out of range 0-2")
        for name, value in (("noise_scale", self.noise_scale), ("noise_w", self.noise_w)):
            if value is not None and not 0.0 <= value <= 2.0:
                raise ValidationError(f"{name} {value} is out of range 0-2")


@dataclass(frozen=True)
class PhonemeTiming:
    """When one phoneme is spoken, in samples from the start of the stream."""

    phoneme: str
    start: int
    samples: int


@dataclass
class AudioChunk:
    """A piece of the output stream."""

    audio: np.ndarray
    """float32 mono in [-1, 1]."""
    sample_rate: int
    offset: int
    """Index of this chunk's first sample in the whole stream."""
    utterance: int
    """Index of the utterance this chunk belongs to."""
    phonemes: list[PhonemeTiming] = field(default_factory=list)
    """Timings of the whole utterance, on its first chunk only."""
    marks: list[SpeechMark] = field(default_factory=list)
    """Speech marks of the whole utterance (all four types), on its first chunk only."""
    emotion: str | None = None
    """The emotion the utterance was rendered with (None: neutral, no emotion asked)."""


@dataclass
class SynthesisResult:
    """A whole synthesis: audio and what was said when."""

    audio: np.ndarray
    sample_rate: int
    phonemes: list[PhonemeTiming]
    marks: list[SpeechMark] = field(default_factory=list)
    emotions: list[str | None] = field(default_factory=list)
    """The emotion of each utterance, in order."""

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate

    def write(self, path: str | Path, sample_rate: int | None = None) -> None:
        """Write the audio to a file, the format taken from its extension."""
        from voicesmith.audio.encode import encode
        from voicesmith.audio.formats import format_for_path

        fmt = format_for_path(Path(path))
        Path(path).write_bytes(encode(self.audio, self.sample_rate, fmt.name, sample_rate))


@dataclass
class _Plan:
    request: SynthesisRequest
    info: VoiceInfo
    model: VoiceModel
    params: VoiceParams
    utterances: list[PlannedUtterance]
    source: bytes
    renderings: list[UtteranceRendering]

    @property
    def sentence_emotions(self) -> list[str]:
        """The emotion each sentence is spoken with (``neutral`` where none was asked)."""
        seen: dict[int, str] = {}
        for utterance, rendering in zip(self.utterances, self.renderings, strict=True):
            seen.setdefault(utterance.sentence, rendering.emotion or "neutral")
        return [seen[k] for k in sorted(seen)]


@dataclass
class _Prepared:
    """An utterance with its durations known and its place in the stream fixed; no audio yet."""

    index: int
    offset: int
    """Stream position of the utterance's first sample (silence before it included)."""
    lead: int
    """Samples of silence/breath before the voice starts."""
    samples: int
    """Samples of voice (or tone)."""
    rendering: UtteranceRendering
    prior: Prior | None
    timings: list[PhonemeTiming]
    marks: list[SpeechMark]
    word_samples: list[tuple[int, int, float]]
    """(start, end, linear gain) per word whose gain is not 1, stream positions."""


def _utterance_seed(request_seed: int, voice_id: str, ids: Sequence[int]) -> int:
    """The same phonemes with the same request seed draw the same noise, in any process."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{request_seed}|{voice_id}|".encode())
    digest.update(np.asarray(ids, dtype=np.int32).tobytes())
    return int.from_bytes(digest.digest(), "little")


def _ms(samples: int, rate: int) -> int:
    return int(round(samples * 1000 / rate))


class SynthesisStream:
    """A planned request: what it will say, and its audio chunks as they are made (iterate once)."""

    def __init__(self, plan: _Plan, chunks: Iterator[AudioChunk]) -> None:
        self._plan = plan
        self._chunks = chunks

    @property
    def sample_rate(self) -> int:
        return self._plan.model.sample_rate

    @property
    def sentence_emotions(self) -> list[str]:
        """The emotion each sentence is spoken with, in order (``neutral`` where none was asked)."""
        return self._plan.sentence_emotions

    def __iter__(self) -> Iterator[AudioChunk]:
        return self._chunks


class Synthesizer:
    """Speaks text with the catalog's voices. Thread-safe; share one per process."""

    def __init__(self, settings: Settings | None = None, catalog: VoiceCatalog | None = None) -> None:
        self.settings = settings or (catalog.settings if catalog else Settings())
        self.catalog = catalog or VoiceCatalog(self.settings)

    def voices(self) -> list[VoiceInfo]:
        return self.catalog.list()

    # -- planning -------------------------------------------------------------------------------------------

    def _params(self, request: SynthesisRequest, info: VoiceInfo, model: VoiceModel) -> VoiceParams:
        speaker_id = None
        if request.speaker is not None:
            if isinstance(request.speaker, int) or _SPEAKER_ID.fullmatch(str(request.speaker)):
                speaker_id = int(request.speaker)
            elif request.speaker in info.speakers:
                speaker_id = info.speakers[str(request.speaker)]
            else:
                known = ", ".join(info.speakers) or "none (single-speaker voice)"
                raise ValidationError(
                    f"voice {info.id!r} has no speaker {request.speaker!r}; speakers: {known}"
                )
        return VoiceParams(
            length_scale=model.length_scale / request.rate,
            noise_scale=request.noise_scale,
            noise_w=request.noise_w,
            speaker_id=speaker_id,
        )

    def _plan(self, request: SynthesisRequest) -> _Plan:
        request.validate(self.settings.max_input_characters)
        info = self.catalog.get(request.voice)
        model = self.catalog.load(request.voice)
        params = self._params(request, info, model)
        document = (
            parse_ssml(request.text) if request.text_type == "ssml" else plain_text_document(request.text)
        )
        utterances = plan_document(
            document,
            language=info.language,
            lexicons=list(request.lexicons),  # type: ignore[arg-type]
            voice_phonemes=dict(model.phoneme_id_map),
            espeak_voice=model.espeak_voice,
        )
        if not any(u.words or u.tone for u in utterances):
            raise ValidationError("the text has nothing that can be spoken")
        styles = {
            emotion: info.speakers[name] for emotion, name in info.styles.items() if name in info.speakers
        }
        aliases = {
            "disgust_as": self.settings.emotion_disgust_as,
            "fear_as": self.settings.emotion_fear_as,
            "lexicon": self.settings.emotion_lexicon,
        }
        renderings = rendering_for(utterances, request, styles, model.blends_styles, aliases)
        return _Plan(request, info, model, params, utterances, request.text.encode(), renderings)

    def audio_limit(self, request: SynthesisRequest) -> float:
        """Seconds of audio ``request`` may make at most."""
        limit = request.max_audio_seconds
        return self.settings.max_speech_audio_seconds if limit is None else limit

    def _check_duration(self, plan: _Plan) -> None:
        """Refuse, before any audio, a request that would make more than its limit of audio.

        Silence (breaks, paragraph pauses, breaths) and bleeps are known from the plan alone. Speech is
        estimated generously from its characters and rates; only a request whose estimate is over the
        limit has its exact duration measured (the encoder's durations, no audio decoded) first.
        """
        limit = self.audio_limit(plan.request)
        silent = sum(
            u.silence_before + u.breaths_before * 0.35 + (u.tone.seconds if u.tone else 0.0)
            for u in plan.utterances
        )
        if silent > limit:
            raise self._too_long(silent, limit, silent)
        estimate = silent + sum(
            SPOKEN_SECONDS_PER_CHARACTER
            * (len(word.text) + 1)
            / (word.rate * rendering.rate * plan.request.rate)
            for utterance, rendering in zip(plan.utterances, plan.renderings, strict=True)
            for word in utterance.words
        )
        if estimate <= limit:
            return
        rate, end = plan.model.sample_rate, 0
        for prepared in self._prepare(plan):
            end = prepared.offset + prepared.lead + prepared.samples
            if end > limit * rate:
                raise self._too_long(end / rate, limit, silent, at_least=True)

    @staticmethod
    def _too_long(
        seconds: float, limit: float, silent: float | None, at_least: bool = False
    ) -> AudioDurationExceededError:
        of_it = f" ({silent:.0f} s of it breaks and pauses)" if silent else ""
        return AudioDurationExceededError(
            f"the request would make {'more than ' if at_least else ''}{seconds:.0f} s of audio{of_it}; "
            f"the limit is {limit:g} s: shorten the breaks or split the text (operators: the "
            "max_speech_audio_seconds and max_task_audio_seconds settings)"
        )

    def _prepare(self, plan: _Plan) -> Iterator[_Prepared]:
        """Durations, timings and marks of each utterance, in order, without decoding audio."""
        model, rate, hop = plan.model, plan.model.sample_rate, plan.model.hop_length
        offset = 0
        sentence_seen: set[int] = set()
        for index, (utterance, rendering) in enumerate(zip(plan.utterances, plan.renderings, strict=True)):
            lead = int(round(utterance.silence_before * rate)) + utterance.breaths_before * int(0.35 * rate)
            start = offset + lead
            marks: list[SpeechMark] = []
            if utterance.sentence not in sentence_seen:
                sentence_seen.add(utterance.sentence)
                s, e = utterance.sentence_span
                marks.append(
                    SpeechMark(
                        _ms(start, rate),
                        "sentence",
                        s,
                        e,
                        self._source(plan, s, e),
                        emotion=rendering.emotion,
                    )
                )
            if utterance.tone is not None:
                samples = int(round(utterance.tone.seconds * rate))
                tone = utterance.tone
                marks.append(
                    SpeechMark(
                        _ms(start, rate),
                        "word",
                        tone.start,
                        tone.end,
                        self._source(plan, tone.start, tone.end),
                    )
                )
                marks.append(SpeechMark(_ms(start, rate), "viseme", 0, 0, "sil"))
                yield _Prepared(index, offset, lead, samples, rendering, None, [], marks, [])
                offset = start + samples
                continue
            words = utterance.words
            phonemized = phonemize_words(
                [WordInput(w.text, w.phonemes, w.punctuation) for w in words],
                lambda text, lang=utterance.lang: model.phonemize(text, lang),
            )
            ids, spans = model.phoneme_ids(phonemized.phonemes)
            seed = _utterance_seed(plan.request.seed, plan.info.id, ids)
            params = rendering.params(plan.params)
            scales = self._duration_scales(words, phonemized.word_ranges, spans, len(ids), rendering.rate)
            prior = model.encode(ids, params, seed, duration_scales=scales)
            for _ in range(3):  # Ceil() rounds every id up: a few passes bring a region within its budget
                budget_scales = self._max_duration_scales(
                    words, phonemized.word_ranges, spans, prior, hop, rate
                )
                if budget_scales is None:
                    break
                scales = scales * budget_scales
                prior = model.encode(ids, params, seed, duration_scales=scales)
            cumulative = np.concatenate([[0], np.cumsum(prior.frames_per_id)]) * hop
            timings = [
                PhonemeTiming(p, start + int(cumulative[a]), int(cumulative[b] - cumulative[a]))
                for p, (a, b) in zip(phonemized.phonemes, spans, strict=True)
            ]
            word_samples = []
            previous_span = None
            for word, (a, b) in zip(words, phonemized.word_ranges, strict=True):
                first = timings[a].start if a < len(timings) else start
                end = timings[b - 1].start + timings[b - 1].samples if b > a else first
                for mark in word.marks:
                    marks.append(SpeechMark(_ms(first, rate), "ssml", mark.start, mark.end, mark.name))
                if (word.start, word.end) != previous_span:
                    marks.append(
                        SpeechMark(
                            _ms(first, rate),
                            "word",
                            word.start,
                            word.end,
                            self._source(plan, word.start, word.end),
                        )
                    )
                previous_span = (word.start, word.end)
                gain = word_gain(word.gain_db)
                if gain != 1.0:
                    word_samples.append((first, end, gain))
            marks.extend(self._visemes(timings, rate, final=index == len(plan.utterances) - 1))
            samples = prior.num_frames * hop
            for mark in utterance.trailing_marks:
                marks.append(SpeechMark(_ms(start + samples, rate), "ssml", mark.start, mark.end, mark.name))
            yield _Prepared(index, offset, lead, samples, rendering, prior, timings, marks, word_samples)
            offset = start + samples

    @staticmethod
    def _source(plan: _Plan, start: int, end: int) -> str:
        return plan.source[start:end].decode("utf-8", errors="replace")

    @staticmethod
    def _duration_scales(words, word_ranges, spans, count: int, utterance_rate: float) -> np.ndarray:
        """Duration factor per phoneme id. Each id takes the rate of the word it belongs to or follows
        (the pause after a word goes at that word's rate; ids before the first word at the first
        word's), so a ``<prosody rate>`` region scales as a whole, its pauses included."""
        rates = np.ones(count, dtype=np.float64)
        first = True
        for word, (a, b) in zip(words, word_ranges, strict=True):
            if b > a:
                rates[0 if first else spans[a][0] :] = word.rate
                first = False
        return (1.0 / (utterance_rate * rates)).astype(np.float32)

    @staticmethod
    def _max_duration_scales(
        words, word_ranges, spans, prior: Prior, hop: int, rate: int
    ) -> np.ndarray | None:
        """``amazon:max-duration``: shorten a region (its words and the pauses between them) that runs
        over its budget; None when every region fits."""
        regions: dict[int, list[int]] = {}
        for word, (a, b) in zip(words, word_ranges, strict=True):
            if word.max_duration is None or b <= a:
                continue
            budget, region = word.max_duration
            entry = regions.setdefault(region, [budget, spans[a][0], spans[b - 1][1]])
            entry[1], entry[2] = min(entry[1], spans[a][0]), max(entry[2], spans[b - 1][1])
        scales = np.ones(len(prior.frames_per_id), dtype=np.float32)
        changed = False
        for budget, first, last in regions.values():
            spoken_ms = int(prior.frames_per_id[first:last].sum()) * hop * 1000 / rate
            if spoken_ms > budget > 0:
                changed = True
                scales[first:last] *= budget / spoken_ms
        return scales if changed else None

    @staticmethod
    def _visemes(timings: list[PhonemeTiming], rate: int, final: bool = False) -> list[SpeechMark]:
        from voicesmith.engine.marks import visemes

        out = visemes([(t.phoneme, t.start, t.samples) for t in timings], final=final)
        return [SpeechMark(_ms(start, rate), "viseme", 0, 0, viseme) for viseme, start, _ in out]

    # -- audio ----------------------------------------------------------------------------------------------

    def open(self, request: SynthesisRequest) -> SynthesisStream:
        """Plan ``request`` now (bad input raises here, a request over its audio limit too) and return
        its audio stream, not yet made."""
        plan = self._plan(request)
        self._check_duration(plan)
        return SynthesisStream(plan, self._stream_plan(plan))

    def stream(self, request: SynthesisRequest) -> Iterator[AudioChunk]:
        """Audio as it is made, utterance by utterance, window by window."""
        return iter(self.open(request))

    def _stream_plan(self, plan: _Plan) -> Iterator[AudioChunk]:
        request = plan.request
        rate = plan.model.sample_rate
        volume = np.float32(10 ** (request.volume_db / 20))
        window = self.settings.stream_window_frames
        block = window * plan.model.hop_length
        limit = self.audio_limit(request)
        for prepared in self._prepare(plan):
            emotion = prepared.rendering.emotion
            end = prepared.offset + prepared.lead + prepared.samples
            if end > limit * rate:  # the estimate in _check_duration let it through: stop here
                raise self._too_long(end / rate, limit, None, at_least=True)
            first = True
            position = prepared.offset
            utterance = plan.utterances[prepared.index]
            for lead in synthetic_audio.lead_blocks(utterance, rate, prepared.lead, block):
                yield AudioChunk(
                    lead,
                    rate,
                    position,
                    prepared.index,
                    prepared.timings if first else [],
                    prepared.marks if first else [],
                    emotion,
                )
                first = False
                position += len(lead)
            for audio in self._utterance_audio(plan, prepared, window):
                audio = np.clip(audio * volume, -1.0, 1.0).astype(np.float32, copy=False)
                yield AudioChunk(
                    audio,
                    rate,
                    position,
                    prepared.index,
                    prepared.timings if first else [],
                    prepared.marks if first else [],
                    emotion,
                )
                first = False
                position += len(audio)

    def _utterance_audio(self, plan: _Plan, prepared: _Prepared, window: int) -> Iterator[np.ndarray]:
        model, rate = plan.model, plan.model.sample_rate
        utterance = plan.utterances[prepared.index]
        if prepared.prior is None:  # a bleep
            yield synthetic_audio.tone(utterance.tone.seconds, rate)  # type: ignore[union-attr]
            return
        transform = prepared.rendering.transform
        start = prepared.offset + prepared.lead
        if transform.is_identity:  # window by window, per-word gains too: memory bounded by the window
            first_window = FIRST_WINDOW_FRAMES if prepared.index == 0 else None
            position = start
            for audio in model.decode_windows(prepared.prior, first_window, window):
                for word_start, word_end, gain in prepared.word_samples:
                    synthetic_audio.apply_gain(audio, word_start, word_end, gain, rate, origin=position)
                position += len(audio)
                yield audio
            return
        # Effects need the whole utterance (WORLD analyses it as one); an utterance is at most
        # planner.MAX_UTTERANCE_CHARACTERS long, so this is bounded too (~75 s at the slowest rate).
        audio = np.concatenate(list(model.decode_windows(prepared.prior, None, window)))
        for word_start, word_end, gain in prepared.word_samples:
            synthetic_audio.apply_gain(audio, word_start, word_end, gain, rate, origin=start)
        yield transform.apply(audio, rate)

    def synthesize(self, request: SynthesisRequest) -> SynthesisResult:
        """The whole audio of a request at once."""
        chunks = list(self.stream(request))
        rate = chunks[0].sample_rate
        audio = np.concatenate([c.audio for c in chunks])
        emotions: dict[int, str | None] = {}
        for chunk in chunks:
            emotions.setdefault(chunk.utterance, chunk.emotion)
        return SynthesisResult(
            audio=audio,
            sample_rate=rate,
            phonemes=[t for c in chunks for t in c.phonemes],
            marks=sort_marks(m for c in chunks for m in c.marks),
            emotions=[emotions[k] for k in sorted(emotions)],
        )

    def speech_marks(
        self, request: SynthesisRequest, types: Collection[str] = MARK_TYPES
    ) -> list[SpeechMark]:
        """Polly's speech marks for ``request``: the same times as its audio, without making the audio."""
        wanted = set(types)
        unknown = wanted - set(MARK_TYPES)
        if unknown:
            raise ValidationError(f"unknown speech mark types {sorted(unknown)}: use {', '.join(MARK_TYPES)}")
        plan = self._plan(request)
        return sort_marks(m for p in self._prepare(plan) for m in p.marks if m.type in wanted)

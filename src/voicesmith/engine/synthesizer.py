"""The synthesis API every surface (CLI, Polly, OpenAI, tasks) calls: text in, streamed audio out.

``Synthesizer.stream`` yields :class:`AudioChunk` objects as soon as audio exists: the first sentence's
first window is short so the first audio comes early whatever the input, later windows are long so the
whole costs about what piper costs. Durations are known before any audio, so the speech marks of an
utterance travel on its first chunk, and ``speech_marks`` gives the same marks without decoding audio.

The synthesizer is the facade: :mod:`voicesmith.text.planner` turns the request's document into
utterances of words, :mod:`voicesmith.engine.render` chooses how each is rendered, the voice model
(:class:`~voicesmith.engine.model.VoiceModel`) gives their durations, :mod:`voicesmith.engine.timeline`
places them in the stream with their speech marks, and the model decodes the audio window by window.
Its values (request, chunks, result) are in :mod:`voicesmith.engine.requests`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from voicesmith.engine import synthetic_audio
from voicesmith.engine.catalog import VoiceCatalog, VoiceInfo
from voicesmith.engine.marks import MARK_TYPES, SpeechMark, sort_marks
from voicesmith.engine.model import Prior, VoiceModel, VoiceParams
from voicesmith.engine.phonemize import WordInput, phonemize_words
from voicesmith.engine.render import UtteranceRendering, rendering_for
from voicesmith.engine.requests import (
    AudioChunk,
    PreparedUtterance,
    SpokenPhonemes,
    SynthesisRequest,
    SynthesisResult,
)
from voicesmith.engine.timeline import Timeline, duration_scales, max_duration_scales
from voicesmith.errors import AudioDurationExceededError, ValidationError
from voicesmith.settings import Settings
from voicesmith.text.planner import PlannedUtterance, PlannedWord, plan_document

_LOGGER = logging.getLogger(__name__)

FIRST_WINDOW_FRAMES = 16
"""Frames in the first decoded window of a stream (~0.19 s of audio for a 22.05 kHz voice): the first
audio of a long sentence waits for the encoder and this window only (HiFi-GAN over 16 + 12 context frames)."""
SPOKEN_SECONDS_PER_CHARACTER = 0.15
"""A generous estimate of speech per character at rate 1 (joe: ~0.07): a request whose estimate stays
under its audio limit is not measured exactly before it streams (the stream still stops at the limit)."""
_SPEAKER_ID = re.compile(r"[0-9]{1,6}")


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


def _utterance_seed(request_seed: int, voice_id: str, ids: Sequence[int]) -> int:
    """The same phonemes with the same request seed draw the same noise, in any process."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{request_seed}|{voice_id}|".encode())
    digest.update(np.asarray(ids, dtype=np.int32).tobytes())
    return int.from_bytes(digest.digest(), "little")


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


ChunkObserver = Callable[[Iterator[AudioChunk]], Iterator[AudioChunk]]
"""Wraps a stream's chunks and passes them on (counting, timing); see :attr:`Synthesizer.observe`."""


class Synthesizer:
    """Speaks text with the catalog's voices. Thread-safe; share one per process."""

    def __init__(
        self,
        settings: Settings | None = None,
        catalog: VoiceCatalog | None = None,
        observe: ChunkObserver | None = None,
    ) -> None:
        self.settings = settings or (catalog.settings if catalog else Settings())
        self.catalog = catalog or VoiceCatalog(self.settings)
        self.observe = observe
        """Sees every stream's chunks, whichever door asked for it: the server's /metrics count audio
        seconds and compute time here, once for all of them."""

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
        utterances = plan_document(
            request.parsed(),
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
            u.silence_before
            + u.breaths_before * synthetic_audio.BREATH_SECONDS
            + (u.tone.seconds if u.tone else 0.0)
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
        rate = plan.model.sample_rate
        for prepared in self._prepare(plan):
            end = prepared.timeline.end
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

    def _prepare(self, plan: _Plan) -> Iterator[PreparedUtterance]:
        """Durations, timings and marks of each utterance, in order, without decoding audio."""
        model = plan.model
        timeline = Timeline(plan.source, model.sample_rate, model.hop_length, len(plan.utterances))
        for index, (utterance, rendering) in enumerate(zip(plan.utterances, plan.renderings, strict=True)):
            if utterance.tone is not None:
                yield PreparedUtterance(index, timeline.place(utterance, rendering.emotion), rendering, None)
                continue
            spoken = self._spoken(model, utterance)
            prior = self._encode(plan, utterance.words, rendering, spoken)
            placed = timeline.place(utterance, rendering.emotion, spoken, prior.frames_per_id)
            yield PreparedUtterance(index, placed, rendering, prior)

    @staticmethod
    def _spoken(model: VoiceModel, utterance: PlannedUtterance) -> SpokenPhonemes:
        """The utterance's phonemes (the sentence phonemised whole, aligned to its words) and ids."""
        phonemized = phonemize_words(
            [WordInput(w.text, w.phonemes, w.punctuation) for w in utterance.words],
            lambda text, lang=utterance.lang: model.phonemize(text, lang),
        )
        ids, spans = model.phoneme_ids(phonemized.phonemes)
        return SpokenPhonemes(phonemized.phonemes, phonemized.word_ranges, ids, spans)

    @staticmethod
    def _encode(
        plan: _Plan, words: Sequence[PlannedWord], rendering: UtteranceRendering, spoken: SpokenPhonemes
    ) -> Prior:
        """The encoder's durations and prior, seeded by the request, the voice and the phonemes, at the
        words' rates and within their ``amazon:max-duration`` budgets."""
        model = plan.model
        seed = _utterance_seed(plan.request.seed, plan.info.id, spoken.ids)
        params = rendering.params(plan.params)
        scales = duration_scales(words, spoken, rendering.rate)
        prior = model.encode(spoken.ids, params, seed, duration_scales=scales)
        for _ in range(3):  # Ceil() rounds every id up: a few passes bring a region within its budget
            budget_scales = max_duration_scales(
                words, spoken, prior.frames_per_id, model.hop_length, model.sample_rate
            )
            if budget_scales is None:
                break
            scales = scales * budget_scales
            prior = model.encode(spoken.ids, params, seed, duration_scales=scales)
        return prior

    # -- audio ----------------------------------------------------------------------------------------------

    def open(self, request: SynthesisRequest) -> SynthesisStream:
        """Plan ``request`` now (bad input raises here, a request over its audio limit too) and return
        its audio stream, not yet made."""
        plan = self._plan(request)
        self._check_duration(plan)
        chunks = self._stream_plan(plan)
        if self.observe is not None:
            chunks = self.observe(chunks)
        return SynthesisStream(plan, chunks)

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
            timeline = prepared.timeline
            if timeline.end > limit * rate:  # the estimate in _check_duration let it through: stop here
                raise self._too_long(timeline.end / rate, limit, None, at_least=True)
            first = True
            position = timeline.offset
            utterance = plan.utterances[prepared.index]
            for lead in synthetic_audio.lead_blocks(utterance, rate, timeline.lead, block):
                yield AudioChunk(
                    lead,
                    rate,
                    position,
                    prepared.index,
                    timeline.timings if first else [],
                    timeline.marks if first else [],
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
                    timeline.timings if first else [],
                    timeline.marks if first else [],
                    emotion,
                )
                first = False
                position += len(audio)

    def _utterance_audio(self, plan: _Plan, prepared: PreparedUtterance, window: int) -> Iterator[np.ndarray]:
        model, rate = plan.model, plan.model.sample_rate
        utterance = plan.utterances[prepared.index]
        if prepared.prior is None:  # a bleep
            yield synthetic_audio.tone(utterance.tone.seconds, rate)  # type: ignore[union-attr]
            return
        transform = prepared.rendering.transform
        gains = prepared.timeline.word_gains
        if transform.is_identity:  # window by window, per-word gains too: memory bounded by the window
            first_window = FIRST_WINDOW_FRAMES if prepared.index == 0 else None
            position = prepared.timeline.start
            for audio in model.decode_windows(prepared.prior, first_window, window):
                for word in gains:
                    synthetic_audio.apply_gain(audio, word.start, word.end, word.gain, rate, origin=position)
                position += len(audio)
                yield audio
            return
        # Effects need the whole utterance (WORLD analyses it as one); the planner cuts utterances of
        # more than text.planner.MAX_UTTERANCE_CHARACTERS (from four words), so this is bounded too.
        audio = np.concatenate(list(model.decode_windows(prepared.prior, None, window)))
        for word in gains:
            synthetic_audio.apply_gain(
                audio, word.start, word.end, word.gain, rate, origin=prepared.timeline.start
            )
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
        return sort_marks(m for p in self._prepare(plan) for m in p.timeline.marks if m.type in wanted)

"""Run an evaluation: synthesise, transcribe, measure, and collect the numbers in one report object."""

from __future__ import annotations

import importlib.util
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voicesmith.errors import ValidationError
from voicesmith.training.evaluate.acoustics import (
    ANALYSIS_RATE,
    F0Stats,
    f0_stats,
    f0_track,
    mel_cepstral_distortion,
    semitones,
    to_analysis_rate,
)
from voicesmith.training.evaluate.sentences import (
    BUILTIN_SENTENCES,
    EvalSentence,
    builtin_sentences,
    reference_sentences,
)

_LOGGER = logging.getLogger(__name__)

DEFAULT_SENTENCES = len(BUILTIN_SENTENCES)
_NOT_SPOKEN = frozenset(" _^$ˈˌːˑ.,;:!?¡¿—…\"'()-")
"""Symbols in the synthesis timings that are pauses, punctuation or marks on a phoneme, not phonemes."""
_WORD = re.compile(r"[\w']+")


@dataclass
class SentenceResult:
    """One sentence: what was asked, what Whisper heard, and the measures of the clip."""

    id: str
    text: str
    transcript: str
    wer: float | None
    duration_s: float
    phonemes: int
    speech_s: float
    """From the first phoneme's start to the last one's end (leading and trailing silence left out)."""
    f0_median_hz: float | None
    audio: np.ndarray = field(repr=False)
    """The synthesised clip at 16 kHz (float32 mono)."""
    reference_audio: np.ndarray | None = field(default=None, repr=False)
    """The reference recording at 16 kHz, when evaluating against a dataset."""
    reference_f0_median_hz: float | None = None
    mcd_db: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "transcript": self.transcript,
            "wer": _round(self.wer, 4),
            "duration_s": round(self.duration_s, 3),
            "phonemes_per_second": _round(self.phonemes / self.speech_s if self.speech_s else None, 2),
            "f0_median_hz": _round(self.f0_median_hz, 1),
            "reference_f0_median_hz": _round(self.reference_f0_median_hz, 1),
            "mcd_db": _round(self.mcd_db, 3),
        }


@dataclass
class EvaluationReport:
    """Everything ``voicesmith evaluate`` measured about one voice."""

    voice: str
    reference: str | None
    sentences: list[SentenceResult]
    wer: float
    """Corpus word error rate (word edits over all sentences / reference words), Whisper tiny.en."""
    f0: F0Stats | None
    phonemes_per_second: float
    words_per_minute: float
    reference_f0: F0Stats | None = None
    f0_distance_semitones: float | None = None
    """Voice median F0 minus reference median F0, in semitones (negative: the voice is lower)."""
    mcd_db: float | None = None
    """Mean over sentences of the mel-cepstral distortion (see ``acoustics`` for the definition)."""
    f0_voiced: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    reference_f0_voiced: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "voice": self.voice,
            "reference": self.reference,
            "sentences": len(self.sentences),
            "wer": round(self.wer, 4),
            "f0": self.f0.to_dict() if self.f0 else None,
            "phonemes_per_second": round(self.phonemes_per_second, 2),
            "words_per_minute": round(self.words_per_minute, 1),
            "reference_f0": self.reference_f0.to_dict() if self.reference_f0 else None,
            "f0_distance_semitones": _round(self.f0_distance_semitones, 2),
            "mcd_db": _round(self.mcd_db, 3),
            "mcd_definition": "10/ln10*sqrt(2*sum_{d=1..24}(c_d-c'_d)^2), WORLD CheapTrick -> SPTK mcep "
            "(alpha 0.41, 16 kHz), DTW-aligned, mean over frames and sentences",
            "per_sentence": [sentence.to_dict() for sentence in self.sentences],
        }


def evaluate_voice(
    voice: str,
    reference: str | Path | None = None,
    sentences: int = DEFAULT_SENTENCES,
    *,
    format: str | None = None,
    synthesizer: Any | None = None,
    transcriber: Any | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvaluationReport:
    """Evaluate the installed voice ``voice`` (a catalog id).

    Synthesises ``sentences`` texts (the built-in Harvard sentences, or the held-out utterances of the
    ``reference`` dataset) through the public API, transcribes them with Whisper tiny.en for the word
    error rate, and measures pitch and speaking rate; with a ``reference``, also the F0 distance to the
    reference speaker and the mel-cepstral distortion against the same texts as recorded. ``format`` is
    the reference's dataset layout (detected when None).

    Raises :class:`~voicesmith.errors.VoiceNotFoundError` for an unknown voice and
    :class:`~voicesmith.errors.DatasetError` for a reference that cannot be read. Needs the ``[eval]``
    extra (faster-whisper, praat-parselmouth, pyworld, pysptk).
    """
    from voicesmith import SynthesisRequest, Synthesizer
    from voicesmith.training.asr import Transcriber

    if sentences < 1:
        raise ValidationError(f"sentences must be at least 1, not {sentences}")
    _require_extra()
    synthesizer = synthesizer or Synthesizer()
    synthesizer.catalog.get(voice)  # an unknown voice fails before any slow work
    texts = (
        reference_sentences(reference, sentences, format)
        if reference is not None
        else builtin_sentences(sentences)
    )
    transcriber = transcriber or Transcriber()
    results: list[SentenceResult] = []
    voice_tracks: list[np.ndarray] = []
    reference_tracks: list[np.ndarray] = []
    for done, sentence in enumerate(texts):
        synthesis = synthesizer.synthesize(SynthesisRequest(text=sentence.text, voice=voice))
        result, track, reference_track = _measure(sentence, synthesis, transcriber)
        results.append(result)
        voice_tracks.append(track)
        if reference_track is not None:
            reference_tracks.append(reference_track)
        _LOGGER.info("%s: WER %s, %r", sentence.id, result.wer, result.transcript)
        if progress is not None:
            progress(done + 1, len(texts))
    return _summarise(voice, reference, results, voice_tracks, reference_tracks, transcriber)


def _require_extra() -> None:
    for module in ("parselmouth", "pyworld", "pysptk", "librosa"):
        if importlib.util.find_spec(module) is None:
            raise ValidationError(
                f"evaluate needs the evaluation extra ({module} is missing): pip install 'voicesmith[eval]'"
            )


def _measure(
    sentence: EvalSentence, synthesis: Any, transcriber: Any
) -> tuple[SentenceResult, np.ndarray, np.ndarray | None]:
    audio = to_analysis_rate(synthesis.audio, synthesis.sample_rate)
    transcript = transcriber.transcribe(audio.astype(np.float32), ANALYSIS_RATE)
    spoken = [p for p in synthesis.phonemes if p.phoneme not in _NOT_SPOKEN]
    speech_samples = spoken[-1].start + spoken[-1].samples - spoken[0].start if spoken else 0
    track = f0_track(audio, ANALYSIS_RATE)
    result = SentenceResult(
        id=sentence.id,
        text=sentence.text,
        transcript=transcript,
        wer=transcriber.word_error_rate(sentence.text, transcript),
        duration_s=synthesis.duration,
        phonemes=len(spoken),
        speech_s=speech_samples / synthesis.sample_rate,
        f0_median_hz=float(np.median(track)) if track.size else None,
        audio=audio.astype(np.float32),
    )
    if sentence.reference_audio is None:
        return result, track, None
    recording = _read_reference(sentence.reference_audio)
    reference_track = f0_track(recording, ANALYSIS_RATE)
    result.reference_audio = recording.astype(np.float32)
    result.reference_f0_median_hz = float(np.median(reference_track)) if reference_track.size else None
    result.mcd_db = mel_cepstral_distortion(audio, recording)
    return result, track, reference_track


def _read_reference(path: Path) -> np.ndarray:
    import soundfile

    from voicesmith.errors import DatasetError

    try:
        samples, rate = soundfile.read(path, dtype="float64", always_2d=False)
    except (OSError, RuntimeError, soundfile.LibsndfileError) as error:
        raise DatasetError(f"cannot read the reference recording: {error}", path=path) from error
    if samples.size == 0:
        raise DatasetError("the reference recording has no samples", path=path)
    return to_analysis_rate(samples, rate)


def _summarise(
    voice: str,
    reference: str | Path | None,
    results: list[SentenceResult],
    voice_tracks: list[np.ndarray],
    reference_tracks: list[np.ndarray],
    transcriber: Any,
) -> EvaluationReport:
    voice_f0 = f0_stats(voice_tracks)
    reference_f0 = f0_stats(reference_tracks) if reference is not None else None
    distance = None
    if voice_f0 is not None and reference_f0 is not None:
        distance = semitones(voice_f0.median_hz, reference_f0.median_hz)
    distortions = [r.mcd_db for r in results if r.mcd_db is not None and math.isfinite(r.mcd_db)]
    speech_s = sum(r.speech_s for r in results)
    audio_s = sum(r.duration_s for r in results)
    words = sum(len(_WORD.findall(r.text)) for r in results)
    return EvaluationReport(
        voice=voice,
        reference=str(reference) if reference is not None else None,
        sentences=results,
        wer=transcriber.corpus_word_error_rate([r.text for r in results], [r.transcript for r in results]),
        f0=voice_f0,
        phonemes_per_second=sum(r.phonemes for r in results) / speech_s if speech_s else 0.0,
        words_per_minute=60.0 * words / audio_s if audio_s else 0.0,
        reference_f0=reference_f0,
        f0_distance_semitones=distance,
        mcd_db=float(np.mean(distortions)) if distortions else None,
        f0_voiced=np.concatenate(voice_tracks) if voice_tracks else np.zeros(0),
        reference_f0_voiced=np.concatenate(reference_tracks) if reference_tracks else np.zeros(0),
    )


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)

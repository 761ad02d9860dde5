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
    similarity: float | None = None
    """GE2E cosine of the synthesised clip to the centroid of the reference recordings."""
    reference_transcript: str | None = None
    """What the same Whisper heard in the reference recording of this text."""
    reference_wer: float | None = None

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
            "similarity": _round(self.similarity, 4),
            "reference_transcript": self.reference_transcript,
            "reference_wer": _round(self.reference_wer, 4),
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
    reference_wer: float | None = None
    """Corpus WER of the reference recordings of the same texts, by the same Whisper: the floor the
    voice's WER is read against (Whisper mishears some speakers more than others)."""
    similarity: float | None = None
    """Mean GE2E cosine of the synthesised clips to the centroid of the reference recordings."""
    reference_similarity: float | None = None
    """The reference recordings' own similarity: mean over them of each one's cosine to the centroid
    of the *other* recordings (leave-one-out), the ceiling the voice's similarity is read against."""
    similarity_clips: int = 0
    """Reference recordings in the centroid."""
    f0_voiced: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    reference_f0_voiced: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def f0_median_error(self) -> float | None:
        """|voice F0 median - reference F0 median| / reference F0 median."""
        if self.f0 is None or self.reference_f0 is None:
            return None
        return abs(self.f0.median_hz - self.reference_f0.median_hz) / self.reference_f0.median_hz

    @property
    def wer_above_reference(self) -> float | None:
        """Voice WER minus the references' WER on the same texts (what the voice adds)."""
        return None if self.reference_wer is None else self.wer - self.reference_wer

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
            "f0_median_error": _round(self.f0_median_error, 4),
            "mcd_db": _round(self.mcd_db, 3),
            "reference_wer": _round(self.reference_wer, 4),
            "wer_above_reference": _round(self.wer_above_reference, 4),
            "similarity": _round(self.similarity, 4),
            "reference_similarity": _round(self.reference_similarity, 4),
            "similarity_definition": "GE2E (resemblyzer) cosine to the centroid of "
            f"{self.similarity_clips} reference recordings; the references' own: leave-one-out",
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
    reference speaker, the mel-cepstral distortion against the same texts as recorded, the WER of those
    recordings by the same Whisper, and the speaker similarity (GE2E) of the voice and of the
    recordings themselves to the recordings' centroid. ``format`` is the reference's dataset layout
    (detected when None).

    Raises :class:`~voicesmith.errors.VoiceNotFoundError` for an unknown voice and
    :class:`~voicesmith.errors.DatasetError` for a reference that cannot be read. Needs the ``[eval]``
    extra (faster-whisper, praat-parselmouth, pyworld, pysptk, resemblyzer).
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
    report = _summarise(voice, reference, results, voice_tracks, reference_tracks, transcriber)
    if reference is not None:
        _speaker_similarity(report, reference, format)
    return report


MAX_SIMILARITY_CLIPS = 50
"""Reference recordings (evenly spread over the dataset) whose embeddings make the speaker centroid."""


def _speaker_similarity(report: EvaluationReport, reference: str | Path, format: str | None) -> None:
    from voicesmith.training import speaker

    encoder = speaker.SpeakerEncoder.shared()
    clips = speaker.dataset_clips(reference, format)
    if len(clips) > MAX_SIMILARITY_CLIPS:
        clips = [clips[int(i)] for i in np.linspace(0, len(clips) - 1, MAX_SIMILARITY_CLIPS)]
    _paths, embeddings = speaker.embed_clips(clips, encoder)
    if len(embeddings) < 2:
        _LOGGER.warning("too few reference recordings with speech to measure speaker similarity")
        return
    target = speaker.centroid(embeddings)
    scores = []
    for result in report.sentences:
        embedding = encoder.embed(result.audio, ANALYSIS_RATE)
        if embedding is not None:
            result.similarity = float(speaker.similarities(embedding[None, :], target)[0])
            scores.append(result.similarity)
    report.similarity = float(np.mean(scores)) if scores else None
    report.reference_similarity = float(np.mean(speaker.leave_one_out_similarities(embeddings)))
    report.similarity_clips = len(embeddings)


def _require_extra() -> None:
    for module in ("parselmouth", "pyworld", "pysptk", "librosa", "resemblyzer"):
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
    result.reference_transcript = transcriber.transcribe(recording.astype(np.float32), ANALYSIS_RATE)
    result.reference_wer = transcriber.word_error_rate(sentence.text, result.reference_transcript)
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
    recorded = [r for r in results if r.reference_transcript is not None]
    reference_wer = (
        transcriber.corpus_word_error_rate(
            [r.text for r in recorded], [r.reference_transcript for r in recorded]
        )
        if recorded
        else None
    )
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
        reference_wer=reference_wer,
        f0_voiced=np.concatenate(voice_tracks) if voice_tracks else np.zeros(0),
        reference_f0_voiced=np.concatenate(reference_tracks) if reference_tracks else np.zeros(0),
    )


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)

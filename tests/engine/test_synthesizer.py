"""The synthesis API: streaming, timings, determinism, parameters, errors."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from voicesmith.engine.requests import SynthesisRequest
from voicesmith.engine.synthesizer import FIRST_WINDOW_FRAMES
from voicesmith.errors import TextLengthExceededError, ValidationError, VoiceNotFoundError

PARAGRAPH = "Good morning. The weather today is mild, with a light breeze from the west. Enjoy your day!"
LONG_SENTENCE = (
    "When the old lighthouse keeper finally climbed the winding stairs for the very last time he paused at "
    "every window to look out over the grey and restless sea that had been his only companion for forty years"
)


def test_stream_concatenates_to_synthesize(synthesizer):
    request = SynthesisRequest(text=PARAGRAPH)
    chunks = list(synthesizer.stream(request))
    result = synthesizer.synthesize(request)
    assert np.array_equal(np.concatenate([c.audio for c in chunks]), result.audio)
    assert [c.offset for c in chunks] == list(np.cumsum([0] + [len(c.audio) for c in chunks[:-1]]))
    assert {c.utterance for c in chunks} == {0, 1, 2}
    assert 4.0 < result.duration < 9.0 and result.sample_rate == 22050


def test_first_chunk_of_a_long_sentence_is_short(synthesizer):
    chunks = list(synthesizer.stream(SynthesisRequest(text=LONG_SENTENCE)))
    assert len(chunks[0].audio) == FIRST_WINDOW_FRAMES * 256
    assert sum(len(c.audio) for c in chunks) / 22050 > 8.0


def test_phoneme_timings_tile_each_utterance(synthesizer):
    result = synthesizer.synthesize(SynthesisRequest(text=PARAGRAPH))
    timings = result.phonemes
    assert timings[0].start > 0  # the BOS/PAD lead-in comes first
    for before, after in zip(timings, timings[1:], strict=False):
        assert after.start >= before.start + before.samples or after.start < before.start  # next utterance
    assert timings[-1].start + timings[-1].samples <= len(result.audio)
    assert "".join(t.phoneme for t in timings).count("ˈ") >= 5


def test_same_request_same_audio_in_another_process(synthesizer):
    request = SynthesisRequest(text="Determinism matters for speech marks.", seed=7)
    here = hashlib.sha256(synthesizer.synthesize(request).audio.tobytes()).hexdigest()
    code = (
        "import hashlib,sys; from voicesmith import Synthesizer, SynthesisRequest, Settings;"
        "s=Synthesizer(Settings(data_dir=sys.argv[1]));"
        f"a=s.synthesize(SynthesisRequest(text={request.text!r}, seed=7));"
        "print(hashlib.sha256(a.audio.tobytes()).hexdigest())"
    )
    other = subprocess.run(
        [sys.executable, "-c", code, str(synthesizer.settings.data_dir)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert here == other
    changed = synthesizer.synthesize(SynthesisRequest(text=request.text, seed=8)).audio
    assert hashlib.sha256(changed.tobytes()).hexdigest() != here


def test_rate_and_volume(synthesizer):
    text = "Speaking rate and volume follow the request."
    normal = synthesizer.synthesize(SynthesisRequest(text=text))
    fast = synthesizer.synthesize(SynthesisRequest(text=text, rate=2.0))
    quiet = synthesizer.synthesize(SynthesisRequest(text=text, volume_db=-12.0))
    assert 0.4 < fast.duration / normal.duration < 0.7
    ratio = np.sqrt(np.mean(quiet.audio**2) / np.mean(normal.audio**2))
    assert ratio == pytest.approx(10 ** (-12 / 20), rel=0.02)


def test_concurrent_calls_match_sequential_ones(synthesizer):
    texts = [f"This is concurrent sentence number {n}." for n in range(4)]
    sequential = [synthesizer.synthesize(SynthesisRequest(text=t)).audio for t in texts]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda t: synthesizer.synthesize(SynthesisRequest(text=t)).audio, texts))
    for a, b in zip(sequential, parallel, strict=True):
        assert np.allclose(a, b, atol=1e-4)


@pytest.mark.parametrize(
    ("request_kwargs", "error", "message"),
    [
        ({"text": "   "}, ValidationError, "empty"),
        ({"text": "hi", "rate": 9.0}, ValidationError, "rate"),
        ({"text": "hi", "volume_db": 90.0}, ValidationError, "volume"),
        ({"text": "hi", "voice": "nobody"}, VoiceNotFoundError, "nobody"),
        ({"text": "hi", "voice": "../x"}, ValidationError, "invalid voice id"),
        ({"text": "hi", "speaker": "alice"}, ValidationError, "no speaker"),
        ({"text": "hi", "text_type": "html"}, ValidationError, "text type"),
        ({"text": "x" * 200_001}, TextLengthExceededError, "limit"),
        ({"text": "..."}, ValidationError, "nothing that can be spoken"),
    ],
)
def test_bad_requests_say_what_is_wrong(synthesizer, request_kwargs, error, message):
    with pytest.raises(error, match=message):
        synthesizer.synthesize(SynthesisRequest(**request_kwargs))

from __future__ import annotations

import json

import numpy as np
import onnxruntime
import pytest
from piper import PiperVoice
from piper.config import SynthesisConfig

from voicesmith.training.tiny_voice import build_tiny_voice

DETERMINISTIC = np.array([0.0, 1.0, 0.0], dtype=np.float32)


def _run(path, **feeds):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ids = np.array([[1, 20, 30, 40, 50, 2]], dtype=np.int64)
    inputs = {
        "input": ids,
        "input_lengths": np.array([ids.shape[1]], dtype=np.int64),
        "scales": DETERMINISTIC,
    }
    inputs.update(feeds)
    return session.run(None, inputs)[0]


def test_tiny_voice_is_small_and_speaks_through_piper(tmp_path):
    path = build_tiny_voice(tmp_path)
    assert path.suffix == ".onnx"
    assert path.stat().st_size < 2_000_000
    config = json.loads(path.with_suffix(".onnx.json").read_text())
    assert config["num_speakers"] == 1
    assert config["espeak"]["voice"] == "en-us"
    voice = PiperVoice.load(path)
    chunks = list(voice.synthesize("Hello world. A second sentence."))
    assert len(chunks) == 2
    assert all(chunk.sample_rate == 22050 and chunk.audio_float_array.size > 0 for chunk in chunks)


@pytest.mark.slow
def test_same_seed_same_weights_other_seed_other_weights(tmp_path, tiny_base, tiny_voices):
    a = _run(build_tiny_voice(tmp_path / "a", seed=7))
    b = _run(tiny_base)  # seed 7, built in another folder earlier in the session
    c = _run(tiny_voices[1])  # seed 0
    np.testing.assert_array_equal(a, b)
    assert a.shape != c.shape or not np.allclose(a, c)


def test_multi_speaker_tiny_voice_takes_speaker_ids(tiny_voices):
    path = tiny_voices[3]
    config = json.loads(path.with_suffix(".onnx.json").read_text())
    assert config["num_speakers"] == 3
    assert config["speaker_id_map"] == {"speaker_0": 0, "speaker_1": 1, "speaker_2": 2}
    out0 = _run(path, sid=np.array([0], dtype=np.int64))
    out2 = _run(path, sid=np.array([2], dtype=np.int64))
    assert out0.shape != out2.shape or not np.allclose(out0, out2)
    voice = PiperVoice.load(path)
    chunks = list(voice.synthesize("Hi there.", syn_config=SynthesisConfig(speaker_id=2)))
    assert chunks and chunks[0].audio_float_array.size > 0


@pytest.mark.parametrize("num_speakers", [1])
def test_style_vector_export_needs_a_speaker_embedding(tmp_path, num_speakers):
    from voicesmith.training.config import TINY_MODEL, build_generator
    from voicesmith.training.export import export_generator_onnx

    with pytest.raises(ValueError, match="multi-speaker"):
        export_generator_onnx(build_generator(TINY_MODEL), tmp_path / "x.onnx", {}, style_vector_input=True)

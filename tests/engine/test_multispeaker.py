"""Any Piper voice works, multi-speaker ones included (tiny generated voices: fast, no download)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from piper import PiperVoice
from piper.config import SynthesisConfig

from voicesmith.engine.catalog import VoiceCatalog
from voicesmith.engine.requests import SynthesisRequest
from voicesmith.engine.synthesizer import Synthesizer
from voicesmith.engine.voice import PiperModel, VoiceParams
from voicesmith.errors import ValidationError


def _config(model: Path) -> Path:
    return Path(f"{model}.json")


@pytest.mark.parametrize("speakers", [1, 3])
def test_split_graph_matches_piper_for_generated_voices(tiny_voices, tmp_path, speakers):
    model_path = tiny_voices[speakers]
    model = PiperModel(model_path, _config(model_path), tmp_path)
    piper = PiperVoice.load(model_path)
    ids, _ = model.phoneme_ids(model.phonemize("Hello world.")[0])
    for speaker in range(speakers):
        prior = model.encode(
            ids, VoiceParams(speaker_id=speaker, noise_scale=0, noise_w=0), 0, apply_gain=False
        )
        ours = model.decode(prior, 0, prior.num_frames)
        reference = piper.phoneme_ids_to_audio(
            ids, SynthesisConfig(speaker_id=speaker if speakers > 1 else None, noise_scale=0, noise_w_scale=0)
        )
        assert np.abs(ours - reference).max() < 1e-5


def test_speakers_by_name_and_id_through_the_catalog(settings, tiny_voices):
    model_path = tiny_voices[3]
    config = json.loads(_config(model_path).read_text())
    names = sorted(config["speaker_id_map"], key=config["speaker_id_map"].get)
    catalog = VoiceCatalog(settings)
    info = catalog.add(model_path, voice_id="trio")
    assert info.speakers == config["speaker_id_map"] and len(names) == 3
    synth = Synthesizer(settings, catalog)
    by_name = synth.synthesize(SynthesisRequest(text="Hi there.", voice="trio", speaker=names[2])).audio
    by_id = synth.synthesize(SynthesisRequest(text="Hi there.", voice="trio", speaker=2)).audio
    assert np.array_equal(by_name, by_id)
    with pytest.raises(ValidationError, match="out of range"):
        synth.synthesize(SynthesisRequest(text="Hi there.", voice="trio", speaker=7))

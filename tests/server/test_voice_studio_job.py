"""POST /v1/voices runs the real voice studio: uploaded recordings become an active voice that speaks.

It fine-tunes a tiny voice, as the other voice-job tests do: the HTTP path is what this tests (upload,
job, status, catalog, speech); fine-tuning joe itself is tests/training/test_voice_studio_e2e.py's (two
steps of joe cost this test ~90 s of a 2-core CI's budget)."""

from __future__ import annotations

import httpx
import pytest
from training.speech_data import make_clips

from voicesmith.audio.encode import decode

from .harness import make_settings, polly_client, serving, wait_for


@pytest.mark.slow
def test_uploaded_recordings_become_a_voice(tmp_path, shared_cache, monkeypatch):
    monkeypatch.setenv("VOICESMITH_SMALL_DISCRIMINATOR", "1")  # the full one is the e2e test's; ~60 s here
    from voicesmith.training.tiny_voice import build_tiny_voice

    tiny = build_tiny_voice(tmp_path / "tiny", seed=7)
    (tmp_path / "clips").mkdir()
    clips = make_clips(tmp_path / "clips")
    files = [("recordings", (clip.path.name, clip.path.read_bytes(), "audio/wav")) for clip in clips]
    transcript = "".join(f"{clip.path.name}|{clip.text}\n" for clip in clips)
    files.append(("transcript", ("transcript.txt", transcript.encode(), "text/plain")))
    data = {
        "VoiceId": "studio-job",
        "Name": "Studio",
        "LanguageCode": "en-US",
        "Gender": "Female",
        "TermsAccepted": "true",
    }
    settings = make_settings(
        tmp_path / "data",
        shared_cache,
        voice_training_steps=2,
        voice_training_batch_size=2,
        voice_training_base=str(tiny),
        task_lease_seconds=30.0,
    )
    with serving(settings) as running:
        answer = httpx.post(f"{running.url}/v1/voices", data=data, files=files, timeout=60)
        assert answer.status_code == 200, answer.text
        polly = polly_client(running.url)

        def finished():
            voice = polly.get_voice(VoiceId="studio-job")["Voice"]
            return voice if voice["Status"] in ("active", "failed") else None

        voice = wait_for(finished, timeout=600, interval=1.0)
        assert voice["Status"] == "active", voice.get("StatusReason")
        speech = polly.synthesize_speech(
            Text="Hello from a trained voice.", VoiceId="studio-job", OutputFormat="pcm", SampleRate="16000"
        )
        audio, _ = decode(speech["AudioStream"].read(), "pcm", sample_rate=16000)
        assert len(audio) / 16000 > 0.5

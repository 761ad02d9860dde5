"""``voicesmith dataset check|prepare`` through the command line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from training.speech_data import make_clips, pad_with_silence, write_broken_folder

from voicesmith.cli import main


@pytest.fixture(scope="module")
def speech_clips(tmp_path_factory):
    return make_clips(tmp_path_factory.mktemp("clips"))


@pytest.fixture()
def make_broken_folder(speech_clips):
    return lambda root, good: write_broken_folder(root, speech_clips, good)


@pytest.fixture()
def ljspeech_dir(tmp_path, speech_clips):
    root = tmp_path / "lj"
    (root / "wavs").mkdir(parents=True)
    for number, clip in enumerate(speech_clips):
        pad_with_silence(clip.path, root / "wavs" / f"u{number}.wav", 0.5, 0.4)
    lines = [f"u{number}|{clip.text}" for number, clip in enumerate(speech_clips)]
    (root / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_check_a_broken_dataset_exits_1_with_the_list(tmp_path, make_broken_folder):
    root = make_broken_folder(tmp_path / "broken", 3)
    report = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["dataset", "check", str(root), "--report", str(report)])
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output
    assert "only 7 usable clips; at least 10 are needed" in " ".join(result.output.split())
    assert "unreadable" in result.output and "too_long" in result.output
    page = report.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 2
    assert "notaudio" in page and "Not trainable" in page


def test_check_json_is_machine_readable(tmp_path, make_broken_folder):
    root = make_broken_folder(tmp_path / "broken", 12)
    result = CliRunner().invoke(main, ["dataset", "check", str(root), "--json", "--format", "folder"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["format"] == "folder"
    assert {clip["id"] for clip in report["clips"] if not clip["usable"]} == {
        "empty",
        "notaudio",
        "long",
        "notext",
    }


def test_prepare_then_rerun(ljspeech_dir, tmp_path):
    out = tmp_path / "out"
    runner = CliRunner()
    first = runner.invoke(main, ["dataset", "prepare", str(ljspeech_dir), str(out), "--sample-rate", "16000"])
    assert first.exit_code == 0, first.output
    assert "Prepared 12 utterances (11 train, 1 val" in first.output
    second = runner.invoke(
        main, ["dataset", "prepare", str(ljspeech_dir), str(out), "--sample-rate", "16000"]
    )
    assert "0 processed, 12 unchanged" in " ".join(second.output.split())
    assert json.loads((out / "dataset.json").read_text(encoding="utf-8"))["sample_rate"] == 16000


def test_user_errors_exit_2_with_a_message(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["dataset", "check", str(tmp_path / "empty")])
    assert result.exit_code == 2
    assert "cannot tell the dataset layout" in result.output

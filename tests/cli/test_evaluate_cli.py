"""``voicesmith evaluate`` through the command line."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from training.speech_data import make_clips

from voicesmith.cli import main


@pytest.fixture(scope="module")
def flite_folder(tmp_path_factory):
    """A folder dataset (x.wav + x.txt) of flite slt clips only (make_clips has espeak every third)."""
    clips = make_clips(tmp_path_factory.mktemp("clips"))
    root = tmp_path_factory.mktemp("slt")
    for number, clip in enumerate(clips, start=1):
        if number % 3:
            shutil.copy(clip.path, root / f"slt{number:02d}.wav")
            (root / f"slt{number:02d}.txt").write_text(clip.text, encoding="utf-8")
    return root


def test_unknown_voice_exits_2_with_one_line(data_dir):
    result = CliRunner().invoke(main, ["evaluate", "nobody", "--sentences", "1"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "voicesmith: error: no voice 'nobody'; available: joe",
    ]


def test_unreadable_reference_exits_2(data_dir, tmp_path):
    (tmp_path / "nothing").mkdir()
    result = CliRunner().invoke(main, ["evaluate", "joe", "--reference", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "cannot tell the dataset layout" in result.output


@pytest.mark.slow
def test_evaluate_against_a_reference_with_report_and_json(data_dir, tmp_path, flite_folder):
    report = tmp_path / "eval.html"
    result = CliRunner().invoke(
        main, ["evaluate", "joe", "--reference", str(flite_folder), "--report", str(report), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["voice"] == "joe" and data["reference"] == str(flite_folder)
    # the last ~10 % of the 8 clips: the last one
    assert [s["text"] for s in data["per_sentence"]] == [
        (flite_folder / "slt11.txt").read_text(encoding="utf-8")
    ]
    assert data["f0_distance_semitones"] < -4
    assert data["mcd_db"] > 0
    assert data["reference_similarity"] > 0.85 and data["similarity"] < 0.7  # joe is not slt
    assert data["reference_wer"] is not None and "wer_above_reference" in data
    page = report.read_text(encoding="utf-8")
    assert page.count("<audio") == 2 and "<img" in page

"""voice.json: one schema for the exported and the installed shape; the catalog reads both."""

from __future__ import annotations

import json
import shutil

import pytest

from voicesmith.engine.catalog import VoiceCatalog
from voicesmith.engine.voice_json import VoiceJson
from voicesmith.errors import InvalidVoiceError

EXPORTED = {  # what training/export.py writes
    "id": "ann",
    "name": "Ann",
    "language": "en-US",
    "gender": "female",
    "sample_rate": 22050,
    "speakers": ["ann_neutral", "ann_angry", "ann_happy"],
    "styles": ["neutral", "angry", "happy", "fear"],
    "origin": {"kind": "trained", "base": "joe", "run": "/runs/ann", "checkpoint": "best.ckpt", "steps": 40},
    "created": "2026-12-01T10:00:00+00:00",
}
SPEAKERS = {"ann_neutral": 0, "ann_angry": 1, "ann_happy": 2}
STYLES = {"neutral": "ann_neutral", "angry": "ann_angry", "happy": "ann_happy"}


def test_the_exported_shape_reads_as_the_installed_one_and_back():
    meta = VoiceJson.parse(EXPORTED)
    assert (meta.speakers, meta.styles, meta.origin, meta.gender) == (SPEAKERS, STYLES, "trained", "Female")
    assert meta.trained_from.steps == 40 and meta.emotions == ["neutral", "angry", "happy", "fear"]
    exported = meta.exported_json()
    assert {k: exported[k] for k in EXPORTED if k != "gender"} == {
        k: v for k, v in EXPORTED.items() if k != "gender"
    }
    installed = meta.installed_json()
    assert (
        installed["speakers"] == SPEAKERS
        and installed["styles"] == STYLES
        and installed["origin"] == "trained"
    )
    assert VoiceJson.parse(installed).installed_json() == installed


def test_an_export_shaped_file_in_the_voices_folder_is_listed(settings, joe_files):
    """An exported voice.json beside the model files of an installed voice: the catalog lists it with
    the installed shape's fields (it used to fail on the list of speakers)."""
    folder = settings.voices_dir / "ann"
    folder.mkdir(parents=True)
    shutil.copyfile(joe_files[0], folder / "model.onnx")
    shutil.copyfile(joe_files[1], folder / "model.onnx.json")
    (folder / "voice.json").write_text(json.dumps(EXPORTED))
    catalog = VoiceCatalog(settings)
    info = catalog.get("ann")
    assert (info.speakers, info.styles, info.origin, info.gender) == (SPEAKERS, STYLES, "trained", "Female")
    assert "ann" in [v.id for v in catalog.list()]
    assert info.to_json()["speakers"] == SPEAKERS and info.digest.startswith("local-")


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"sample_rate": 22050}, "id"),
        ({"id": "x", "sample_rate": "fast"}, "sample_rate"),
        ({"id": "x", "sample_rate": 22050, "speakers": {"a": "b"}}, "speakers"),
        ([1, 2], "file"),
    ],
)
def test_a_bad_file_is_an_invalid_voice_naming_the_field(data, problem, tmp_path):
    path = tmp_path / "voice.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InvalidVoiceError, match=rf"voice.json: unreadable voice metadata \({problem}"):
        VoiceJson.read(path)


def test_a_broken_file_in_the_voices_folder_is_skipped_not_fatal(settings):
    folder = settings.voices_dir / "broken"
    folder.mkdir(parents=True)
    (folder / "voice.json").write_text(json.dumps({"id": "broken", "speakers": "ann"}))
    assert [v.id for v in VoiceCatalog(settings).list()] == ["joe"]
    with pytest.raises(InvalidVoiceError, match="unreadable voice metadata"):
        VoiceCatalog(settings).get("broken")

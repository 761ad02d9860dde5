"""The voice catalog: the bundled voice, installing, validating and removing voices."""

from __future__ import annotations

import json

import pytest

from voicesmith.engine.catalog import VoiceCatalog
from voicesmith.errors import InvalidVoiceError, ValidationError, VoiceExistsError, VoiceNotFoundError


def test_bundled_voice_is_listed(settings):
    voices = VoiceCatalog(settings).list()
    assert [v.id for v in voices] == ["joe"]
    joe = voices[0]
    assert (joe.language, joe.gender, joe.sample_rate, joe.origin) == ("en-US", "Male", 22050, "bundled")
    assert joe.model_path.is_file()


def test_add_show_load_and_remove(settings, joe_files):
    model, config = joe_files
    catalog = VoiceCatalog(settings)
    info = catalog.add(model, voice_id="my-voice_1", name="Mine", gender="Female")
    assert info.id == "my-voice_1" and info.name == "Mine" and info.gender == "Female"
    assert (settings.voices_dir / "my-voice_1" / "voice.json").is_file()
    stored = json.loads((settings.voices_dir / "my-voice_1" / "voice.json").read_text())
    assert stored["sample_rate"] == 22050 and stored["origin"] == "installed" and stored["created"]
    assert {v.id for v in catalog.list()} == {"joe", "my-voice_1"}
    assert catalog.load("my-voice_1") is catalog.load("my-voice_1")
    catalog.remove("my-voice_1")
    with pytest.raises(VoiceNotFoundError, match="my-voice_1"):
        catalog.get("my-voice_1")


@pytest.mark.parametrize("bad_id", ["", "../etc", "a/b", "x" * 65, "has space", "dot.dot"])
def test_invalid_ids_are_rejected_before_touching_files(settings, joe_files, bad_id):
    with pytest.raises(ValidationError, match="invalid voice id"):
        VoiceCatalog(settings).add(joe_files[0], voice_id=bad_id)
    with pytest.raises(ValidationError):
        VoiceCatalog(settings).remove(bad_id)


def test_duplicate_and_bundled_ids(settings, joe_files):
    catalog = VoiceCatalog(settings)
    with pytest.raises(VoiceExistsError):
        catalog.add(joe_files[0], voice_id="joe")
    catalog.add(joe_files[0], voice_id="twice")
    with pytest.raises(VoiceExistsError):
        catalog.add(joe_files[0], voice_id="twice")
    with pytest.raises(ValidationError, match="bundled"):
        catalog.remove("joe")


def test_broken_model_file_names_the_file(settings, tmp_path, joe_files):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not an onnx model")
    (tmp_path / "broken.onnx.json").write_bytes(joe_files[1].read_bytes())
    with pytest.raises(InvalidVoiceError, match="broken.onnx"):
        VoiceCatalog(settings).add(broken, voice_id="broken")
    assert not (settings.voices_dir / "broken").exists()


def test_missing_or_foreign_config(settings, tmp_path, joe_files):
    model, config = joe_files
    with pytest.raises(InvalidVoiceError, match="not found"):
        VoiceCatalog(settings).add(model, voice_id="x", config_path=tmp_path / "nope.json")
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"hello": "world"}))
    with pytest.raises(InvalidVoiceError, match="not a Piper voice config"):
        VoiceCatalog(settings).add(model, voice_id="x", config_path=foreign)


def test_config_that_does_not_match_the_model(settings, joe_files):
    model, config = joe_files
    data = json.loads(config.read_text())
    data["num_symbols"] = 10  # the graph's ids go far beyond
    config.write_text(json.dumps(data))
    with pytest.raises(InvalidVoiceError, match="num_symbols"):
        VoiceCatalog(settings).add(model, voice_id="mismatch", config_path=config)

"""Polly's voice names: the table covers botocore's model, and each name picks the right installed voice."""

from __future__ import annotations

import json
import logging
import os

import botocore.loaders
import pytest

from voicesmith.engine.catalog import VoiceInfo
from voicesmith.engine.polly_voices import PollyVoiceMap, best_voice, language_name, polly_voice, polly_voices
from voicesmith.settings import Settings


def _polly_model() -> dict:
    return botocore.loaders.Loader().load_service_model("polly", "service-2")


def _voice(voice_id: str, language: str, gender: str) -> VoiceInfo:
    return VoiceInfo(id=voice_id, name=voice_id.title(), language=language, gender=gender, sample_rate=22050)


JOE = _voice("joe", "en-US", "Male")
AMY = _voice("amy", "en-GB", "Female")
KAREN = _voice("karen", "en-US", "Female")
THORSTEN = _voice("thorsten", "de-DE", "Male")
PRIYA = _voice("priya", "hi-IN", "Female")


def test_every_voice_id_of_botocores_model_has_its_facts():
    shapes = _polly_model()["shapes"]
    ids = set(shapes["VoiceId"]["enum"])
    languages = set(shapes["LanguageCode"]["enum"])
    table = {voice.id: voice for voice in polly_voices()}
    assert set(table) == ids
    for voice in table.values():
        assert voice.gender in ("Female", "Male")
        assert voice.language in languages and set(voice.additional_languages) <= languages
        assert language_name(voice.language) != voice.language, voice.language
    assert table["Joanna"].language == "en-US" and table["Joanna"].gender == "Female"
    assert table["Brian"].language == "en-GB" and table["Brian"].gender == "Male"
    assert table["Lea"].name == "Léa" and table["Aditi"].additional_languages == ("hi-IN",)


def test_names_are_found_by_id_or_display_name_in_any_case():
    assert polly_voice("Lea").id == "Lea"
    assert polly_voice("Léa").id == "Lea" and polly_voice("joanna").id == "Joanna"
    assert polly_voice("joe") is None and polly_voice("") is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Joanna", "karen"),  # language and gender
        ("Matthew", "joe"),
        ("Amy", "amy"),
        ("Brian", "amy"),  # same language beats same gender in another English
        ("Nicole", "amy"),  # en-AU: an English voice of her gender (the first in the catalog)
        ("Russell", "joe"),
        ("Hans", "thorsten"),
        ("Vicki", "thorsten"),  # the language's voice, whatever its gender
        ("Mizuki", "joe"),  # no Japanese voice: the default
    ],
)
def test_each_name_goes_to_the_best_installed_voice(name, expected):
    voices = [JOE, AMY, KAREN, THORSTEN]
    chosen, _ = PollyVoiceMap(Settings()).choose(polly_voice(name), voices)
    assert chosen == expected


def test_a_bilingual_voice_speaks_each_language_with_its_voice():
    voices = [JOE, AMY, PRIYA]
    aditi = polly_voice("Aditi")
    assert aditi.speaks("hi-IN") and aditi.speaks("en-IN") and not aditi.speaks("en-US")
    mapping = PollyVoiceMap(Settings())
    assert mapping.choose(aditi, voices)[0] == "amy"  # en-IN, Female: the English voice of her gender
    assert mapping.choose(aditi, voices, "hi-IN")[0] == "priya"


def test_best_voice_needs_the_language_family():
    assert best_voice([JOE, AMY], "fr-FR", "Female") is None
    assert best_voice([JOE, AMY], "en-NZ", "Female") is AMY


def test_the_operators_table_wins_and_its_file_is_reread(tmp_path, caplog):
    table = tmp_path / "voices.json"
    table.write_text(json.dumps({"Joanna": "amy", "*": "amy"}))
    settings = Settings(polly_voice_map_file=table, polly_voice_map={"Matthew": "thorsten"})
    mapping = PollyVoiceMap(settings)
    voices = [JOE, AMY, THORSTEN]
    assert mapping.choose(polly_voice("Joanna"), voices) == ("amy", "operator")
    assert mapping.choose(polly_voice("Matthew"), voices) == ("thorsten", "operator")
    assert mapping.choose(polly_voice("Mizuki"), voices) == ("amy", "operator")  # "*": no Japanese voice
    assert mapping.choose(polly_voice("Kevin"), voices) == ("joe", "language")
    table.write_text(json.dumps({"Joanna": "joe", "Nobody": "amy"}))
    os.utime(table, (1, 1))  # a new modification time, even on coarse clocks
    with caplog.at_level(logging.WARNING):
        assert mapping.choose(polly_voice("Joanna"), voices)[0] == "joe"
    assert "Nobody" in caplog.text
    assert mapping.table(voices)["Mizuki"] == "joe"


def test_an_unreadable_table_file_is_logged_and_left_out(tmp_path, caplog):
    bad = tmp_path / "voices.json"
    bad.write_text("[1, 2]")
    with caplog.at_level(logging.ERROR):
        mapping = PollyVoiceMap(Settings(polly_voice_map_file=bad))
        assert mapping.choose(polly_voice("Joanna"), [JOE])[0] == "joe"
        missing = PollyVoiceMap(Settings(polly_voice_map_file=tmp_path / "absent.json"))
        assert missing.choose(polly_voice("Joanna"), [JOE])[0] == "joe"
    assert "not a JSON object" in caplog.text and "cannot read" in caplog.text

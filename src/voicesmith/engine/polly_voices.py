"""Amazon Polly's voice names, and which installed voice speaks each.

Polly clients name voices by Polly's ids (``VoiceId="Joanna"``), and some accept nothing else (Home
Assistant's config schema, AWS's samples that pick a voice by language from DescribeVoices). Every
VoiceId of botocore's Polly model is therefore a voice name here, spoken by an installed voice:

1. the operator's table, if it names the voice: ``Settings.polly_voice_map`` (wins) and the JSON file
   ``Settings.polly_voice_map_file``, both ``{"Joanna": "<voice id>", ...}``; the key ``"*"`` names the
   voice for every name the table does not list;
2. else the installed voice of the name's language and gender (``en-US`` + ``Female`` for Joanna), else of
   its language, else of the same language family (``en-GB`` for ``en-US``), gender first;
3. else the default voice (the bundled one).

An installed voice whose id is a Polly name wins over the name. The facts about each Polly voice
(gender, language, the bilingual voices' additional languages, the display name with its accents) are
public and live in ``polly_voices.json``; this module is the one place that reads them.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from voicesmith.engine.catalog import BUNDLED_VOICE_ID, VoiceInfo
from voicesmith.settings import Settings

_LOGGER = logging.getLogger(__name__)

DATA_FILE = "polly_voices.json"
FALLBACK_KEY = "*"
"""Key of the operator's table that names the voice for every Polly name it does not list."""


@dataclass(frozen=True)
class PollyVoice:
    """One of Polly's voices, as DescribeVoices describes it."""

    id: str
    name: str
    """Polly's display name (``Léa`` for the id ``Lea``)."""
    gender: str
    language: str
    additional_languages: tuple[str, ...] = ()
    """Bilingual voices' second language (Aditi: ``hi-IN``)."""

    def speaks(self, language: str) -> bool:
        return language == self.language or language in self.additional_languages


@functools.cache
def _data() -> dict:
    text = resources.files("voicesmith.engine").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


@functools.cache
def _voices() -> dict[str, PollyVoice]:
    return {
        entry["Id"]: PollyVoice(
            id=entry["Id"],
            name=entry["Name"],
            gender=entry["Gender"],
            language=entry["LanguageCode"],
            additional_languages=tuple(entry.get("AdditionalLanguageCodes", ())),
        )
        for entry in _data()["voices"]
    }


@functools.cache
def _folded() -> dict[str, PollyVoice]:
    """Case-folded ids and display names (``lea``, ``léa``) -> voice."""
    table: dict[str, PollyVoice] = {}
    for voice in _voices().values():
        table.setdefault(voice.id.casefold(), voice)
        table.setdefault(voice.name.casefold(), voice)
    return table


def polly_voices() -> list[PollyVoice]:
    """Every Polly voice, in the table's order (by language)."""
    return list(_voices().values())


def polly_voice(name: str) -> PollyVoice | None:
    """The Polly voice ``name`` names: its id (``Lea``), or, in any case, its id or display name."""
    if not isinstance(name, str):
        return None
    return _voices().get(name) or _folded().get(name.casefold())


def language_name(code: str) -> str:
    """Polly's English name of a language code (``en-GB`` -> ``British English``); the code if unknown."""
    return _data()["language_names"].get(code, code)


def _family(code: str) -> str:
    return code.split("-")[0].lower()


def best_voice(voices: Sequence[VoiceInfo], language: str, gender: str | None) -> VoiceInfo | None:
    """The installed voice that best speaks ``language`` as ``gender``; None if none speaks its family.

    Order: same language and gender, same language, same family and gender, same family; ties go to the
    catalog's order (the bundled voice first).
    """
    ranked = []
    for index, voice in enumerate(voices):
        if voice.language == language:
            rank = 0
        elif _family(voice.language) == _family(language):
            rank = 2
        else:
            continue
        if gender is None or voice.gender != gender:
            rank += 1
        ranked.append((rank, index, voice))
    return min(ranked, key=lambda item: item[:2])[2] if ranked else None


class PollyVoiceMap:
    """Polly names -> installed voice ids, the operator's table over the automatic choice."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._file_table: tuple[float, dict[str, str]] | None = None
        self._warned: frozenset[str] = frozenset()

    def _read_file(self, path: Path) -> dict[str, str]:
        """The operator's file, read again whenever it changes. A file that cannot be used is logged and
        left out (requests are not the operator's error to answer)."""
        try:
            stamp = path.stat().st_mtime
        except OSError as error:
            with self._lock:
                first = self._file_table != (-1.0, {})
                self._file_table = (-1.0, {})
            if first:  # logged once until the file is back
                _LOGGER.error(
                    "polly_voice_map_file %s: cannot read it (%s); choosing by language", path, error
                )
            return {}
        with self._lock:
            if self._file_table is not None and self._file_table[0] == stamp:
                return self._file_table[1]
        try:
            table = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            table = error
        if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in table.items()
        ):
            _LOGGER.error(
                'polly_voice_map_file %s: not a JSON object of names to voice ids ({"Joanna": "amy"}): %s',
                path,
                table if isinstance(table, Exception) else type(table).__name__,
            )
            table = {}
        with self._lock:
            self._file_table = (stamp, table)
        return table

    def overrides(self) -> dict[str, str]:
        """The operator's table: the file's entries, then the setting's (which win)."""
        path = self.settings.polly_voice_map_file
        table = dict(self._read_file(path)) if path is not None else {}
        table.update(self.settings.polly_voice_map)
        unknown = frozenset(k for k in table if k != FALLBACK_KEY and k not in _voices())
        if unknown and unknown != self._warned:  # once per table, not once per request
            self._warned = unknown
            _LOGGER.warning(
                "polly voice map: %s are not Polly voice ids; ignored", ", ".join(sorted(unknown)[:10])
            )
        return table

    def choose(
        self,
        voice: PollyVoice,
        voices: Sequence[VoiceInfo],
        language: str | None = None,
        table: dict[str, str] | None = None,
    ) -> tuple[str, str]:
        """``(voice id, why)``, why being ``operator``, ``language`` or ``default``: the installed voice
        that speaks ``voice``. ``language`` picks the language of a bilingual voice (SynthesizeSpeech's
        LanguageCode). The id may name a voice that is not installed (an operator's entry): the
        caller's lookup reports it."""
        table = self.overrides() if table is None else table
        if voice.id in table:
            return table[voice.id], "operator"
        match = best_voice(voices, language or voice.language, voice.gender)
        if match is not None:
            return match.id, "language"
        if FALLBACK_KEY in table:
            return table[FALLBACK_KEY], "operator"
        return BUNDLED_VOICE_ID, "default"

    def table(self, voices: Sequence[VoiceInfo]) -> dict[str, str]:
        """Every Polly id -> the voice id that speaks it now."""
        table = self.overrides()
        return {voice.id: self.choose(voice, voices, table=table)[0] for voice in polly_voices()}


def voice_for_name(
    name: str, voices: Sequence[VoiceInfo], settings: Settings, language: str | None = None
) -> str:
    """``name`` as an installed voice id: an installed voice's id as it is, a Polly name (``Joanna``) as the
    id of the voice that speaks it, anything else unchanged (the catalog's lookup reports it)."""
    if any(voice.id == name for voice in voices):
        return name
    polly = polly_voice(name)
    if polly is None:
        return name
    return PollyVoiceMap(settings).choose(polly, voices, language)[0]

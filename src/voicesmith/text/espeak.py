"""The one gateway to espeak-ng: every phonemisation in voicesmith goes through here.

espeak-ng keeps one global state per process (the current voice, its dictionaries), so two threads
that set voices and phonemise at once corrupt each other's results. piper guards its own calls with a
module lock; this module is the only place that knows that lock and piper's shared phonemizer, and it
takes the same lock, so the synthesis pool, a voice job in the same process and piper's own
``PiperVoice.phonemize`` exclude each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection

from piper import PiperVoice
from piper import voice as _piper_voice
from piper.config import PhonemeType, PiperConfig
from piper.phonemize_espeak import ESPEAK_DATA_DIR, EspeakPhonemizer

_LOGGER = logging.getLogger(__name__)

Phonemize = Callable[[str], list[list[str]]]
"""Text to phonemes, one list per sentence."""


def _shared() -> EspeakPhonemizer:
    """piper's process-wide phonemizer (made on first use). Call with the lock held."""
    if _piper_voice._ESPEAK_PHONEMIZER is None:
        _piper_voice._ESPEAK_PHONEMIZER = EspeakPhonemizer(ESPEAK_DATA_DIR)
    return _piper_voice._ESPEAK_PHONEMIZER


def phonemize(espeak_voice: str, text: str, vowel_clusters: Collection | None = None) -> list[list[str]]:
    """``text`` in espeak-ng voice ``espeak_voice``, one phoneme list per sentence.

    Raises whatever espeak-ng raises for a voice it does not have.
    """
    with _piper_voice._ESPEAK_PHONEMIZER_LOCK:
        return _shared().phonemize(espeak_voice, text, vowel_clusters=vowel_clusters)  # type: ignore[arg-type]


def voice_phonemizer(config: PiperConfig) -> Phonemize:
    """The phonemizer of a Piper voice, as piper itself phonemises for it: ``[[ raw ]]`` phoneme blocks,
    Arabic diacritisation, and non-espeak phoneme types (text, pinyin, ...) all included. piper takes
    the gateway's lock for its espeak-ng calls."""
    voice = PiperVoice(session=None, config=config)  # type: ignore[arg-type]
    return voice.phonemize


def phonemize_in_language(config: PiperConfig, text: str, language: str) -> list[list[str]] | None:
    """``text`` phonemised with espeak-ng's voice for ``language`` (BCP-47, from SSML ``xml:lang``),
    for words of another language inside a text; None when the voice is not an espeak voice, the
    language is the voice's own, or espeak-ng has no voice for it (the caller then uses the voice's
    own phonemizer)."""
    if config.phoneme_type != PhonemeType.ESPEAK:
        return None
    own = config.espeak_voice
    wanted = language.lower()
    if wanted == own or wanted.split("-")[0] == own.split("-")[0]:
        return None
    for candidate in dict.fromkeys((wanted, wanted.split("-")[0])):
        try:
            return phonemize(candidate, text)
        except Exception:  # noqa: BLE001 - espeak-ng has no voice for that language
            continue
    _LOGGER.debug("no espeak-ng voice for %s; using %s", language, own)
    return None

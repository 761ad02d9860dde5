"""A request's parsed SSML travels with it: parsed once, and only used while it is the request's text."""

from __future__ import annotations

from dataclasses import replace

import pytest

from voicesmith.engine.requests import SynthesisRequest
from voicesmith.errors import InvalidSsmlError
from voicesmith.text.ssml import parse_ssml

SSML = '<speak>Hello <mark name="m"/>there.</speak>'


def test_the_document_given_is_the_one_used() -> None:
    document = parse_ssml(SSML)
    request = SynthesisRequest(text=SSML, text_type="ssml", document=document)
    assert request.parsed() is document
    assert request == SynthesisRequest(text=SSML, text_type="ssml")  # not part of what the request asks
    assert "document" not in repr(request)


def test_a_copy_with_other_text_parses_its_own() -> None:
    request = SynthesisRequest(text=SSML, text_type="ssml", document=parse_ssml(SSML))
    other = replace(request, text="<speak>Goodbye.</speak>")
    assert other.parsed().text == "Goodbye."
    broken = replace(request, text="<speak>Goodbye.")
    with pytest.raises(InvalidSsmlError):
        broken.parsed()


def test_a_document_of_the_other_text_type_is_not_used() -> None:
    request = SynthesisRequest(text=SSML, text_type="text", document=parse_ssml(SSML))
    plain = request.parsed()
    assert not plain.is_ssml and plain.text == SSML  # the markup is read as text


def test_without_a_document_the_text_is_parsed() -> None:
    assert SynthesisRequest(text=SSML, text_type="ssml").parsed().marks[0].name == "m"
    assert SynthesisRequest(text="plain").parsed().text == "plain"

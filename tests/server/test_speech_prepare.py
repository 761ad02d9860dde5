"""A Polly request's SSML is parsed once: the door checks it, the synthesizer speaks what was parsed."""

from __future__ import annotations

import pytest
from engine.fake_model import FakeCatalog

from voicesmith.engine.synthesizer import Synthesizer
from voicesmith.server.speech import SPEECH_LIMITS, PollySpeechFields, prepare
from voicesmith.settings import Settings
from voicesmith.text.ssml import parser


@pytest.fixture()
def parses(monkeypatch) -> list[str]:
    seen: list[str] = []
    parse = parser._SsmlParser.parse

    def counted(self):
        seen.append(self._source)
        return parse(self)

    monkeypatch.setattr(parser._SsmlParser, "parse", counted)
    return seen


@pytest.mark.parametrize("output_format", ["json", "pcm"])
def test_ssml_is_parsed_once_per_request(data_dir, parses, output_format) -> None:
    catalog = FakeCatalog(Settings())
    synthesizer = Synthesizer(catalog.settings, catalog)
    ssml = '<speak>ab <mark name="here"/><break time="200ms"/>cd.</speak>'
    fields = PollySpeechFields(
        Text=ssml,
        VoiceId="joe",
        OutputFormat=output_format,
        TextType="ssml",
        SpeechMarkTypes=["ssml", "word"] if output_format == "json" else [],
    )
    speech = prepare(fields, SPEECH_LIMITS, [])
    assert speech.billed_characters == len("ab cd.")
    if output_format == "json":
        marks = synthesizer.speech_marks(speech.request, speech.mark_types)
        assert [m.value for m in marks] == ["ab", "here", "cd"]
    else:
        assert len(synthesizer.synthesize(speech.request).audio) > 0
    assert parses == [ssml]

"""SSML values that would overflow: nested volumes and pitches that add up, numbers too long for a float."""

from __future__ import annotations

import pytest

from voicesmith.errors import InvalidSsmlError
from voicesmith.text.ssml import TextRun, parse_ssml
from voicesmith.text.ssml.values import MAX_VOLUME_DB


def _style(ssml: str):
    (run,) = [item for item in parse_ssml(ssml) if isinstance(item, TextRun)]
    return run.style


def test_nested_relative_volumes_stop_at_the_limit():
    loud = "<speak>" + '<prosody volume="+60dB">' * 200 + "x" + "</prosody>" * 200 + "</speak>"
    assert _style(loud).prosody.volume_db == MAX_VOLUME_DB
    soft = "<speak>" + '<prosody volume="-40dB">' * 3 + "x" + "</prosody>" * 3 + "</speak>"
    assert _style(soft).prosody.volume_db == -MAX_VOLUME_DB
    mixed = '<speak><prosody volume="+50dB"><prosody volume="+20dB"><prosody volume="-30dB">x'
    assert _style(mixed + "</prosody></prosody></prosody></speak>").prosody.volume_db == 30.0


@pytest.mark.parametrize(
    "ssml",
    [
        '<speak><prosody amazon:max-duration="' + "9" * 400 + 's">x</prosody></speak>',
        '<speak><break time="' + "9" * 400 + 'ms"/>x</speak>',
        '<speak><prosody pitch="+' + "9" * 400 + 'Hz">x</prosody></speak>',
        "<speak>" + '<prosody pitch="+100Hz">' * 11 + "x" + "</prosody>" * 11 + "</speak>",
    ],
)
def test_values_that_would_overflow_are_invalid_ssml(ssml):
    with pytest.raises(InvalidSsmlError):
        parse_ssml(ssml)

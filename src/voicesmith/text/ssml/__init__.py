"""Amazon Polly's SSML dialect: parse a ``<speak>`` document into a flat list of items.

>>> doc = parse_ssml('<speak>Hello <break time="300ms"/> <prosody rate="slow">world</prosody></speak>')
>>> [type(item).__name__ for item in doc]
['TextRun', 'Break', 'TextRun', 'TextRun']

Every item keeps the UTF-8 byte span of its source (``ssml.encode()[item.start:item.end]``), which is
what Polly's speech marks report. :func:`plain_text_document` gives plain input the same shape.
"""

from .model import (
    SILENT_DB,
    AutoBreaths,
    Break,
    Breath,
    Effects,
    EmotionSpec,
    Mark,
    ParagraphBoundary,
    PhonemeSpec,
    Prosody,
    SayAs,
    SentenceBoundary,
    SsmlDocument,
    SsmlItem,
    TextRun,
    TextStyle,
    plain_text_document,
)
from .parser import DEFAULT_MAX_SSML_BYTES, parse_ssml
from .speech_marks import check_speech_mark_types

__all__ = [
    "DEFAULT_MAX_SSML_BYTES",
    "SILENT_DB",
    "AutoBreaths",
    "Break",
    "Breath",
    "Effects",
    "EmotionSpec",
    "Mark",
    "ParagraphBoundary",
    "PhonemeSpec",
    "Prosody",
    "SayAs",
    "SentenceBoundary",
    "SsmlDocument",
    "SsmlItem",
    "TextRun",
    "TextStyle",
    "check_speech_mark_types",
    "parse_ssml",
    "plain_text_document",
]

"""Parse Polly-dialect SSML into an :class:`SsmlDocument`, keeping the byte span of everything.

The parser drives expat directly rather than ElementTree because ElementTree keeps no source offsets.
It applies the protections of ``defusedxml`` itself: a document type declaration, an entity declaration
or an external reference stops the parse at once (so billion-laughs and XXE payloads fail fast, before
any expansion), and the input size is capped before parsing starts. Namespace processing is off:
Polly accepts ``amazon:`` tags without a namespace declaration.
"""

from __future__ import annotations

import dataclasses
import logging
import xml.parsers.expat as expat
from dataclasses import dataclass, field

from voicesmith.errors import InvalidSsmlError, TextLengthExceededError

from . import values as v
from .model import (
    Break,
    Breath,
    Mark,
    ParagraphBoundary,
    SentenceBoundary,
    SsmlDocument,
    SsmlItem,
    TextRun,
    TextStyle,
)
from .tags import TAGS, TagSpec

_LOGGER = logging.getLogger(__name__)

DEFAULT_MAX_SSML_BYTES = 1_000_000
"""Cap on the UTF-8 size of one SSML input (the API front ends apply Polly's lower character limits)."""

_UNSUPPORTED = {
    "audio": "Polly does not play audio files",
    "voice": "choose the voice with the request's VoiceId instead",
    "lexicon": "pass lexicons by name with the request's LexiconNames instead",
    "lookup": "pass lexicons by name with the request's LexiconNames instead",
    "desc": "<audio> is not supported",
    "meta": "metadata is not supported",
    "metadata": "metadata is not supported",
}


@dataclass
class _Open:
    name: str
    spec: TagSpec
    style: TextStyle
    start: int
    tag_end: int
    has_text: bool = False
    item_index: int | None = None


@dataclass
class _State:
    stack: list[_Open] = field(default_factory=list)
    items: list[SsmlItem] = field(default_factory=list)
    pending: list[tuple[str, int]] = field(default_factory=list)
    lang: str | None = None


def parse_ssml(ssml: str, *, max_bytes: int = DEFAULT_MAX_SSML_BYTES) -> SsmlDocument:
    """Parse ``ssml`` (a complete ``<speak>`` document) with Polly's tag set and rules.

    Raises :class:`InvalidSsmlError` (with line and column) for XML that is not well formed, a root
    other than ``<speak>``, text outside it, an unknown tag or attribute, a missing required attribute,
    a value Polly does not accept, a break over 10 s, a DTD or entity declaration; and
    :class:`TextLengthExceededError` when the input is over ``max_bytes`` bytes of UTF-8.
    """
    try:
        data = ssml.encode("utf-8")
    except UnicodeEncodeError as error:
        reason = error.reason
        raise InvalidSsmlError(f"the SSML holds a character that is not valid Unicode: {reason}") from None
    if len(data) > max_bytes:
        raise TextLengthExceededError(
            f"the SSML is {len(data)} bytes long; the limit is {max_bytes} bytes: split the input"
        )
    return _SsmlParser(ssml, data).parse()


class _SsmlParser:
    def __init__(self, source: str, data: bytes) -> None:
        self._source = source
        self._data = data
        self._state = _State()
        parser = expat.ParserCreate(encoding="UTF-8")
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = self._forbid_dtd
        parser.EntityDeclHandler = self._forbid_entity
        parser.UnparsedEntityDeclHandler = self._forbid_entity
        parser.ExternalEntityRefHandler = self._forbid_external
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._text
        parser.CommentHandler = self._boundary
        parser.ProcessingInstructionHandler = self._boundary
        parser.StartCdataSectionHandler = self._boundary
        parser.EndCdataSectionHandler = self._boundary
        self._parser = parser

    def parse(self) -> SsmlDocument:
        try:
            self._parser.Parse(self._data, True)
        except expat.ExpatError as error:
            message = expat.errors.messages[error.code]
            raise InvalidSsmlError(_explain(message), error.lineno, error.offset + 1) from None
        _LOGGER.debug("parsed %d bytes of SSML into %d items", len(self._data), len(self._state.items))
        return SsmlDocument(
            items=tuple(self._state.items), source=self._source, is_ssml=True, lang=self._state.lang
        )

    # -- helpers -------------------------------------------------------------------------------
    def _error(self, message: str) -> InvalidSsmlError:
        return InvalidSsmlError(message, self._parser.CurrentLineNumber, self._parser.CurrentColumnNumber + 1)

    def _tag_end(self, start: int) -> int:
        """Byte offset just past the ``>`` closing the markup that begins at ``start``."""
        data, quote, index = self._data, 0, start
        while index < len(data):
            byte = data[index]
            if quote:
                if byte == quote:
                    quote = 0
            elif byte in (0x22, 0x27):
                quote = byte
            elif byte == 0x3E:
                return index + 1
            index += 1
        return len(data)

    def _flush(self, end: int) -> None:
        state = self._state
        if not state.pending:
            return
        # One piece per stretch of literal text; each entity, character reference or CRLF its own.
        pieces: list[tuple[int, int, int]] = []
        offset, last_linear = 0, False
        for index, (text, byte_start) in enumerate(state.pending):
            byte_end = state.pending[index + 1][1] if index + 1 < len(state.pending) else end
            linear = len(text.encode()) == byte_end - byte_start
            if linear and last_linear:
                pieces[-1] = (pieces[-1][0], pieces[-1][1], byte_end)
            else:
                pieces.append((offset, byte_start, byte_end))
            offset, last_linear = offset + len(text), linear
        text = "".join(text for text, _ in state.pending)
        start = state.pending[0][1]
        state.pending.clear()
        style = state.stack[-1].style
        state.items.append(TextRun(text=text, start=start, end=end, style=style, pieces=tuple(pieces)))

    # -- expat handlers ------------------------------------------------------------------------
    def _forbid_dtd(self, *_: object) -> None:
        raise self._error("document type declarations (<!DOCTYPE>) are not allowed in SSML")

    def _forbid_entity(self, *_: object) -> None:
        raise self._error("entity declarations are not allowed in SSML")

    def _forbid_external(self, *_: object) -> int:
        raise self._error("external entity references are not allowed in SSML")

    def _boundary(self, *_: object) -> None:
        self._flush(self._parser.CurrentByteIndex)

    def _text(self, text: str) -> None:
        state = self._state
        if not state.stack:
            return  # whitespace around the root; expat itself rejects anything else
        top = state.stack[-1]
        if top.spec.content == "empty":
            if text.strip():
                raise self._error(f"<{top.name}> must be empty, but it contains text")
            return
        if text.strip():
            top.has_text = True
        state.pending.append((text, self._parser.CurrentByteIndex))

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        state = self._state
        start = self._parser.CurrentByteIndex
        self._flush(start)
        spec = self._check_tag(name, attrs)
        parent_style = state.stack[-1].style if state.stack else TextStyle()
        try:
            style = spec.apply(parent_style, attrs, start) if spec.apply else parent_style
        except v.AttributeValueError as error:
            raise self._error(f"<{name}>: {error}") from None
        tag_end = self._tag_end(start)
        if not state.stack:
            state.lang = style.lang
        state.stack.append(_Open(name, spec, style, start, tag_end))
        try:
            item = self._item_for(name, attrs, start, tag_end)
        except v.AttributeValueError as error:
            raise self._error(f"<{name}>: {error}") from None
        if item is not None:
            state.stack[-1].item_index = len(state.items)
            state.items.append(item)

    def _end(self, name: str) -> None:
        state = self._state
        index = self._parser.CurrentByteIndex
        self._flush(index)
        top = state.stack.pop()
        self_closing = self._data[top.tag_end - 2 : top.tag_end] == b"/>"
        if top.spec.content == "text" and not top.has_text:
            raise self._error(f"<{name}> must contain the text it applies to")
        if top.item_index is not None and not self_closing and name not in ("s", "p"):
            # <break></break>: the item spans the closing tag too.
            item = state.items[top.item_index]
            state.items[top.item_index] = dataclasses.replace(item, end=self._tag_end(index))
        if name in ("s", "p"):
            # A self-closing tag reports its end where the tag ends; a closing tag where "</" starts.
            end = index if self_closing else self._tag_end(index)
            boundary = SentenceBoundary if name == "s" else ParagraphBoundary
            state.items.append(boundary(opening=False, start=min(index, end), end=end))

    # -- validation ----------------------------------------------------------------------------
    def _check_tag(self, name: str, attrs: dict[str, str]) -> TagSpec:
        stack = self._state.stack
        if not stack and name != "speak":
            raise self._error(f"the root element must be <speak>, not <{name}>")
        if stack:
            parent = stack[-1]
            if parent.spec.content != "mixed":
                raise self._error(f"<{parent.name}> may contain only text, not <{name}>")
        if name == "speak" and stack:
            raise self._error("<speak> may only be the root element")
        spec = TAGS.get(name)
        if spec is None:
            hint = _UNSUPPORTED.get(name, "see the supported tags in Polly's SSML reference")
            raise self._error(f"unsupported tag <{name}>: {hint}")
        open_names = {entry.name for entry in stack}
        if name == "p" and open_names & {"p", "s"}:
            raise self._error("<p> cannot be inside another <p> or inside <s>")
        if name == "s" and "s" in open_names:
            raise self._error("<s> cannot be inside another <s>")
        for attribute in attrs:
            if attribute == "xmlns" or attribute.startswith("xmlns:"):
                continue
            if attribute not in spec.attributes:
                allowed = ", ".join(sorted(spec.attributes)) or "none"
                raise self._error(f"<{name}> has no attribute {attribute!r} (allowed: {allowed})")
        missing = sorted(spec.required - attrs.keys())
        if missing:
            raise self._error(f"<{name}> needs the attribute {missing[0]!r}")
        if spec.any_of and not spec.any_of & attrs.keys():
            wanted = ", ".join(sorted(spec.any_of))
            raise self._error(f"<{name}> needs at least one of the attributes: {wanted}")
        return spec

    def _item_for(self, name: str, attrs: dict[str, str], start: int, end: int) -> SsmlItem | None:
        if name == "break":
            return _break(attrs, start, end)
        if name == "mark":
            mark_name = attrs["name"]
            if not mark_name.strip():
                raise v.AttributeValueError("mark name is empty: give the name to report")
            return Mark(name=mark_name, start=start, end=end)
        if name == "amazon:breath":
            duration = v.enum_value(attrs.get("duration", "medium"), v.BREATH_DURATIONS, "duration")
            volume = v.enum_value(attrs.get("volume", "medium"), v.BREATH_VOLUMES, "volume")
            return Breath(
                volume="medium" if volume == "default" else volume,
                duration="medium" if duration == "default" else duration,
                start=start,
                end=end,
            )
        if name == "s":
            return SentenceBoundary(opening=True, start=start, end=end)
        if name == "p":
            return ParagraphBoundary(opening=True, start=start, end=end)
        return None


def _break(attrs: dict[str, str], start: int, end: int) -> Break:
    strength = attrs.get("strength")
    if strength is not None:
        v.enum_value(strength, v.BREAK_STRENGTH_MS, "break strength")
    if "time" in attrs:
        ms = v.parse_time_ms(attrs["time"], "break time", maximum_ms=v.MAX_BREAK_MS)
        return Break(time_ms=ms, strength=strength, start=start, end=end, timed=True)
    return Break(time_ms=v.BREAK_STRENGTH_MS[strength or "medium"], strength=strength, start=start, end=end)


def _explain(message: str) -> str:
    if message.startswith("undefined entity"):
        return (
            f"not well-formed XML: {message}; write a literal & as &amp; "
            "(only &amp; &lt; &gt; &quot; &apos; exist)"
        )
    if message.startswith("junk after document element"):
        return f"not well-formed XML: {message}; all text and tags must be inside <speak>...</speak>"
    if message.startswith("not well-formed") or message.startswith("syntax error"):
        return (
            f"not well-formed XML: {message}; check for text outside <speak>, a bare & (write &amp;) "
            "or < (write &lt;), or an unclosed tag"
        )
    return f"not well-formed XML: {message}"


__all__ = ["DEFAULT_MAX_SSML_BYTES", "parse_ssml"]

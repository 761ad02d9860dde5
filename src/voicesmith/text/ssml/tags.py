"""Polly's SSML tag set: which attributes each tag takes, what it may contain, how it changes the style.

Tags are matched by their qualified name as written (``amazon:effect``, ``mstts:express-as``): Polly
accepts the ``amazon:`` prefix without a namespace declaration, so the parser does no namespace
processing. ``xmlns`` and ``xmlns:*`` attributes are accepted on any tag and ignored.
Tags Polly rejects (``audio``, ``voice``, ``lexicon``, ``lookup``, ...) are simply absent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from voicesmith.text.phonemes import xsampa_to_ipa

from . import values as v
from .model import AutoBreaths, EmotionSpec, PhonemeSpec, SayAs, TextStyle

Content = Literal["empty", "text", "mixed"]
Apply = Callable[[TextStyle, Mapping[str, str], int], TextStyle]


@dataclass(frozen=True)
class TagSpec:
    attributes: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()
    any_of: frozenset[str] = frozenset()
    """At least one of these must be present (``<prosody>`` with no attribute says nothing)."""
    content: Content = "mixed"
    """``empty``: no content at all; ``text``: character data only; ``mixed``: text and tags."""
    apply: Apply | None = None


def _lang(style: TextStyle, attrs: Mapping[str, str], _: int) -> TextStyle:
    if "xml:lang" in attrs:
        return dataclasses.replace(style, lang=v.parse_language(attrs["xml:lang"]))
    return style


def _emphasis(style: TextStyle, attrs: Mapping[str, str], _: int) -> TextStyle:
    level = v.enum_value(attrs.get("level", "moderate"), v.EMPHASIS_LEVELS, "emphasis level")
    return dataclasses.replace(style, emphasis=level)


def _prosody(style: TextStyle, attrs: Mapping[str, str], offset: int) -> TextStyle:
    prosody = style.prosody
    changes: dict[str, object] = {}
    if "rate" in attrs:
        changes["rate"] = v.parse_rate(attrs["rate"])
    if "volume" in attrs:
        changes["volume_db"] = v.parse_volume(attrs["volume"], prosody.volume_db)
    if "pitch" in attrs:
        st, hz = v.parse_pitch(attrs["pitch"], prosody.pitch_semitones, prosody.pitch_hz)
        changes["pitch_semitones"], changes["pitch_hz"] = st, hz
    if "amazon:max-duration" in attrs:
        changes["max_duration_ms"] = v.parse_time_ms(attrs["amazon:max-duration"], "amazon:max-duration")
        changes["max_duration_id"] = offset
    return dataclasses.replace(style, prosody=dataclasses.replace(prosody, **changes))


def _say_as(style: TextStyle, attrs: Mapping[str, str], _: int) -> TextStyle:
    interpret_as = v.enum_value(attrs["interpret-as"], v.SAY_AS_INTERPRET_AS, "say-as interpret-as")
    fmt = attrs.get("format")
    if interpret_as == "date" and fmt is not None:
        v.enum_value(fmt, v.DATE_FORMATS, "say-as date format")
    say_as = SayAs(interpret_as=interpret_as, format=fmt, detail=attrs.get("detail"))
    return dataclasses.replace(style, say_as=say_as)


def _sub(style: TextStyle, attrs: Mapping[str, str], _: int) -> TextStyle:
    return dataclasses.replace(style, sub_alias=attrs["alias"])


def _phoneme(style: TextStyle, attrs: Mapping[str, str], _: int) -> TextStyle:
    alphabet = v.enum_value(attrs.get("alphabet", "ipa"), v.PHONEME_ALPHABETS, "phoneme alphabet")
    ph = attrs["ph"].strip()
    if not ph:
        raise v.AttributeValueError("phoneme ph is empty: give the pronunciation")
    if alphabet == "x-sampa":
        try:
            xsampa_to_ipa(ph)
        except ValueError as error:
            raise v.AttributeValueError(f"phoneme ph: {error}") from None
    return dataclasses.replace(style, phoneme=PhonemeSpec(alphabet=alphabet, ph=ph))


def _w(style: TextStyle, attrs: Mapping[str, str], _: int) -> TextStyle:
    return dataclasses.replace(style, w_role=v.enum_value(attrs["role"], v.W_ROLES, "w role"))


def _effect(style: TextStyle, attrs: Mapping[str, str], _: int) -> TextStyle:
    effects = style.effects
    changes: dict[str, object] = {}
    if "name" in attrs:
        name = v.enum_value(attrs["name"], frozenset({"drc", "whispered"}), "amazon:effect name")
        changes[name] = True
    if "phonation" in attrs:
        v.enum_value(attrs["phonation"], frozenset({"soft"}), "amazon:effect phonation")
        changes["soft_phonation"] = True
    if "vocal-tract-length" in attrs:
        changes["vocal_tract_length_percent"] = v.parse_vocal_tract_length(
            attrs["vocal-tract-length"], effects.vocal_tract_length_percent
        )
    return dataclasses.replace(style, effects=dataclasses.replace(effects, **changes))


def _domain(style: TextStyle, attrs: Mapping[str, str], _: int) -> TextStyle:
    domain = v.enum_value(attrs["name"], v.DOMAINS, "amazon:domain name")
    return dataclasses.replace(style, effects=dataclasses.replace(style.effects, domain=domain))


def _emotion(style: TextStyle, attrs: Mapping[str, str], _: int) -> TextStyle:
    label = v.parse_label(attrs["name"], "amazon:emotion name")
    level = v.enum_value(attrs.get("intensity", "medium"), v.EMOTION_INTENSITY, "amazon:emotion intensity")
    emotion = EmotionSpec(label=label, intensity=v.EMOTION_INTENSITY[level])
    return dataclasses.replace(style, effects=dataclasses.replace(style.effects, emotion=emotion))


def _express_as(style: TextStyle, attrs: Mapping[str, str], _: int) -> TextStyle:
    label = v.parse_label(attrs["style"], "mstts:express-as style")
    degree = v.parse_style_degree(attrs["styledegree"]) if "styledegree" in attrs else 1.0
    emotion = EmotionSpec(label=label, intensity=degree)
    return dataclasses.replace(style, effects=dataclasses.replace(style.effects, emotion=emotion))


def _auto_breaths(style: TextStyle, attrs: Mapping[str, str], _: int) -> TextStyle:
    def pick(name: str, allowed: frozenset[str]) -> str:
        value = v.enum_value(attrs.get(name, "medium"), allowed, f"amazon:auto-breaths {name}")
        return "medium" if value == "default" else value

    breaths = AutoBreaths(
        volume=pick("volume", v.BREATH_VOLUMES),
        frequency=pick("frequency", v.BREATH_FREQUENCIES),
        duration=pick("duration", v.BREATH_DURATIONS),
    )
    return dataclasses.replace(style, effects=dataclasses.replace(style.effects, auto_breaths=breaths))


_LANG_ONLY = frozenset({"xml:lang"})

TAGS: dict[str, TagSpec] = {
    "speak": TagSpec(frozenset({"xml:lang", "version", "xml:base", "xsi:schemaLocation"}), apply=_lang),
    "p": TagSpec(_LANG_ONLY, apply=_lang),
    "s": TagSpec(_LANG_ONLY, apply=_lang),
    "lang": TagSpec(frozenset({"xml:lang", "onlangfailure"}), required=_LANG_ONLY, apply=_lang),
    "break": TagSpec(frozenset({"strength", "time"}), content="empty"),
    "mark": TagSpec(frozenset({"name"}), required=frozenset({"name"}), content="empty"),
    "emphasis": TagSpec(frozenset({"level"}), apply=_emphasis),
    "prosody": TagSpec(
        frozenset({"rate", "volume", "pitch", "amazon:max-duration"}),
        any_of=frozenset({"rate", "volume", "pitch", "amazon:max-duration"}),
        apply=_prosody,
    ),
    "say-as": TagSpec(
        frozenset({"interpret-as", "format", "detail"}),
        required=frozenset({"interpret-as"}),
        content="text",
        apply=_say_as,
    ),
    "sub": TagSpec(frozenset({"alias"}), required=frozenset({"alias"}), content="text", apply=_sub),
    "phoneme": TagSpec(
        frozenset({"alphabet", "ph"}), required=frozenset({"ph"}), content="text", apply=_phoneme
    ),
    "w": TagSpec(frozenset({"role"}), required=frozenset({"role"}), content="text", apply=_w),
    "amazon:effect": TagSpec(
        frozenset({"name", "phonation", "vocal-tract-length"}),
        any_of=frozenset({"name", "phonation", "vocal-tract-length"}),
        apply=_effect,
    ),
    "amazon:domain": TagSpec(frozenset({"name"}), required=frozenset({"name"}), apply=_domain),
    "amazon:emotion": TagSpec(frozenset({"name", "intensity"}), required=frozenset({"name"}), apply=_emotion),
    "mstts:express-as": TagSpec(
        frozenset({"style", "styledegree", "role"}), required=frozenset({"style"}), apply=_express_as
    ),
    "amazon:auto-breaths": TagSpec(frozenset({"volume", "frequency", "duration"}), apply=_auto_breaths),
    "amazon:breath": TagSpec(frozenset({"duration", "volume"}), content="empty"),
}

"""Attribute values Polly accepts, and what they mean in numbers.

Polly documents the words (``x-slow``, ``loud``, ...) but not the numbers behind them; the numbers here
are voicesmith's calibration, kept in one place. Each ``parse_*`` function raises
:class:`AttributeValueError` with a message that lists what is allowed; the parser turns it into
:class:`voicesmith.errors.InvalidSsmlError` with the line and column of the tag.
"""

from __future__ import annotations

import math
import re

from .model import SILENT_DB


class AttributeValueError(ValueError):
    """A value a tag does not accept (internal: the parser adds the position and re-raises)."""


MAX_BREAK_MS = 10_000
"""Polly: a ``<break>`` lasts at most 10 s."""

BREAK_STRENGTH_MS: dict[str, int] = {
    "none": 0,
    "x-weak": 0,  # Polly: same as none
    "weak": 250,  # the pause after a comma
    "medium": 250,  # Polly: same as weak; the default of a bare <break/>
    "strong": 500,  # the pause after a sentence
    "x-strong": 1000,  # the pause after a paragraph
}

RATE_PRESETS: dict[str, float] = {
    "x-slow": 0.5,
    "slow": 0.75,
    "medium": 1.0,
    "default": 1.0,
    "fast": 1.3,
    "x-fast": 1.6,
}
MIN_RATE_PERCENT = 20
MAX_RATE_PERCENT = 200

VOLUME_PRESETS_DB: dict[str, float] = {
    "silent": SILENT_DB,
    "x-soft": -12.0,
    "soft": -6.0,
    "medium": 0.0,
    "default": 0.0,
    "loud": 6.0,
    "x-loud": 12.0,
}
MAX_VOLUME_DB = 60.0
"""The most one ``volume="+NdB"`` may change, and the furthest nested ones may take the level."""

PITCH_PRESETS_ST: dict[str, float] = {
    "x-low": -6.0,
    "low": -3.0,
    "medium": 0.0,
    "default": 0.0,
    "high": 3.0,
    "x-high": 6.0,
}
MAX_PITCH_ST = 24.0
MAX_PITCH_HZ = 1000.0
"""Nested ``+NHz`` pitches add up; beyond this the voice's f0 would leave the range of speech."""

EMPHASIS_LEVELS = frozenset({"strong", "moderate", "reduced"})

SAY_AS_INTERPRET_AS = frozenset(
    {
        "characters",
        "spell-out",
        "cardinal",
        "number",
        "ordinal",
        "digits",
        "fraction",
        "unit",
        "date",
        "time",
        "address",
        "expletive",
        "telephone",
    }
)
DATE_FORMATS = frozenset({"mdy", "dmy", "ymd", "md", "dm", "ym", "my", "d", "m", "y", "yyyymmdd"})

W_ROLES = frozenset(
    {"amazon:VB", "amazon:VBD", "amazon:NN", "amazon:DT", "amazon:IN", "amazon:JJ", "amazon:SENSE_1"}
)
DOMAINS = frozenset({"news", "conversational", "long-form"})
PHONEME_ALPHABETS = frozenset({"ipa", "x-sampa"})

BREATH_DURATIONS = frozenset({"default", "x-short", "short", "medium", "long", "x-long"})
BREATH_VOLUMES = frozenset({"default", "x-soft", "soft", "medium", "loud", "x-loud"})
BREATH_FREQUENCIES = frozenset({"default", "x-low", "low", "medium", "high", "x-high"})

EMOTION_INTENSITY: dict[str, float] = {"low": 0.5, "medium": 1.0, "high": 1.5}
MIN_STYLE_DEGREE = 0.01
MAX_STYLE_DEGREE = 2.0

MIN_VOCAL_TRACT_PERCENT = 50.0
MAX_VOCAL_TRACT_PERCENT = 200.0

_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
_TIME = re.compile(rf"^{_NUMBER}(ms|s)$")
_PERCENT = re.compile(rf"^{_NUMBER}%$")
_SIGNED = re.compile(rf"^([+-]){_NUMBER}(dB|%|st|Hz)$")
_SIGNED_PERCENT = re.compile(rf"^([+-])?{_NUMBER}%$")
_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


def _choices(values: object) -> str:
    return ", ".join(sorted(values))  # type: ignore[call-overload]


def enum_value(value: str, allowed: frozenset[str] | dict[str, object], what: str) -> str:
    if value not in allowed:
        raise AttributeValueError(f"{what} {value!r} is not one of: {_choices(allowed)}")
    return value


def parse_time_ms(value: str, what: str, *, maximum_ms: int | None = None) -> int:
    """``3s``, ``1.5s`` or ``500ms`` to whole milliseconds."""
    match = _TIME.fullmatch(value.strip())
    if match is None:
        raise AttributeValueError(f"{what} {value!r} is not a duration such as '500ms' or '2s'")
    number = float(match.group(1))
    if not math.isfinite(number) or number > 1e12:  # 400 nines are a float, but no duration
        raise AttributeValueError(f"{what} {value[:40]!r} is not a duration such as '500ms' or '2s'")
    ms = round(number * 1000 if match.group(2) == "s" else number)
    if maximum_ms is not None and ms > maximum_ms:
        raise AttributeValueError(f"{what} {value!r} is longer than the maximum of {maximum_ms} ms")
    return ms


def parse_rate(value: str) -> float:
    """A rate preset or ``N%`` (20-200) to a multiplier of the voice's default rate."""
    value = value.strip()
    if value in RATE_PRESETS:
        return RATE_PRESETS[value]
    match = _PERCENT.fullmatch(value)
    if match is None:
        raise AttributeValueError(
            f"prosody rate {value!r} is neither a percentage such as '85%' nor one of: "
            f"{_choices(RATE_PRESETS)}"
        )
    percent = float(match.group(1))
    if not MIN_RATE_PERCENT <= percent <= MAX_RATE_PERCENT:
        raise AttributeValueError(
            f"prosody rate {value!r} is outside {MIN_RATE_PERCENT}%-{MAX_RATE_PERCENT}%"
        )
    return percent / 100.0


def parse_volume(value: str, current_db: float) -> float:
    """A volume preset (absolute) or ``+NdB``/``-NdB`` (relative to ``current_db``)."""
    value = value.strip()
    if value in VOLUME_PRESETS_DB:
        return VOLUME_PRESETS_DB[value]
    match = _SIGNED.fullmatch(value)
    if match is None or match.group(3) != "dB":
        raise AttributeValueError(
            f"prosody volume {value!r} is neither a signed gain such as '+6dB' nor one of: "
            f"{_choices(VOLUME_PRESETS_DB)}"
        )
    gain = float(match.group(2)) * (1 if match.group(1) == "+" else -1)
    if abs(gain) > MAX_VOLUME_DB:
        raise AttributeValueError(f"prosody volume {value!r} is beyond +/-{MAX_VOLUME_DB:g} dB")
    if not math.isfinite(current_db):
        return current_db
    # Nested relative volumes add up; held within +/-MAX_VOLUME_DB of the voice's own level, as a
    # mixer's fader stops, so no nesting depth can overflow the gain (10 ** (dB / 20)).
    return min(MAX_VOLUME_DB, max(-MAX_VOLUME_DB, current_db + gain))


def parse_pitch(value: str, current_st: float, current_hz: float) -> tuple[float, float]:
    """A pitch preset (absolute) or ``+N%``, ``+Nst``, ``+NHz`` (relative) to (semitones, Hz)."""
    value = value.strip()
    if value in PITCH_PRESETS_ST:
        return PITCH_PRESETS_ST[value], 0.0
    match = _SIGNED.fullmatch(value)
    if match is None or match.group(3) == "dB":
        raise AttributeValueError(
            f"prosody pitch {value!r} is neither a signed change such as '+10%', '-2st' or '+20Hz' "
            f"nor one of: {_choices(PITCH_PRESETS_ST)}"
        )
    sign = 1 if match.group(1) == "+" else -1
    amount = float(match.group(2)) * sign
    unit = match.group(3)
    if unit == "Hz":
        if abs(current_hz + amount) > MAX_PITCH_HZ:
            raise AttributeValueError(f"prosody pitch {value[:40]!r} moves beyond +/-{MAX_PITCH_HZ:g} Hz")
        return current_st, current_hz + amount
    if unit == "%":
        if amount <= -100:
            raise AttributeValueError(f"prosody pitch {value!r} must be above -100%")
        amount = 12.0 * math.log2(1.0 + amount / 100.0)
    if abs(current_st + amount) > MAX_PITCH_ST:
        raise AttributeValueError(f"prosody pitch {value!r} moves beyond +/-{MAX_PITCH_ST:g} semitones")
    return current_st + amount, current_hz


def parse_vocal_tract_length(value: str, current_percent: float) -> float:
    """``+N%``/``-N%`` (relative to the current length) or ``N%`` (absolute), clipped like Polly."""
    match = _SIGNED_PERCENT.fullmatch(value.strip())
    if match is None:
        raise AttributeValueError(
            f"vocal-tract-length {value!r} is not a percentage such as '+10%', '-5%' or '110%'"
        )
    sign, amount = match.group(1), float(match.group(2))
    if sign is None:
        percent = amount
    else:
        percent = current_percent * (1.0 + (amount if sign == "+" else -amount) / 100.0)
    return min(MAX_VOCAL_TRACT_PERCENT, max(MIN_VOCAL_TRACT_PERCENT, percent))


def parse_style_degree(value: str) -> float:
    try:
        degree = float(value)
    except ValueError:
        degree = math.nan
    if not MIN_STYLE_DEGREE <= degree <= MAX_STYLE_DEGREE:
        raise AttributeValueError(
            f"styledegree {value!r} is not a number from {MIN_STYLE_DEGREE} to {MAX_STYLE_DEGREE}"
        )
    return degree


def parse_label(value: str, what: str) -> str:
    """An emotion or style name: a short identifier, kept as written."""
    if _LABEL.fullmatch(value) is None:
        raise AttributeValueError(f"{what} {value!r} is not a name such as 'excited' or 'sad'")
    return value


def parse_language(value: str) -> str:
    if _LANGUAGE_TAG.fullmatch(value) is None:
        raise AttributeValueError(f"xml:lang {value!r} is not a language tag such as 'en-US'")
    return value

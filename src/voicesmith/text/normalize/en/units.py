"""Units of measure after a number: "5 kg" -> "five kilograms", "1 km/h" -> "one kilometer per hour".

A unit is only read as a unit right after a number. Symbols that are also English words or letters are
guarded: "in" is inches only when glued to the number ("12in"), written "in." or closing a phrase
("it is 12 in, not 13"); "5 in the box" stays "in".
"""

from __future__ import annotations

import re

_U = tuple[str, str]  # (singular, plural)

UNITS: dict[str, _U] = {
    # length
    "km": ("kilometer", "kilometers"),
    "m": ("meter", "meters"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "µm": ("micrometer", "micrometers"),
    "nm": ("nanometer", "nanometers"),
    "mi": ("mile", "miles"),
    "yd": ("yard", "yards"),
    "ft": ("foot", "feet"),
    "in": ("inch", "inches"),
    # area, volume
    "m²": ("square meter", "square meters"),
    "km²": ("square kilometer", "square kilometers"),
    "m³": ("cubic meter", "cubic meters"),
    "sq ft": ("square foot", "square feet"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "l": ("liter", "liters"),
    "L": ("liter", "liters"),
    "gal": ("gallon", "gallons"),
    # mass
    "kg": ("kilogram", "kilograms"),
    "g": ("gram", "grams"),
    "mg": ("milligram", "milligrams"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    # speed
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "m/s": ("meter per second", "meters per second"),
    # data
    "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"),
    "PB": ("petabyte", "petabytes"),
    "kbps": ("kilobit per second", "kilobits per second"),
    "Mbps": ("megabit per second", "megabits per second"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    # frequency, electricity
    "Hz": ("hertz", "hertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"),
    "W": ("watt", "watts"),
    "kW": ("kilowatt", "kilowatts"),
    "MW": ("megawatt", "megawatts"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "V": ("volt", "volts"),
    "mV": ("millivolt", "millivolts"),
    "kV": ("kilovolt", "kilovolts"),
    "mA": ("milliamp", "milliamps"),
    "mAh": ("milliamp hour", "milliamp hours"),
    # time
    "s": ("second", "seconds"),
    "sec": ("second", "seconds"),
    "ms": ("millisecond", "milliseconds"),
    "µs": ("microsecond", "microseconds"),
    "ns": ("nanosecond", "nanoseconds"),
    "h": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "hrs": ("hour", "hours"),
    "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"),
    "yr": ("year", "years"),
    "yrs": ("year", "years"),
    # temperature, angle, ratio
    "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    "%": ("percent", "percent"),
}

_ALIASES = {
    "° C": "°C",
    "° F": "°F",
    "℃": "°C",
    "℉": "°F",
    "m2": "m²",
    "km2": "km²",
    "m3": "m³",
    "kmh": "km/h",
}

_NAMES = sorted([*UNITS, *_ALIASES], key=len, reverse=True)
_UNIT_RE = re.compile(
    r"(?P<space>[ \u00a0]?)(?P<unit>" + "|".join(re.escape(name) for name in _NAMES) + r")(?![\w/²³])"
)


_AFTER_FEET = re.compile(r"(?:ft|feet|foot|')\.?\s*$")
_PHRASE_END = re.compile(r"\s*(?:$|[,;:)\]!?]|\.(?:\s|$))")


def match_unit(text: str, pos: int, number_start: int | None = None) -> tuple[str, str, int, int] | None:
    """A unit right after a number ending at ``pos``: (singular, plural, unit start, unit end) or None.

    ``number_start`` lets "6 ft 2 in" read the second "in" as inches."""
    match = _UNIT_RE.match(text, pos)
    if match is None:
        return None
    unit = _ALIASES.get(match["unit"], match["unit"])
    start, end = match.start("unit"), match.end("unit")
    if unit == "in":
        if text.startswith(".", end):
            end += 1  # "12 in." is inches and the period belongs to the abbreviation
        elif match["space"] and not _PHRASE_END.match(text, end):
            before = text[max(0, (number_start or pos) - 8) : number_start or pos]
            if not _AFTER_FEET.search(before):
                return None
    singular, plural = UNITS[unit]
    return singular, plural, start, end


def is_singular(int_part: str, frac_part: str | None) -> bool:
    """Unit agreement: only a plain (+/-)1 takes the singular ("1 kg", but "1.0 kg", "2 kg" plural)."""
    return frac_part is None and int_part.replace(",", "").lstrip("+-−") == "1"

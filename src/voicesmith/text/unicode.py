"""The one check on text as it enters: it must be valid Unicode, i.e. encodable as UTF-8.

JSON allows ``"\\ud800"`` (a lone UTF-16 surrogate) and Python decodes it into a ``str`` that cannot be
encoded, so every later ``.encode()`` (byte spans of speech marks, the SSML parser, the database)
would fail as an internal error. Each door passes what it receives through :func:`check_text` first.
"""

from __future__ import annotations

import re

from voicesmith.errors import InvalidTextError

_SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(text: str, what: str = "text") -> str:
    """``text`` unchanged, or :class:`InvalidTextError` naming the first lone surrogate and where it is."""
    if isinstance(text, str):
        found = _SURROGATE.search(text)
        if found is not None:
            raise InvalidTextError(
                f"{what} is not valid Unicode: character {found.start()} is a lone surrogate "
                f"(U+{ord(found.group()):04X}), which has no UTF-8 encoding; send the text as valid "
                "UTF-8 (pair the surrogates, or drop them)"
            )
    return text

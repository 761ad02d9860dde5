"""voicesmith: self-hosted speech synthesis.

The public Python API::

    from voicesmith import Synthesizer, SynthesisRequest

    synth = Synthesizer()
    result = synth.synthesize(SynthesisRequest(text="Hello there.", voice="joe"))
    result.write("hello.wav")
    for chunk in synth.stream(SynthesisRequest(text="A long text ...")):
        ...  # chunk.audio (float32), chunk.sample_rate, chunk.phonemes
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = [
    "AudioChunk",
    "PhonemeTiming",
    "Settings",
    "SynthesisRequest",
    "SynthesisResult",
    "Synthesizer",
    "VoiceCatalog",
    "VoiceInfo",
    "__version__",
]


def __getattr__(name: str):  # lazy: `import voicesmith` stays cheap for the CLI's --version
    if name in ("AudioChunk", "PhonemeTiming", "SynthesisRequest", "SynthesisResult"):
        from voicesmith.engine import requests

        return getattr(requests, name)
    if name == "Synthesizer":
        from voicesmith.engine.synthesizer import Synthesizer

        return Synthesizer
    if name in ("VoiceCatalog", "VoiceInfo"):
        from voicesmith.engine import catalog

        return getattr(catalog, name)
    if name == "Settings":
        from voicesmith.settings import Settings

        return Settings
    raise AttributeError(name)

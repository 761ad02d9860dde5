"""Audio output and voice effects.

- :mod:`.formats`: the output formats (names, content types, extensions, sample rates, defaults) and
  the format for a file name.
- :mod:`.encode`: ``encode`` / ``decode`` whole signals and ``StreamEncoder`` for chunked output.
- :mod:`.resample`: soxr resampling, whole or streamed (``StreamResampler``).
- :mod:`.effects`: gain, fade, spectral tilt, DRC, and the WORLD-based pitch, range, whisper, soft
  phonation and vocal tract length, bundled in ``Transform``.

Nothing is imported here, so that ``import voicesmith.audio.formats`` stays cheap (no WORLD, no PyAV).
"""

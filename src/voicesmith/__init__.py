"""voicesmith: self-hosted speech synthesis.

The public Python API lives here; everything else is an implementation detail.
"""

from __future__ import annotations

__version__ = "0.1.0"

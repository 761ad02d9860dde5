"""``python -m voicesmith.cli``: the same as the ``voicesmith`` command."""

from voicesmith.cli import main

main()

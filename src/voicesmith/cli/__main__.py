"""``python -m voicesmith.cli``: the ``voicesmith`` command (torchrun launches it this way)."""

from voicesmith.cli import main

if __name__ == "__main__":
    main()

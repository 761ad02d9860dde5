"""``python -m voicesmith.cli`` (used by torchrun, which launches modules)."""

from voicesmith.cli import main

if __name__ == "__main__":
    main()

"""Pieces shared by the commands: settings, the synthesizer, reading text."""

from __future__ import annotations

import sys

import click

from voicesmith.errors import ValidationError


def read_text(text: str | None) -> str:
    """The argument, or standard input when the argument is absent or ``-``."""
    if text is not None and text != "-":
        return text
    if sys.stdin.isatty():
        raise click.UsageError("give the text as an argument or on standard input")
    data = sys.stdin.read()
    if not data.strip():
        raise ValidationError("standard input is empty: nothing to speak")
    return data

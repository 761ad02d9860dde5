"""The ``voicesmith`` command line.

Each command lives in its own module and is imported only when it runs, so ``voicesmith say`` never
pays for the server or the trainer. Register a command by adding it to ``_COMMANDS``.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from voicesmith import __version__
from voicesmith.errors import VoicesmithError

# name -> "module:attribute" of a click command
_COMMANDS: dict[str, tuple[str, str]] = {
    "say": ("voicesmith.cli.say:say", "Speak text or SSML to an audio file or stdout."),
    "serve": ("voicesmith.cli.serve:serve", "Serve the Amazon Polly and OpenAI speech APIs over HTTP."),
    "voices": ("voicesmith.cli.voices:voices", "List, show, add and remove voices."),
    "db": ("voicesmith.cli.db:db", "Upgrade the database schema; write new migrations."),
    "dataset": ("voicesmith.cli.dataset:dataset", "Check and prepare recordings for a custom voice."),
    "emotion": ("voicesmith.cli.emotion:emotion", "Show the emotion the analyser hears in each sentence."),
    "train": ("voicesmith.cli.train:train", "Fine-tune a voice on a prepared dataset."),
    "export": ("voicesmith.cli.export:export", "Export a trained run as a voice folder."),
    "worker": ("voicesmith.cli.worker:worker", "Run synthesis tasks and voice-job watchers without HTTP."),
    "evaluate": (
        "voicesmith.cli.evaluate:evaluate",
        "Measure a voice: intelligibility, pitch, closeness to a speaker.",
    ),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in _COMMANDS:
            return None
        module_name, attribute = _COMMANDS[name][0].split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, help_text) in sorted(_COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except VoicesmithError as error:
            click.echo(f"voicesmith: error: {error.message}", err=True)
            sys.exit(2)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="voicesmith")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """voicesmith: self-hosted speech synthesis with the Amazon Polly and OpenAI speech APIs."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")

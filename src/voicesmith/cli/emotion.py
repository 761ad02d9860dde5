"""``voicesmith emotion``: show the emotion the analyser hears in each sentence."""

from __future__ import annotations

import json
import sys
from typing import TextIO

import click

from voicesmith.errors import ValidationError
from voicesmith.text.sentences import split_sentences as split_text_sentences


def split_sentences(text: str) -> list[str]:
    """Sentences of each line (the text package's abbreviation-aware splitter); blank pieces dropped."""
    return [sentence.text for line in text.splitlines() for sentence in split_text_sentences(line)]


def _read_input(text: str | None, file: TextIO | None) -> list[str]:
    if file is not None:
        if text is not None:
            raise click.UsageError("give the text as an argument or with --file, not both")
        return [line.strip() for line in file if line.strip()]
    if text is None or text == "-":
        if sys.stdin.isatty():
            raise click.UsageError("give the text as an argument, with --file, or on standard input")
        text = sys.stdin.read()
    sentences = split_sentences(text)
    if not sentences:
        raise ValidationError("The text is empty: give at least one sentence to analyse.")
    return sentences


@click.command()
@click.argument("text", required=False)
@click.option(
    "--file",
    "-f",
    type=click.File("r", encoding="utf-8"),
    help="Read one sentence per line from this file ('-' for stdin); prints one JSON object per line.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object per sentence instead of a table."
)
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Score an emotion needs to replace neutral (default: the model's tuned threshold).",
)
def emotion(text: str | None, file: TextIO | None, as_json: bool, threshold: float | None) -> None:
    """Analyse the emotion of TEXT (or stdin), sentence by sentence.

    Each sentence gets a label (neutral, angry, happy, sad, surprise), the scores of the five labels and
    an intensity from 0 to 2.
    """
    from voicesmith.emotion.analyze import EmotionAnalyzer

    sentences = _read_input(text, file)
    analyzer = EmotionAnalyzer.default() if threshold is None else EmotionAnalyzer(threshold=threshold)
    results = analyzer.analyze_sentences(sentences)
    if as_json or file is not None:
        for sentence, result in zip(sentences, results, strict=True):
            record = {
                "text": sentence,
                "label": result.label.value,
                "scores": result.scores,
                "intensity": result.intensity,
                "ekman": result.ekman,
            }
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    _print_table(sentences, results)


def _print_table(sentences: list[str], results: list) -> None:
    from rich.console import Console
    from rich.table import Table

    from voicesmith.emotion.labels import SPOKEN_EMOTIONS

    table = Table(show_lines=False)
    table.add_column("sentence", overflow="fold")
    table.add_column("label", style="bold")
    table.add_column("intensity", justify="right")
    for emotion_label in SPOKEN_EMOTIONS:
        table.add_column(emotion_label.value, justify="right")
    for sentence, result in zip(sentences, results, strict=True):
        scores = [f"{result.scores[e.value]:.2f}" for e in SPOKEN_EMOTIONS]
        table.add_row(sentence, result.label.value, f"{result.intensity:.2f}", *scores)
    Console(soft_wrap=False).print(table)

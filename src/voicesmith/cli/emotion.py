"""``voicesmith emotion``: show the emotion the analyser hears in each sentence, and why."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TextIO

import click

from voicesmith.errors import ValidationError
from voicesmith.text.sentences import split_sentences as split_text_sentences

_PARAGRAPH = re.compile(r"\n[ \t]*\n")


def split_sentences(text: str) -> list[str]:
    """Sentences of each line (the text package's abbreviation-aware splitter); blank pieces dropped."""
    return [sentence.text for line in text.splitlines() for sentence in split_text_sentences(line)]


def _read_input(text: str | None, file: TextIO | None) -> tuple[list[str], list[int]]:
    """The sentences and a paragraph number for each. A --file holds one independent sentence a line
    (each its own paragraph: no context between lines); a text's paragraphs are split at blank lines."""
    if file is not None:
        if text is not None:
            raise click.UsageError("give the text as an argument or with --file, not both")
        lines = [line.strip() for line in file if line.strip()]
        return lines, list(range(len(lines)))
    if text is None or text == "-":
        if sys.stdin.isatty():
            raise click.UsageError("give the text as an argument, with --file, or on standard input")
        text = sys.stdin.read()
    sentences: list[str] = []
    paragraphs: list[int] = []
    for number, paragraph in enumerate(_PARAGRAPH.split(text)):
        found = split_sentences(paragraph)
        sentences += found
        paragraphs += [number] * len(found)
    if not sentences:
        raise ValidationError("The text is empty: give at least one sentence to analyse.")
    return sentences, paragraphs


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
    help="One score every emotion needs to replace neutral (default: the tuned per-label thresholds).",
)
@click.option(
    "--explain",
    is_flag=True,
    help="Show which words drove each decision (leave-one-word-out on the model) and the rule that decided.",
)
@click.option(
    "--lexicon",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Operator lexicon (phrase<TAB>emotion[<TAB>intensity] a line), applied before the model "
    "(default: VOICESMITH_EMOTION_LEXICON).",
)
def emotion(
    text: str | None,
    file: TextIO | None,
    as_json: bool,
    threshold: float | None,
    explain: bool,
    lexicon: Path | None,
) -> None:
    """Analyse the emotion of TEXT (or stdin), sentence by sentence.

    Each sentence gets a label (neutral, angry, happy, sad, surprise), the scores of the five labels, an
    intensity from 0 to 2, what decided it (model, cue, lexicon) and, as ``spoken``, the label
    ``emotion=auto`` speaks it with once a paragraph's emotion carries to its short follow-ups.
    """
    from voicesmith.emotion.analyze import EmotionAnalyzer
    from voicesmith.emotion.context import route_in_context
    from voicesmith.emotion.lexicon import OperatorLexicon
    from voicesmith.settings import Settings

    sentences, paragraphs = _read_input(text, file)
    settings = Settings()
    aliases = {"disgust_as": settings.emotion_disgust_as, "fear_as": settings.emotion_fear_as}
    lexicon_path = lexicon or settings.emotion_lexicon
    operator = OperatorLexicon.from_file(lexicon_path, **aliases) if lexicon_path else None
    analyzer = EmotionAnalyzer.default()
    results = analyzer.analyze_sentences(sentences, lexicon=operator, **aliases)
    if threshold is not None:
        results = [analyzer.with_threshold(result, threshold) for result in results]
    spoken = route_in_context(sentences, results, paragraphs)
    explanations = [None] * len(sentences)
    if explain:
        from voicesmith.emotion.explain import explain as explain_sentence

        explanations = [explain_sentence(analyzer, s, r) for s, r in zip(sentences, results, strict=True)]
    if as_json or file is not None:
        for sentence, result, routed, why in zip(sentences, results, spoken, explanations, strict=True):
            record = {
                "text": sentence,
                "label": result.label.value,
                "scores": result.scores,
                "intensity": result.intensity,
                "decided_by": result.source,
                "cue": result.cue,
                "spoken": routed.label.value,
                "spoken_intensity": routed.intensity,
                "ekman": result.ekman,
            }
            if why is not None:
                record["explanation"] = why.as_dict()
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    _print_table(sentences, results, spoken, explanations)


def _print_table(sentences: list[str], results: list, spoken: list, explanations: list) -> None:
    """One row a sentence: its label, intensity, best emotional score, the rule that decided and what
    ``auto`` speaks it with (``--json`` has every score)."""
    from rich.console import Console
    from rich.table import Table

    from voicesmith.emotion.labels import SPOKEN_EMOTIONS

    table = Table(show_lines=False)
    table.add_column("sentence", overflow="fold", ratio=3)
    table.add_column("label", style="bold")
    table.add_column("intensity", justify="right")
    table.add_column("score", justify="right")
    table.add_column("by", overflow="fold")
    table.add_column("spoken", style="bold", overflow="fold")
    explaining = any(why is not None for why in explanations)
    if explaining:
        table.add_column("words that drove it", overflow="fold", ratio=2)
    for sentence, result, routed, why in zip(sentences, results, spoken, explanations, strict=True):
        top = max(SPOKEN_EMOTIONS[1:], key=lambda e: result.scores[e.value])
        shown = result.label if result.label is not SPOKEN_EMOTIONS[0] else top
        by = result.source + (f" ({result.cue})" if result.cue else "")
        row = [
            sentence,
            result.label.value,
            f"{result.intensity:.2f}",
            f"{shown.value} {result.scores[shown.value]:.2f}",
            by,
        ]
        row.append(routed.label.value + (" (context)" if routed.source == "context" else ""))
        if explaining:
            words = ", ".join(f"{w.word} {w.weight:+.2f}" for w in why.top(5))
            row.append(f"{why.explained.value}: {words or '-'}")
        table.add_row(*row)
    Console(soft_wrap=False).print(table)

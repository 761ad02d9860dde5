"""``voicesmith evaluate VOICE``: intelligibility, pitch, speaking rate, closeness to a reference speaker."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from voicesmith.training.datasets import FORMATS

_DEFAULT_SENTENCES = 20  # the built-in list's length (kept here so --help does not import the evaluator)


@click.command("evaluate")
@click.argument("voice")
@click.option(
    "--reference",
    type=click.Path(exists=True, path_type=Path),
    help="A dataset of the target speaker (prepared, or any layout `dataset check` reads): evaluate on "
    "its held-out texts and compare with its recordings (F0 distance, mel-cepstral distortion).",
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(FORMATS),
    default=None,
    help="Layout of the --reference dataset; detected when left out.",
)
@click.option(
    "--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), help="Write an HTML report."
)
@click.option(
    "--sentences",
    type=click.IntRange(1, 500),
    default=_DEFAULT_SENTENCES,
    show_default=True,
    help="How many sentences to synthesise (at most the built-in 20, or the dataset's held-out ones).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def evaluate(
    voice: str,
    reference: Path | None,
    format_: str | None,
    report_path: Path | None,
    sentences: int,
    as_json: bool,
) -> None:
    """Evaluate the installed VOICE (a catalog id such as 'joe').

    Whisper tiny.en transcribes the voice for the word error rate; Praat measures its pitch. Needs the
    evaluation extra: pip install 'voicesmith[eval]'.
    """
    from voicesmith.training.evaluate import evaluate_voice, summary_rows

    console = Console(stderr=as_json)
    columns = (TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True, disable=as_json) as bar:
        task = bar.add_task("evaluating", total=None)
        report = evaluate_voice(
            voice,
            reference=reference,
            sentences=sentences,
            format=format_,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if report_path is not None:
        from voicesmith.training.evaluate import write_html

        write_html(report, report_path)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return
    table = Table(title=f"Voice evaluation: {voice}", show_header=False)
    for label, value in summary_rows(report):
        table.add_row(label, Text(value))
    console.print(table)
    worst = sorted((s for s in report.sentences if s.wer), key=lambda s: -(s.wer or 0.0))[:5]
    if worst:
        misheard = Table(title="Most misheard sentences")
        for column in ("sentence", "WER", "heard"):
            misheard.add_column(column)
        for sentence in worst:
            misheard.add_row(Text(sentence.text), f"{sentence.wer:.2f}", Text(sentence.transcript))
        console.print(misheard)
    if report_path is not None:
        console.print(f"HTML report: {report_path}")

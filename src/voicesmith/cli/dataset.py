"""``voicesmith dataset check|prepare``: get a customer's recordings ready for a custom voice."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from voicesmith.engine.bundled import BUNDLED_VOICE_ID
from voicesmith.training.datasets import FORMATS

_MAX_ROWS = 40

_format_option = click.option(
    "--format",
    "format_",
    type=click.Choice(FORMATS),
    default=None,
    help="Dataset layout; detected when left out.",
)
_voice_option = click.option(
    "--voice",
    default=BUNDLED_VOICE_ID,
    show_default=True,
    help="Base voice (its rate and phoneme set): 'joe' or a Piper .onnx/.onnx.json path.",
)
_emotion_option = click.option(
    "--emotion-as",
    type=click.Choice(["speaker", "style"]),
    default="speaker",
    show_default=True,
    help="Emotion datasets: one pseudo-speaker per (speaker, emotion), or the speaker with an emotion style.",
)


@click.group("dataset")
def dataset() -> None:
    """Check and prepare recordings for training a custom voice.

    Layouts: ljspeech (metadata.csv + wavs/), folder (x.wav + x.txt), csv (header path,text[,speaker,
    emotion]), vctk, esd, emovdb (with cmuarctic.data).
    """


@dataset.command("check", short_help="Check recordings and transcripts; exit 1 if training would fail.")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@_format_option
@_voice_option
@_emotion_option
@click.option(
    "--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), help="Write an HTML report."
)
@click.option(
    "--asr", is_flag=True, help="Transcribe each clip (Whisper tiny.en, [eval] extra) and flag mismatches."
)
@click.option(
    "--consent",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A recording of the speaker consenting to the voice: fail unless it is the clips' speaker.",
)
@click.option(
    "--consent-threshold",
    type=click.FloatRange(0, 1),
    default=None,
    help="Least speaker similarity for --consent [default: the consent_similarity_threshold setting, 0.80].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON instead of tables.")
@click.pass_context
def check(
    ctx: click.Context,
    path: Path,
    format_: str | None,
    voice: str,
    emotion_as: str,
    report_path: Path | None,
    asr: bool,
    consent: Path | None,
    consent_threshold: float | None,
    as_json: bool,
) -> None:
    """Check the dataset at PATH; exit status 1 when a problem would break training.

    With the evaluation extra, clips that do not sound like the rest (another speaker, music, noise)
    are flagged by speaker embedding (GE2E).
    """
    from voicesmith.training.check import check_dataset

    console = Console(stderr=as_json)
    with _progress(console, "checking", enabled=not as_json) as advance:
        report = check_dataset(
            path,
            format_,
            voice=voice,
            emotion_as=emotion_as,  # type: ignore[arg-type]
            asr=asr,
            consent=consent,
            consent_threshold=consent_threshold,
            progress=advance,
        )
    if report_path is not None:
        from voicesmith.training.report import write_html

        write_html(report, report_path)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_report(console, report)
        if report_path is not None:
            console.print(f"HTML report: {report_path}")
    ctx.exit(0 if report.ok else 1)


@dataset.command("prepare", short_help="Make a dataset ready for training (wavs/, manifest, dataset.json).")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--sample-rate", type=click.IntRange(8000, 48000), default=None, help="Output rate [voice's rate]."
)
@_voice_option
@_format_option
@_emotion_option
@click.option("--target-lufs", type=click.FloatRange(-40, -10), default=-20.0, show_default=True)
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes.")
def prepare(
    path: Path,
    out: Path,
    sample_rate: int | None,
    voice: str,
    format_: str | None,
    emotion_as: str,
    target_lufs: float,
    jobs: int,
) -> None:
    """Resample, trim, normalise and phonemise PATH into OUT (wavs/, manifest.jsonl, dataset.json).

    Rerunning skips utterances already prepared from unchanged files, so an interrupted run continues.
    """
    from voicesmith.training.prepare import prepare_dataset

    console = Console()
    with _progress(console, "preparing") as advance:
        result = prepare_dataset(
            path,
            out,
            voice=voice,
            sample_rate=sample_rate,
            format=format_,
            emotion_as=emotion_as,  # type: ignore[arg-type]
            target_lufs=target_lufs,
            jobs=jobs,
            progress=advance,
        )
    console.print(
        f"Prepared {result.utterances} utterances ({result.train} train, {result.val} val, "
        f"{result.duration_s / 60:.1f} min) in {result.out_dir}; "
        f"{result.processed} processed, {result.reused} unchanged, {len(result.skipped)} skipped.",
        soft_wrap=True,
        highlight=False,
    )
    for entry in result.skipped[:_MAX_ROWS]:
        console.print(f"  skipped {entry['id'] or entry['audio']}: {entry['reason']}", style="yellow")
    if len(result.skipped) > _MAX_ROWS:
        console.print(f"  ... {len(result.skipped) - _MAX_ROWS} more in {result.dataset_json_path}")


@contextmanager
def _progress(console: Console, label: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    if not enabled:
        yield lambda done, total: None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def _median_row(summary: dict) -> str:
    parts = []
    for key, unit in (("median_duration_s", "s"), ("median_lufs", "LUFS"), ("median_peak_dbfs", "dBFS peak")):
        if summary[key] is not None:
            parts.append(f"{summary[key]:.1f} {unit}")
    if summary["median_snr_db"] is not None:
        parts.append(f"SNR ~{summary['median_snr_db']:.0f} dB")
    return ", ".join(parts) or "-"


def _print_report(console: Console, report) -> None:  # noqa: ANN001 - CheckReport, imported lazily
    summary = report.summary()
    table = Table(title=f"Dataset check: {report.path} ({report.format})", show_header=False)
    table.add_row("clips (usable)", f"{summary['clips']} ({summary['usable_clips']})")
    table.add_row(
        "duration (usable)",
        f"{summary['total_duration_s'] / 60:.1f} min ({summary['usable_duration_s'] / 60:.1f} min)",
    )
    table.add_row("median clip", _median_row(summary))
    table.add_row("speakers", str(len(summary["speakers"])))
    if summary["emotions"]:
        table.add_row("emotions", ", ".join(f"{k} ({v})" for k, v in sorted(summary["emotions"].items())))
    table.add_row(
        "sample rates", ", ".join(f"{k} Hz ({v})" for k, v in summary["sample_rates"].items()) or "-"
    )
    table.add_row("errors / warnings", f"{summary['errors']} / {summary['warnings']}")
    if report.consent_similarity is not None:
        table.add_row("consent recording", f"speaker similarity {report.consent_similarity:.2f}")
    console.print(table)
    flagged = [finding for clip in report.clips for finding in clip.findings]
    if flagged:
        clips = Table(title="Flagged clips")
        for column in ("clip", "severity", "check", "message"):
            clips.add_column(column)
        ordered = sorted(flagged, key=lambda f: (f.severity != "error", f.utterance_id or ""))
        for finding in ordered[:_MAX_ROWS]:
            style = "red" if finding.severity == "error" else "yellow"
            clips.add_row(
                Text(finding.utterance_id or ""),
                finding.severity,
                finding.code,
                Text(finding.message),
                style=style,
            )
        console.print(clips)
        if len(flagged) > _MAX_ROWS:
            console.print(f"... {len(flagged) - _MAX_ROWS} more (see --report or --json)")
    for finding in report.findings:
        where = f"{finding.path}:{finding.line}: " if finding.line is not None else ""
        style = "red" if finding.severity == "error" else "yellow"
        console.print(
            f"{finding.severity}: {where}{finding.message}", style=style, markup=False, highlight=False
        )
    if report.ok:
        console.print(
            "OK: nothing that would break training; next: voicesmith dataset prepare", style="green"
        )
    else:
        errors = [f for f in report.findings if f.severity == "error"]
        console.print(
            f"FAILED: {len(errors)} problem(s) would break training (listed above).", style="bold red"
        )

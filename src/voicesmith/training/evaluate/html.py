"""A self-contained HTML page of an :class:`~voicesmith.training.evaluate.EvaluationReport`.

Plots and audio are embedded (base64 PNG, 16 kHz PCM16 WAV), so the page is one file to share. It uses
the dataset check report's style, tables and plot embedding.
"""

from __future__ import annotations

import base64
import html
import io
import logging
from pathlib import Path

import numpy as np

from voicesmith.training.evaluate.acoustics import ANALYSIS_RATE
from voicesmith.training.evaluate.run import EvaluationReport
from voicesmith.training.report import REPORT_STYLE, embedded_png, html_table

_LOGGER = logging.getLogger(__name__)


def render_html(report: EvaluationReport) -> str:
    """The report as one HTML page."""
    title = f"Voice evaluation: {report.voice}"
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{html.escape(title)}</title><style>{REPORT_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        html_table(
            ("", ""), [(html.escape(k), html.escape(v)) for k, v in summary_rows(report)], header_row=False
        ),
    ]
    parts.extend(_plots(report))
    parts.append("<h2>Sentences</h2>")
    with_reference = report.reference is not None
    header = ("Sentence", "Transcript (Whisper tiny.en)", "WER", "F0 median", "Voice")
    if with_reference:
        header += ("Reference", "Reference heard as (WER)", "MCD", "Speaker similarity")
    rows = []
    for sentence in report.sentences:
        row = (
            f"<code>{html.escape(sentence.id)}</code><br>{html.escape(sentence.text)}",
            html.escape(sentence.transcript),
            "-" if sentence.wer is None else f"{sentence.wer:.2f}",
            _hz(sentence.f0_median_hz),
            _audio(sentence.audio),
        )
        if with_reference:
            row += (
                (_audio(sentence.reference_audio) if sentence.reference_audio is not None else "-")
                + f"<br>{_hz(sentence.reference_f0_median_hz)}",
                html.escape(sentence.reference_transcript or "-")
                + ("" if sentence.reference_wer is None else f" ({sentence.reference_wer:.2f})"),
                "-" if sentence.mcd_db is None else f"{sentence.mcd_db:.2f} dB",
                "-" if sentence.similarity is None else f"{sentence.similarity:.2f}",
            )
        rows.append(row)
    parts.append(html_table(header, rows))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(report: EvaluationReport, path: str | Path) -> Path:
    target = Path(path)
    target.write_text(render_html(report), encoding="utf-8")
    return target


def summary_rows(report: EvaluationReport) -> list[tuple[str, str]]:
    """(label, value) rows of the headline numbers; the CLI prints the same rows."""
    source = f"held out from {report.reference}" if report.reference else "built-in"
    rows = [
        ("Voice", report.voice),
        ("Sentences", f"{len(report.sentences)} ({source})"),
        ("Word error rate (Whisper tiny.en)", f"{report.wer:.1%}"),
        ("F0 median", _hz(report.f0.median_hz if report.f0 else None)),
        ("F0 range (5th-95th pct.)", _range(report.f0)),
        (
            "Speaking rate",
            f"{report.phonemes_per_second:.1f} phonemes/s, {report.words_per_minute:.0f} words/min",
        ),
    ]
    if report.reference is not None:
        rows += [
            (
                "Word error rate of the reference recordings",
                "-"
                if report.reference_wer is None
                else f"{report.reference_wer:.1%} (same texts, same Whisper)",
            ),
            (
                "WER above the reference's",
                "-"
                if report.wer_above_reference is None
                else f"{report.wer_above_reference * 100:+.1f} points",
            ),
            (
                "Speaker similarity to the reference (GE2E)",
                "-" if report.similarity is None else f"{report.similarity:.3f}",
            ),
            (
                "Reference's own similarity (leave-one-out)",
                "-"
                if report.reference_similarity is None
                else f"{report.reference_similarity:.3f} ({report.similarity_clips} recordings)",
            ),
            ("Reference F0 median", _hz(report.reference_f0.median_hz if report.reference_f0 else None)),
            ("Reference F0 range", _range(report.reference_f0)),
            (
                "F0 distance (voice - reference)",
                "-"
                if report.f0_distance_semitones is None
                else f"{report.f0_distance_semitones:+.1f} semitones"
                + ("" if report.f0_median_error is None else f" ({report.f0_median_error:.1%} off)"),
            ),
            (
                "Mel-cepstral distortion (DTW, c1-c24)",
                "-" if report.mcd_db is None else f"{report.mcd_db:.2f} dB",
            ),
        ]
    return rows


def _hz(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} Hz"


def _range(stats: object | None) -> str:
    if stats is None:
        return "-"
    return f"{stats.p5_hz:.0f}-{stats.p95_hz:.0f} Hz ({stats.range_semitones:.1f} semitones)"  # type: ignore[attr-defined]


def _audio(samples: np.ndarray) -> str:
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(samples, -1.0, 1.0), ANALYSIS_RATE, format="WAV", subtype="PCM_16")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<audio controls preload="none" src="data:audio/wav;base64,{encoded}"></audio>'


def _plots(report: EvaluationReport) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
        from matplotlib.ticker import ScalarFormatter
    except ImportError:
        _LOGGER.warning("matplotlib is not installed: the report has no plots (pip install matplotlib)")
        return ["<p>Plots need matplotlib (pip install matplotlib).</p>"]
    parts = []
    if report.f0_voiced.size:
        figure, axes = pyplot.subplots(figsize=(8, 3))
        voiced = [report.f0_voiced] + (
            [report.reference_f0_voiced] if report.reference_f0_voiced.size else []
        )
        bins = np.geomspace(max(40.0, min(v.min() for v in voiced)), max(v.max() for v in voiced) + 1, 40)
        axes.hist(report.f0_voiced, bins=bins, alpha=0.6, color="#4a78b5", label=f"voice {report.voice}")
        if report.reference_f0_voiced.size:
            axes.hist(report.reference_f0_voiced, bins=bins, alpha=0.6, color="#c0602a", label="reference")
        axes.set_xscale("log")
        axes.xaxis.set_major_formatter(ScalarFormatter())
        axes.xaxis.set_minor_formatter(ScalarFormatter())
        axes.tick_params(axis="x", which="minor", labelsize="x-small")
        axes.set_xlabel("F0 (Hz, log scale)")
        axes.set_ylabel("voiced frames (10 ms)")
        axes.set_title("Pitch of voiced frames")
        axes.legend(loc="best", fontsize="small")
        parts += ["<h2>Pitch</h2>", embedded_png(figure, pyplot)]
    scored = [s for s in report.sentences if s.wer is not None]
    if scored:
        figure, axes = pyplot.subplots(figsize=(8, 3))
        axes.bar(range(len(scored)), [s.wer for s in scored], color="#4a78b5")
        axes.set_xticks(range(len(scored)), [s.id for s in scored], rotation=60, fontsize="x-small")
        axes.set_ylabel("WER")
        axes.set_ylim(0, max(1.0, max(s.wer or 0.0 for s in scored)))
        axes.set_title(f"Word error rate per sentence (corpus WER {report.wer:.1%})")
        parts += ["<h2>Intelligibility</h2>", embedded_png(figure, pyplot)]
    return parts

"""A self-contained HTML page of a :class:`~voicesmith.training.check.CheckReport`.

Plots (matplotlib, Agg backend) are embedded as base64 PNGs, so the page is one file to mail or attach
to a ticket. Without matplotlib the page is written without plots.
"""

from __future__ import annotations

import base64
import html
import io
import logging
from pathlib import Path

from voicesmith.training.check import MAX_DURATION_S, MIN_DURATION_S, CheckReport, ClipReport, Finding

_LOGGER = logging.getLogger(__name__)

REPORT_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;
vertical-align:top}th{background:#f4f4f4}.error{color:#b00020;font-weight:600}.warning{color:#9a6700}
.verdict{padding:.6em 1em;border-radius:4px;display:inline-block}
.ok{background:#e6f4ea}.fail{background:#fce8e6}
img{max-width:100%;border:1px solid #eee}code{font-size:.9em}
"""


def render_html(report: CheckReport) -> str:
    """The report as one HTML page."""
    summary = report.summary()
    verdict = (
        '<p class="verdict ok">Ready to prepare: no problem that would break training.</p>'
        if report.ok
        else '<p class="verdict fail">Not trainable as it is: fix the errors below.</p>'
    )
    rows = [
        ("Dataset", report.path),
        ("Layout", report.format),
        ("Base voice", report.voice),
        ("Clips (usable)", f"{summary['clips']} ({summary['usable_clips']})"),
        (
            "Duration (usable)",
            f"{_minutes(summary['total_duration_s'])} ({_minutes(summary['usable_duration_s'])})",
        ),
        (
            "Median clip",
            ", ".join(
                f"{summary[key]:.1f} {unit}"
                for key, unit in (
                    ("median_duration_s", "s"),
                    ("median_lufs", "LUFS"),
                    ("median_peak_dbfs", "dBFS peak"),
                    ("median_snr_db", "dB SNR"),
                )
                if summary[key] is not None
            )
            or "-",
        ),
        ("Speakers", ", ".join(f"{name} ({n})" for name, n in sorted(summary["speakers"].items())) or "-"),
        ("Emotions", ", ".join(f"{name} ({n})" for name, n in sorted(summary["emotions"].items())) or "-"),
        ("Sample rates", ", ".join(f"{rate} Hz ({n})" for rate, n in summary["sample_rates"].items()) or "-"),
        ("Errors / warnings", f"{summary['errors']} / {summary['warnings']}"),
        ("Transcripts checked by ASR", "yes (Whisper tiny.en)" if report.asr else "no"),
        (
            "Clips compared by speaker",
            "yes (GE2E embeddings, resemblyzer)" if getattr(report, "speakers_checked", False) else "no",
        ),
    ]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>Dataset check: {html.escape(Path(report.path).name)}</title>",
        f"<style>{REPORT_STYLE}</style></head><body>",
        f"<h1>Dataset check: {html.escape(report.path)}</h1>",
        verdict,
        html_table(("", ""), [(html.escape(k), html.escape(v)) for k, v in rows], header_row=False),
    ]
    if report.findings:
        parts.append("<h2>Dataset</h2>")
        parts.append(_findings_table(report.findings, with_clip=False))
    parts.extend(_plots(report.clips))
    flagged = [finding for clip in report.clips for finding in clip.findings]
    parts.append(f"<h2>Flagged clips ({len({f.utterance_id for f in flagged})})</h2>")
    parts.append(_findings_table(flagged, with_clip=True) if flagged else "<p>None.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(report: CheckReport, path: str | Path) -> Path:
    target = Path(path)
    target.write_text(render_html(report), encoding="utf-8")
    return target


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def html_table(header: tuple[str, ...], rows: list[tuple[str, ...]], header_row: bool = True) -> str:
    head = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>" if header_row else ""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def _findings_table(findings: list[Finding], with_clip: bool) -> str:
    ordered = sorted(findings, key=lambda f: (f.severity != "error", f.utterance_id or "", f.code))
    rows = []
    for finding in ordered:
        where = finding.utterance_id if with_clip else finding.path
        if finding.line is not None:
            where = f"{finding.path}:{finding.line}"
        rows.append(
            (
                html.escape(where or ""),
                f'<span class="{finding.severity}">{finding.severity}</span>',
                f"<code>{finding.code}</code>",
                html.escape(finding.message),
            )
        )
    return html_table(("Clip" if with_clip else "Where", "Severity", "Check", "What to do"), rows)


def _plots(clips: list[ClipReport]) -> list[str]:
    measured = [clip for clip in clips if clip.stats is not None]
    if not measured:
        return []
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        _LOGGER.warning("matplotlib is not installed: the report has no plots (pip install matplotlib)")
        return ["<p>Plots need matplotlib (pip install matplotlib).</p>"]
    durations = [clip.duration_s for clip in measured]
    figure, axes = pyplot.subplots(figsize=(8, 3))
    axes.hist(durations, bins=min(40, max(5, len(durations) // 3)), color="#4a78b5")
    for limit in (MIN_DURATION_S, MAX_DURATION_S):
        axes.axvline(limit, color="#b00020", linestyle="--", linewidth=1)
    axes.set_xlabel("duration (s)")
    axes.set_ylabel("clips")
    axes.set_title("Clip durations (dashed: limits)")
    parts = ["<h2>Durations</h2>", embedded_png(figure, pyplot)]
    figure, axes = pyplot.subplots(figsize=(8, 3))
    index = range(len(measured))
    lufs = [clip.stats.lufs if clip.stats.lufs is not None else float("nan") for clip in measured]
    peaks = [clip.stats.peak_dbfs for clip in measured]
    colours = ["#4a78b5" if clip.usable else "#b00020" for clip in measured]
    axes.scatter(index, lufs, s=10, c=colours, label="integrated loudness (LUFS)")
    axes.scatter(index, peaks, s=6, c="#999999", marker="^", label="peak (dBFS)")
    axes.set_xlabel("clip (dataset order; red: unusable)")
    axes.set_ylabel("dB")
    axes.set_title("Level per clip")
    axes.legend(loc="best", fontsize="small")
    parts += ["<h2>Levels</h2>", embedded_png(figure, pyplot)]
    return parts


def embedded_png(figure: object, pyplot: object) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()  # type: ignore[attr-defined]
    figure.savefig(buffer, format="png", dpi=90)  # type: ignore[attr-defined]
    pyplot.close(figure)  # type: ignore[attr-defined]
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{encoded}">'

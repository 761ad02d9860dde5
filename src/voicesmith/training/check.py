"""Quality check of a training dataset before any training time is spent on it.

``check_dataset(path)`` reads every clip and transcript and returns a :class:`CheckReport`: findings per
clip (severity ``error`` makes a clip unusable; ``warning`` is worth a look) and for the dataset as a
whole. With the ``[eval]`` extra installed it also embeds every clip (GE2E, :mod:`.speaker`) and flags
the clips that do not sound like the rest of their speaker's (another person, music, noise), by the
robust rule of :func:`~voicesmith.training.speaker.find_outliers`.
``CheckReport.ok`` is False when a dataset-level error would break training; the CLI then exits
with status 1. A bad file never stops the check: it becomes a finding.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import soundfile

from voicesmith.engine.bundled import BUNDLED_VOICE_ID
from voicesmith.training.datasets import Dataset, DatasetIssue, EmotionAs, Utterance, load_dataset
from voicesmith.training.phonemes import BaseVoice, Phonemizer, resolve_voice
from voicesmith.training.quality import AudioStats, measure, mono

_LOGGER = logging.getLogger(__name__)

Severity = Literal["error", "warning"]

MIN_DURATION_S = 0.5
MAX_DURATION_S = 20.0
MAX_ANALYSED_S = 600.0
"""Files longer than this are flagged from their header alone, not read."""
MIN_USABLE_CLIPS = 10
MAX_SILENCE_S = 1.0
MIN_SNR_DB = 20.0
QUIET_LUFS = -40.0
SILENT_PEAK_DBFS = -60.0
MAX_CLIPPED_FRACTION = 0.001
MAX_WER = 0.3
RECOMMENDED_MINUTES = 10.0

_ISSUE_SEVERITY: dict[str, Severity] = {
    "missing_audio": "error",
    "malformed": "error",
    "missing_text": "warning",
    "duplicate_id": "warning",
    "unlisted_audio": "warning",
}


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    """Stable machine name: unreadable, empty, silent, too_long, too_short, clipping, silence, quiet,
    noisy, sample_rate, channels, empty_text, unsayable, unknown_phonemes, duplicate_text, asr_mismatch,
    other_speaker, consent_mismatch,
    missing_audio, missing_text, malformed, duplicate_id, unlisted_audio, too_few_clips, no_usable_clips,
    mostly_unreadable, mixed_sample_rates, little_audio."""
    message: str
    path: str | None = None
    line: int | None = None
    utterance_id: str | None = None


@dataclass
class ClipReport:
    id: str
    audio_path: str
    text: str
    speaker: str
    emotion: str | None
    stats: AudioStats | None = None
    asr_text: str | None = None
    wer: float | None = None
    findings: list[Finding] = field(default_factory=list)
    header_duration_s: float = 0.0
    """Duration from the file header, for clips too long to analyse."""
    speaker_similarity: float | None = None
    """GE2E cosine to the centroid of the speaker's other clips (None: not measured)."""
    embedding: Any = field(default=None, repr=False)

    @property
    def usable(self) -> bool:
        return not any(finding.severity == "error" for finding in self.findings)

    @property
    def duration_s(self) -> float:
        return self.stats.duration_s if self.stats else self.header_duration_s

    def add(self, severity: Severity, code: str, message: str) -> None:
        self.findings.append(Finding(severity, code, message, self.audio_path, None, self.id))


@dataclass
class CheckReport:
    path: str
    format: str
    voice: str
    clips: list[ClipReport]
    findings: list[Finding]
    """Dataset-level findings (metadata problems and the verdicts on the whole)."""
    asr: bool = False
    speakers_checked: bool = False
    """Whether the clips were compared by speaker embedding (needs the ``[eval]`` extra)."""
    consent_similarity: float | None = None
    """Speaker similarity of the consent recording to the clips, when one was given."""

    @property
    def ok(self) -> bool:
        """False when a dataset-level error would break training."""
        return not any(finding.severity == "error" for finding in self.findings)

    @property
    def usable_clips(self) -> list[ClipReport]:
        return [clip for clip in self.clips if clip.usable]

    def all_findings(self) -> list[Finding]:
        return self.findings + [finding for clip in self.clips for finding in clip.findings]

    def summary(self) -> dict[str, Any]:
        usable = self.usable_clips
        findings = self.all_findings()
        measured = [clip.stats for clip in usable if clip.stats is not None]
        return {
            "clips": len(self.clips),
            "usable_clips": len(usable),
            "total_duration_s": round(sum(clip.duration_s for clip in self.clips), 2),
            "usable_duration_s": round(sum(clip.duration_s for clip in usable), 2),
            "speakers": dict(Counter(clip.speaker for clip in self.clips)),
            "emotions": dict(Counter(clip.emotion for clip in self.clips if clip.emotion)),
            "sample_rates": {
                str(rate): n
                for rate, n in Counter(c.stats.sample_rate for c in self.clips if c.stats).items()
            },
            "median_duration_s": _median([s.duration_s for s in measured]),
            "median_lufs": _median([s.lufs for s in measured if s.lufs is not None]),
            "median_peak_dbfs": _median([s.peak_dbfs for s in measured]),
            "median_snr_db": _median([s.snr_db for s in measured if s.snr_db is not None]),
            "errors": sum(finding.severity == "error" for finding in findings),
            "warnings": sum(finding.severity == "warning" for finding in findings),
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (the ``--json`` output)."""
        return {
            "path": self.path,
            "format": self.format,
            "voice": self.voice,
            "ok": self.ok,
            "asr": self.asr,
            "speakers_checked": self.speakers_checked,
            "consent_similarity": _round(self.consent_similarity),
            "summary": self.summary(),
            "findings": [asdict(finding) for finding in self.findings],
            "clips": [
                {
                    "id": clip.id,
                    "audio": clip.audio_path,
                    "text": clip.text,
                    "speaker": clip.speaker,
                    "emotion": clip.emotion,
                    "usable": clip.usable,
                    "duration_s": clip.duration_s,
                    "stats": asdict(clip.stats) if clip.stats else None,
                    "asr_text": clip.asr_text,
                    "wer": clip.wer,
                    "speaker_similarity": _round(clip.speaker_similarity),
                    "findings": [asdict(finding) for finding in clip.findings],
                }
                for clip in self.clips
            ],
        }


def check_dataset(
    path: str | Path,
    format: str | None = None,
    *,
    voice: str | Path = BUNDLED_VOICE_ID,
    emotion_as: EmotionAs = "speaker",
    asr: bool = False,
    speakers: bool | None = None,
    consent: str | Path | None = None,
    consent_threshold: float | None = None,
    min_clips: int = MIN_USABLE_CLIPS,
    progress: Callable[[int, int], None] | None = None,
) -> CheckReport:
    """Checks the dataset at ``path`` against the base voice ``voice`` (its rate and phoneme set).

    ``asr`` transcribes every clip with Whisper tiny.en (the ``[eval]`` extra) and flags clips whose
    transcript disagrees (WER > 0.3). ``speakers`` compares the clips by speaker embedding and flags
    those unlike the rest (``other_speaker``); None does so when resemblyzer is installed, True
    requires it. ``consent`` (a recording of the speaker consenting) must match the clips' speaker
    at ``consent_threshold`` or above (default: the ``consent_similarity_threshold`` setting), else the
    report holds a ``consent_mismatch`` error. ``progress(done, total)`` is called after each clip.
    """
    dataset = load_dataset(path, format, emotion_as=emotion_as, strict=False)
    base = resolve_voice(voice)
    phonemizer = Phonemizer(base)
    transcriber = None
    if asr:
        from voicesmith.training.asr import Transcriber

        transcriber = Transcriber()
    encoder = _speaker_encoder(True if consent is not None else speakers)
    clips: list[ClipReport] = []
    for done, utterance in enumerate(dataset.utterances, start=1):
        clips.append(_check_clip(utterance, base, phonemizer, transcriber, encoder))
        if progress is not None:
            progress(done, len(dataset.utterances))
    _flag_duplicate_texts(clips)
    if encoder is not None:
        _flag_other_speakers(clips)
    findings = [_issue_finding(issue) for issue in dataset.issues]
    findings += _verdicts(dataset, clips, min_clips)
    report = CheckReport(str(dataset.root), dataset.format, base.name, clips, findings, asr)
    report.speakers_checked = encoder is not None
    if consent is not None:
        _check_consent(report, Path(consent), consent_threshold)
    return report


def _check_consent(report: CheckReport, consent: Path, threshold: float | None) -> None:
    import numpy as np

    from voicesmith.errors import ConsentMismatchError
    from voicesmith.settings import Settings
    from voicesmith.training.speaker import consent_similarity, embed_consent

    threshold = Settings().consent_similarity_threshold if threshold is None else threshold
    embedded = [clip.embedding for clip in report.usable_clips if clip.embedding is not None]
    if not embedded:
        return  # no usable clip: the verdicts already fail the dataset
    similarity = report.consent_similarity = consent_similarity(embed_consent(consent), np.asarray(embedded))
    if similarity < threshold:
        message = ConsentMismatchError(similarity, threshold).message
        report.findings.append(Finding("error", "consent_mismatch", message, str(consent)))


def _speaker_encoder(speakers: bool | None) -> Any | None:
    if speakers is False:
        return None
    if speakers is None and importlib.util.find_spec("resemblyzer") is None:
        _LOGGER.info("resemblyzer is not installed: clips are not compared by speaker ([eval] extra)")
        return None
    from voicesmith.training.speaker import SpeakerEncoder

    return SpeakerEncoder.shared()


def _flag_other_speakers(clips: list[ClipReport]) -> None:
    """Per speaker label: clips whose embedding lies far from the others' (speaker.find_outliers)."""
    from voicesmith.training.speaker import find_outliers

    groups: dict[str, list[ClipReport]] = {}
    for clip in clips:
        if clip.embedding is not None:
            groups.setdefault(clip.speaker, []).append(clip)
    for members in groups.values():
        flagged, loo, rule = find_outliers([clip.embedding for clip in members])
        if rule is None:
            continue
        for clip, value in zip(members, loo, strict=True):
            clip.speaker_similarity = float(value)
        for index in flagged:
            clip = members[index]
            clip.add(
                "warning",
                "other_speaker",
                f"does not sound like the other clips (speaker similarity {loo[index]:.2f}, the clips' "
                f"median {rule.median:.2f}, flagged below {rule.threshold:.2f}): another speaker, music or "
                "noise? Listen to it and remove it unless it is the same person",
            )


def _check_clip(
    utterance: Utterance,
    base: BaseVoice,
    phonemizer: Phonemizer,
    transcriber: Any | None,
    encoder: Any | None = None,
) -> ClipReport:
    clip = ClipReport(
        utterance.id,
        str(utterance.audio_path),
        utterance.text,
        utterance.speaker,
        utterance.emotion,
    )
    _check_text(clip, phonemizer)
    try:
        info = soundfile.info(str(utterance.audio_path))
        if info.frames > MAX_ANALYSED_S * info.samplerate:
            clip.header_duration_s = round(info.frames / info.samplerate, 3)
            clip.add(
                "error",
                "too_long",
                f"{clip.header_duration_s / 60:.0f} min in one file: split it into sentences (not analysed)",
            )
            return clip
        audio, sample_rate = soundfile.read(utterance.audio_path, dtype="float32", always_2d=True)
    except Exception as error:  # noqa: BLE001 - libsndfile raises several types; any is "unreadable"
        clip.add("error", "unreadable", f"cannot read the audio: {error}")
        return clip
    if audio.shape[0] == 0:
        clip.add("error", "empty", "the audio file holds no samples")
        return clip
    stats = clip.stats = measure(audio if audio.shape[1] > 1 else audio[:, 0], sample_rate)
    _check_audio(clip, stats, base)
    if encoder is not None and clip.usable:
        clip.embedding = encoder.embed_file(utterance.audio_path)  # cached: a re-check embeds nothing
    if transcriber is not None and clip.usable and utterance.text.strip():
        try:
            clip.asr_text = transcriber.transcribe(mono(audio), sample_rate)
            clip.wer = transcriber.word_error_rate(utterance.text, clip.asr_text)
        except Exception as error:  # noqa: BLE001 - one failed transcription must not end the check
            _LOGGER.warning("%s: transcription failed: %s", utterance.audio_path, error)
        if clip.wer is not None and clip.wer > MAX_WER:
            clip.add(
                "warning",
                "asr_mismatch",
                f"the recording does not match the transcript (WER {clip.wer:.2f}); heard: {clip.asr_text!r}",
            )
    return clip


def _check_text(clip: ClipReport, phonemizer: Phonemizer) -> None:
    if not clip.text.strip():
        clip.add("error", "empty_text", "the transcript is empty")
        return
    unsayable = phonemizer.unsayable(clip.text)
    if unsayable:
        listed = "; ".join(f"{character!r} {why}" for character, why in unsayable.items())
        clip.add("warning", "unsayable", f"characters the voice cannot say as written: {listed}")
    _phonemes, _ids, unknown = phonemizer.phonemize(clip.text)
    if unknown:
        clip.add(
            "warning",
            "unknown_phonemes",
            f"phonemes missing from the voice's symbol table (dropped): {' '.join(unknown)}",
        )


def _check_audio(clip: ClipReport, stats: AudioStats, base: BaseVoice) -> None:
    if stats.peak_dbfs < SILENT_PEAK_DBFS:
        clip.add("error", "silent", f"the clip is silent (peak {stats.peak_dbfs:.1f} dBFS)")
        return
    if stats.duration_s > MAX_DURATION_S:
        clip.add(
            "error",
            "too_long",
            f"{stats.duration_s:.1f} s is longer than {MAX_DURATION_S:.0f} s: split it at a pause"
            " (prepare leaves it out)",
        )
    elif stats.duration_s < MIN_DURATION_S:
        clip.add("warning", "too_short", f"{stats.duration_s:.2f} s is shorter than {MIN_DURATION_S} s")
    if stats.sample_rate < base.sample_rate:
        clip.add(
            "warning",
            "sample_rate",
            f"{stats.sample_rate} Hz is below the voice's {base.sample_rate} Hz: the voice will sound dull",
        )
    if stats.channels > 1:
        clip.add("warning", "channels", f"{stats.channels} channels: prepare mixes them down to mono")
    if stats.clipped_fraction > MAX_CLIPPED_FRACTION:
        clip.add(
            "warning",
            "clipping",
            f"{stats.clipped_fraction:.2%} of the samples are clipped: record with less gain",
        )
    if max(stats.leading_silence_s, stats.trailing_silence_s) > MAX_SILENCE_S:
        clip.add(
            "warning",
            "silence",
            f"{stats.leading_silence_s:.1f} s of silence before and {stats.trailing_silence_s:.1f} s after"
            " the speech (prepare trims it)",
        )
    if stats.lufs is not None and stats.lufs < QUIET_LUFS:
        clip.add("warning", "quiet", f"very quiet ({stats.lufs:.1f} LUFS): noise grows when it is normalised")
    if stats.snr_db is not None and stats.snr_db < MIN_SNR_DB:
        clip.add("warning", "noisy", f"estimated SNR {stats.snr_db:.0f} dB: background noise or hum")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


_WORDS = re.compile(r"[\W_]+")


def _flag_duplicate_texts(clips: list[ClipReport]) -> None:
    first: dict[tuple[str, str | None, str], ClipReport] = {}
    for clip in clips:
        key = (clip.speaker, clip.emotion, _WORDS.sub(" ", clip.text.casefold()).strip())
        if not key[2]:
            continue
        if key in first:
            clip.add("warning", "duplicate_text", f"same transcript as {first[key].id}")
        else:
            first[key] = clip


def _issue_finding(issue: DatasetIssue) -> Finding:
    return Finding(
        _ISSUE_SEVERITY[issue.kind],
        issue.kind,
        issue.message,
        str(issue.path),
        issue.line,
        issue.utterance_id,
    )


def _verdicts(dataset: Dataset, clips: list[ClipReport], min_clips: int) -> list[Finding]:
    verdicts: list[Finding] = []
    usable = [clip for clip in clips if clip.usable]
    unreadable = [c for c in clips if any(f.code in ("unreadable", "empty") for f in c.findings)]
    missing = [issue for issue in dataset.issues if issue.kind == "missing_audio"]
    if not usable:
        verdicts.append(Finding("error", "no_usable_clips", "no usable clips: nothing to train on"))
    elif len(usable) < min_clips:
        verdicts.append(
            Finding(
                "error", "too_few_clips", f"only {len(usable)} usable clips; at least {min_clips} are needed"
            )
        )
    if clips and len(unreadable) * 2 > len(clips):
        verdicts.append(
            Finding(
                "error",
                "mostly_unreadable",
                f"{len(unreadable)} of {len(clips)} audio files cannot be read: check the format (WAV/FLAC)",
            )
        )
    if missing:
        verdicts.append(
            Finding(
                "error",
                "missing_audio",
                f"{len(missing)} audio files named in the metadata are missing: fix the metadata or add them",
            )
        )
    rates = {clip.stats.sample_rate for clip in clips if clip.stats}
    if len(rates) > 1:
        listed = ", ".join(str(rate) for rate in sorted(rates))
        verdicts.append(
            Finding("warning", "mixed_sample_rates", f"clips have different sample rates ({listed} Hz)")
        )
    minutes = sum(clip.duration_s for clip in usable) / 60
    if usable and minutes < RECOMMENDED_MINUTES:
        verdicts.append(
            Finding(
                "warning",
                "little_audio",
                f"{minutes:.1f} min of usable audio; a fine-tune wants {RECOMMENDED_MINUTES:.0f} min or more",
            )
        )
    return verdicts

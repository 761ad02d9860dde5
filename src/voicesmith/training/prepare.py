"""``dataset prepare``: turn a recording folder into what the trainer reads.

Output (the trainer's contract; keep these names)::

    OUT/wavs/{id}.wav      PCM16 mono at the voice's rate, silence trimmed (0.15 s kept), -20 LUFS
    OUT/manifest.jsonl     one JSON object per utterance: id, audio (relative path), text, phonemes
                           (list[str]), phoneme_ids (list[int]), speaker, speaker_id (int), emotion
                           (str | null), duration_s, split ("train" | "val")
    OUT/dataset.json       sample_rate, num_speakers, speakers {name: id}, emotions, espeak_voice,
                           phoneme_id_map, phoneme_type, base_voice, source, format, created, counts,
                           skipped [{id, audio, reason}], settings

Phoneme ids follow piper's trainer: per sentence ``^ _ p1 _ p2 _ ... $``, sentences chained, with the
base voice's ``phoneme_id_map`` so a fine-tune keeps its symbol table.

Idempotent and resumable: ``OUT/.prepare/{id}.json`` holds each utterance's fingerprint (source file
content and size, transcript, speaker, settings) and result, written as soon as the utterance is done.
A rerun reuses every utterance whose fingerprint is unchanged and whose wav is still there, so a
killed run continues where it stopped and a finished one rewrites nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voicesmith.engine.bundled import BUNDLED_VOICE_ID
from voicesmith.errors import DatasetError
from voicesmith.training.audio_prep import PrepareSettings, process_utterance
from voicesmith.training.datasets import EmotionAs, Utterance, load_dataset
from voicesmith.training.phonemes import resolve_voice

_LOGGER = logging.getLogger(__name__)

PIPELINE_VERSION = 1
"""Bump when processing changes so that every utterance is prepared again."""
STATE_DIR = ".prepare"
VAL_FRACTION = 0.05
MAX_VAL = 50
SPLIT_SEED = "voicesmith-split-1"


@dataclass
class PrepareResult:
    out_dir: Path
    utterances: int
    train: int
    val: int
    processed: int
    """Utterances prepared in this run (the rest were reused from an earlier run)."""
    reused: int
    skipped: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def manifest_path(self) -> Path:
        return self.out_dir / "manifest.jsonl"

    @property
    def dataset_json_path(self) -> Path:
        return self.out_dir / "dataset.json"


def prepare_dataset(
    source: str | Path,
    out: str | Path,
    *,
    voice: str | Path = BUNDLED_VOICE_ID,
    sample_rate: int | None = None,
    format: str | None = None,
    emotion_as: EmotionAs = "speaker",
    target_lufs: float = -20.0,
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> PrepareResult:
    """Prepares the dataset at ``source`` into ``out`` for fine-tuning ``voice`` (default: joe).

    ``sample_rate`` None uses the voice's rate. ``jobs`` > 1 prepares in that many processes.
    ``progress(done, total)`` is called as utterances finish (reused ones count at once).
    """
    dataset = load_dataset(source, format, emotion_as=emotion_as)
    base = resolve_voice(voice)
    out_dir = Path(out).expanduser()
    if out_dir.resolve() == dataset.root.resolve():
        raise DatasetError("the output folder must differ from the dataset folder", path=out_dir)
    settings = PrepareSettings(
        sample_rate=sample_rate or base.sample_rate,
        voice_config=str(base.config_path),
        espeak_voice=base.espeak_voice,
        target_lufs=target_lufs,
    )
    if not 8000 <= settings.sample_rate <= 48000:
        raise DatasetError(f"sample rate {settings.sample_rate} Hz is outside 8000-48000 Hz")
    state_dir = out_dir / STATE_DIR
    state_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "wavs").mkdir(exist_ok=True)
    settings_key = _digest(
        json.dumps([PIPELINE_VERSION, asdict(settings), base.phoneme_id_map], sort_keys=True).encode()
    )

    results: dict[str, dict[str, Any]] = {}
    todo: list[tuple[Utterance, dict[str, Any]]] = []
    for utterance in dataset.utterances:
        fingerprint = _fingerprint(utterance, settings_key)
        reused = _reuse(state_dir / f"{utterance.id}.json", fingerprint, utterance.audio_path, out_dir)
        if reused is not None:
            results[utterance.id] = reused
        else:
            todo.append((utterance, fingerprint))
    total = len(dataset.utterances)
    if progress is not None:
        progress(len(results), total)
    _LOGGER.info("%d utterances to prepare, %d unchanged", len(todo), len(results))
    for utterance, fingerprint, result in _run(todo, out_dir, settings, jobs):
        results[utterance.id] = result
        fingerprint["content"] = _file_digest(utterance.audio_path)
        _write_json(state_dir / f"{utterance.id}.json", {"fingerprint": fingerprint, "result": result})
        if "skipped" in result:
            _LOGGER.warning("%s: skipped: %s", utterance.audio_path, result["skipped"])
        if progress is not None:
            progress(len(results), total)

    skipped = []
    for issue in dataset.issues:
        if issue.kind in ("missing_audio", "missing_text", "duplicate_id"):
            _LOGGER.warning("%s: skipped: %s", issue.where(), issue.message)
            skipped.append({"id": issue.utterance_id, "audio": str(issue.path), "reason": issue.message})
    records = []
    for utterance in dataset.utterances:
        result = results[utterance.id]
        if "skipped" in result:
            skipped.append(
                {"id": utterance.id, "audio": str(utterance.audio_path), "reason": result["skipped"]}
            )
        else:
            records.append(dict(result))
    _remove_stale(out_dir, dataset.utterances, results)
    if not records:
        raise DatasetError(
            f"no utterance could be prepared ({len(skipped)} skipped): run 'voicesmith dataset check'",
            path=dataset.root,
        )
    speakers = {name: number for number, name in enumerate(sorted({r["speaker"] for r in records}))}
    val_ids = _val_split([r["id"] for r in records])
    manifest = []
    for record in records:
        record["speaker_id"] = speakers[record["speaker"]]
        record["split"] = "val" if record["id"] in val_ids else "train"
        manifest.append(json.dumps(record, ensure_ascii=False))
    _write_if_changed(out_dir / "manifest.jsonl", "\n".join(manifest) + "\n")
    duration = round(sum(r["duration_s"] for r in records), 2)
    info = {
        "sample_rate": settings.sample_rate,
        "num_speakers": len(speakers),
        "speakers": speakers,
        "emotions": sorted({r["emotion"] for r in records if r["emotion"]}),
        "emotion_as": emotion_as,
        "espeak_voice": base.espeak_voice,
        "phoneme_id_map": base.phoneme_id_map,
        "phoneme_type": base.phoneme_type,
        "base_voice": base.name,
        "source": str(dataset.root.resolve()),
        "format": dataset.format,
        "created": None,
        "counts": {
            "utterances": len(records),
            "train": len(records) - len(val_ids),
            "val": len(val_ids),
            "skipped": len(skipped),
            "duration_s": duration,
            "per_speaker": {name: sum(r["speaker"] == name for r in records) for name in speakers},
        },
        "skipped": skipped,
        "settings": {k: v for k, v in asdict(settings).items() if k != "voice_config"},
    }
    _write_dataset_json(out_dir / "dataset.json", info)
    return PrepareResult(
        out_dir,
        len(records),
        len(records) - len(val_ids),
        len(val_ids),
        len(todo),
        total - len(todo),
        skipped,
        duration,
    )


def _run(
    todo: list[tuple[Utterance, dict[str, Any]]], out_dir: Path, settings: PrepareSettings, jobs: int
) -> Iterator[tuple[Utterance, dict[str, Any], dict[str, Any]]]:
    def payload(utterance: Utterance) -> tuple[dict[str, Any], str, PrepareSettings]:
        fields = {
            "id": utterance.id,
            "audio_path": str(utterance.audio_path),
            "text": utterance.text,
            "speaker": utterance.speaker,
            "emotion": utterance.emotion,
        }
        return fields, str(out_dir / "wavs" / f"{utterance.id}.wav"), settings

    if jobs <= 1 or len(todo) < 2:
        for utterance, fingerprint in todo:
            yield utterance, fingerprint, process_utterance(*payload(utterance))
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [(u, f, pool.submit(process_utterance, *payload(u))) for u, f in todo]
        for utterance, fingerprint, future in futures:
            yield utterance, fingerprint, future.result()


def _fingerprint(utterance: Utterance, settings_key: str) -> dict[str, Any]:
    try:
        stat = utterance.audio_path.stat()
        size, mtime = stat.st_size, stat.st_mtime_ns
    except OSError:
        size, mtime = -1, -1
    inputs = [utterance.text, utterance.speaker, utterance.emotion, settings_key]
    return {
        "inputs": _digest(json.dumps(inputs, ensure_ascii=False).encode()),
        "size": size,
        "mtime_ns": mtime,
        "content": None,
    }


def _reuse(
    state_path: Path, fingerprint: dict[str, Any], audio_path: Path, out_dir: Path
) -> dict[str, Any] | None:
    """The stored result when the utterance is unchanged and its output is in place, else None."""
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        stored, result = state["fingerprint"], state["result"]
    except (OSError, ValueError, KeyError):
        return None
    if stored.get("inputs") != fingerprint["inputs"] or stored.get("size") != fingerprint["size"]:
        return None
    if "skipped" not in result and not (out_dir / result["audio"]).is_file():
        return None
    if stored.get("mtime_ns") != fingerprint["mtime_ns"]:
        # touched or copied: the same bytes need no new work
        content = _file_digest(audio_path)
        if content is None or content != stored.get("content"):
            return None
        _write_json(state_path, {"fingerprint": {**fingerprint, "content": content}, "result": result})
    return result


def _val_split(ids: list[str]) -> set[str]:
    """About 5 % of ``ids`` (at least 1, at most 50) for validation, stable as utterances come and go."""
    if len(ids) < 2:
        return set()
    count = min(MAX_VAL, max(1, round(len(ids) * VAL_FRACTION)))
    ranked = sorted(ids, key=lambda utt_id: _digest(f"{SPLIT_SEED}:{utt_id}".encode()))
    return set(ranked[:count])


def _remove_stale(out_dir: Path, utterances: list[Utterance], results: dict[str, dict[str, Any]]) -> None:
    wanted = {f"{u.id}.wav" for u in utterances if "skipped" not in results[u.id]}
    for wav in (out_dir / "wavs").glob("*"):
        if wav.name not in wanted:
            _LOGGER.info("removing %s: no longer in the dataset", wav)
            wav.unlink()
    for state in (out_dir / STATE_DIR).glob("*.json"):
        if state.stem not in results:
            state.unlink()


def _write_dataset_json(path: Path, info: dict[str, Any]) -> None:
    """Writes ``info``, keeping the earlier ``created`` time (and the file) when nothing else changed."""
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = None
    if previous is not None and {**previous, "created": None} == info:
        return
    info["created"] = datetime.now(UTC).isoformat(timespec="seconds")
    _write_if_changed(path, json.dumps(info, ensure_ascii=False, indent=2) + "\n")


def _write_if_changed(path: Path, text: str) -> None:
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _write_json(path: Path, value: Any) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    os.replace(partial, path)


def _file_digest(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

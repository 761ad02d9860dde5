"""Readers for public corpora: VCTK, ESD (Emotional Speech Dataset) and EmoV-DB."""

from __future__ import annotations

import re
from pathlib import Path

from voicesmith.errors import DatasetError

from ._common import (
    Dataset,
    DatasetIssue,
    EmotionAs,
    Utterance,
    normalize_emotion,
    pseudo_speaker,
    read_text_file,
    safe_id,
)

_VCTK_AUDIO = re.compile(
    r"^(?P<id>(?P<speaker>[ps]\d+)_\d+)(?:_(?P<mic>mic\d))?\.(?:wav|flac)$", re.IGNORECASE
)
_ESD_SPEAKER = re.compile(r"^\d{4}$")
_ESD_AUDIO = re.compile(r"^(?P<id>\d{4}_\d{6})\.wav$", re.IGNORECASE)
_ESD_ENCODINGS = ("utf-8-sig", "utf-16", "latin-1")
_EMOVDB_AUDIO = re.compile(r"^(?P<emotion>[a-z]+)_\d+-\d+_(?P<number>\d{4})\.wav$", re.IGNORECASE)
_ARCTIC_LINE = re.compile(r'^\(\s*(?P<key>arctic_[ab]\d{4})\s+"(?P<text>.*)"\s*\)\s*$')

PREFERRED_VCTK_MIC = "mic1"


def vctk_audio_dir(root: Path) -> Path | None:
    """The audio folder of a VCTK release (``wav48`` in 0.80, ``wav48_silence_trimmed`` in 0.92)."""
    if not (root / "txt").is_dir():
        return None
    for name in ("wav48_silence_trimmed", "wav48", "wav44", "wav22"):
        if (root / name).is_dir():
            return root / name
    found = sorted(path for path in root.glob("wav*") if path.is_dir())
    return found[0] if found else None


def read_vctk(root: Path, emotion_as: EmotionAs = "speaker") -> Dataset:
    """VCTK: ``txt/pXXX/pXXX_NNN.txt`` and ``wav48*/pXXX/pXXX_NNN[_micN].(wav|flac)``.

    Release 0.92 has two microphones per sentence; :data:`PREFERRED_VCTK_MIC` is used where both exist.
    """
    audio_dir = vctk_audio_dir(root)
    if audio_dir is None:
        raise DatasetError("not a VCTK folder: expected txt/ and wav48*/ in it", path=root)
    chosen: dict[str, tuple[Path, str, str | None]] = {}
    for audio in sorted(audio_dir.rglob("*")):
        match = _VCTK_AUDIO.match(audio.name)
        if match is None or not audio.is_file():
            continue
        utt_id, speaker, mic = match["id"], match["speaker"], match["mic"]
        previous = chosen.get(utt_id)
        if previous is None or (mic == PREFERRED_VCTK_MIC and previous[2] != PREFERRED_VCTK_MIC):
            chosen[utt_id] = (audio, speaker, mic)
    utterances: list[Utterance] = []
    issues: list[DatasetIssue] = []
    for utt_id, (audio, speaker, _mic) in sorted(chosen.items()):
        transcript_path = root / "txt" / speaker / f"{utt_id}.txt"
        if not transcript_path.is_file():
            issues.append(
                DatasetIssue("missing_text", f"no transcript {transcript_path}", audio, None, utt_id)
            )
            continue
        transcript = " ".join(read_text_file(transcript_path, ("utf-8-sig", "latin-1")).split())
        utterances.append(Utterance(utt_id, audio, transcript, speaker))
    return Dataset(utterances, "vctk", root, issues)


def esd_speakers(root: Path) -> list[Path]:
    """Speaker folders of an ESD release: ``NNNN/`` holding ``NNNN.txt``."""
    return sorted(
        path
        for path in root.iterdir()
        if path.is_dir() and _ESD_SPEAKER.match(path.name) and (path / f"{path.name}.txt").is_file()
    )


def read_esd(root: Path, emotion_as: EmotionAs = "speaker") -> Dataset:
    """ESD: ``{spk}/{Emotion}/[train|evaluation|test/]{spk}_{num}.wav`` and ``{spk}/{spk}.txt``.

    The transcript's lines are ``{spk}_{num}<TAB>text<TAB>Emotion``; its encoding differs by speaker
    (UTF-8, UTF-16 or Latin-1), so each is tried in turn.
    """
    utterances: list[Utterance] = []
    issues: list[DatasetIssue] = []
    for speaker_dir in esd_speakers(root):
        speaker = speaker_dir.name
        transcript_path = speaker_dir / f"{speaker}.txt"
        texts = _read_esd_transcript(transcript_path, speaker, issues)
        for audio in sorted(speaker_dir.rglob("*.wav")):
            match = _ESD_AUDIO.match(audio.name)
            if match is None:
                continue
            utt_id = match["id"]
            source_emotion = _esd_emotion(audio, speaker_dir) or texts.get(utt_id, ("", None))[1]
            if utt_id not in texts:
                issues.append(
                    DatasetIssue(
                        "missing_text", f"no line for {utt_id} in {transcript_path}", audio, None, utt_id
                    )
                )
                continue
            emotion = normalize_emotion(source_emotion) if source_emotion else None
            name = pseudo_speaker(speaker, source_emotion, emotion_as)
            utterances.append(Utterance(utt_id, audio, texts[utt_id][0], name, emotion, source_emotion))
    return Dataset(utterances, "esd", root, issues)


def _read_esd_transcript(
    path: Path, speaker: str, issues: list[DatasetIssue]
) -> dict[str, tuple[str, str | None]]:
    text = read_text_file(path, _ESD_ENCODINGS, expect=f"{speaker}_")
    entries: dict[str, tuple[str, str | None]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = [field.strip() for field in line.split("\t")]
        if len(fields) < 2:
            fields = _split_on_spaces(line)
        if len(fields) < 2 or not fields[0]:
            issues.append(DatasetIssue("malformed", "expected 'id<TAB>text<TAB>emotion'", path, number))
            continue
        entries[fields[0]] = (fields[1], fields[2] if len(fields) > 2 and fields[2] else None)
    return entries


def _split_on_spaces(line: str) -> list[str]:
    """``id text... Emotion`` separated by spaces (a few ESD transcripts lost their tabs)."""
    words = line.split()
    if len(words) >= 3 and normalize_emotion(words[-1]) is not None:
        return [words[0], " ".join(words[1:-1]), words[-1]]
    return [words[0], " ".join(words[1:])] if len(words) >= 2 else words


def _esd_emotion(audio: Path, speaker_dir: Path) -> str | None:
    for folder in audio.relative_to(speaker_dir).parts[:-1]:
        if normalize_emotion(folder) is not None:
            return folder
    return None


def find_arctic_prompts(root: Path) -> Path | None:
    for candidate in (root / "cmuarctic.data", root.parent / "cmuarctic.data"):
        if candidate.is_file():
            return candidate
    return None


def read_emovdb(root: Path, emotion_as: EmotionAs = "speaker") -> Dataset:
    """EmoV-DB, with the CMU ARCTIC prompts file ``cmuarctic.data`` in the folder (or its parent).

    File names carry the emotion and the ARCTIC sentence number: ``amused_1-15_0001.wav`` says
    ``arctic_a0001``. Three folder layouts are read: the release archives unpacked
    (``bea_Amused/amused_1-15_0001.wav``), the sorted release (``bea/Amused/...``) and one folder per
    speaker (``bea/amused_1-15_0001.wav``).
    """
    prompts_path = find_arctic_prompts(root)
    if prompts_path is None:
        raise DatasetError(
            "EmoV-DB needs the CMU ARCTIC prompts:"
            " put cmuarctic.data (festvox.org/cmu_arctic) in this folder",
            path=root,
        )
    utterances: list[Utterance] = []
    issues: list[DatasetIssue] = []
    prompts = _read_arctic_prompts(prompts_path, issues)
    for audio in sorted(root.rglob("*.wav")):
        match = _EMOVDB_AUDIO.match(audio.name)
        if match is None:
            continue
        source_emotion = match["emotion"].lower()
        speaker = _emovdb_speaker(audio, root, source_emotion)
        utt_id = safe_id(speaker, audio.stem)
        key = f"arctic_a{match['number']}"
        if key not in prompts:
            issues.append(
                DatasetIssue("missing_text", f"no sentence {key} in {prompts_path}", audio, None, utt_id)
            )
            continue
        name = pseudo_speaker(speaker, source_emotion, emotion_as)
        emotion = normalize_emotion(source_emotion)
        utterances.append(Utterance(utt_id, audio, prompts[key], name, emotion, source_emotion))
    return Dataset(utterances, "emovdb", root, issues)


def _read_arctic_prompts(path: Path, issues: list[DatasetIssue]) -> dict[str, str]:
    prompts: dict[str, str] = {}
    for number, line in enumerate(read_text_file(path, ("utf-8-sig", "latin-1")).splitlines(), start=1):
        if not line.strip():
            continue
        match = _ARCTIC_LINE.match(line.strip())
        if match is None:
            issues.append(DatasetIssue("malformed", 'expected ( arctic_a0001 "text" )', path, number))
            continue
        prompts[match["key"]] = match["text"].strip()
    return prompts


def _emovdb_speaker(audio: Path, root: Path, source_emotion: str) -> str:
    parent = audio.parent
    if parent.resolve() == root.resolve():
        return safe_id(root.resolve().name)
    if "_" in parent.name:
        return safe_id(parent.name.split("_", 1)[0])
    if normalize_emotion(parent.name) is not None and parent.parent.resolve() != root.resolve().parent:
        return safe_id(parent.parent.name)
    return safe_id(parent.name)

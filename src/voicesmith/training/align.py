"""Monotonic alignment search (MAS) for VITS training, in numba.

The piper-tts wheel ships ``piper.train.vits.monotonic_align`` without its Cython core, so
``SynthesizerTrn.forward`` cannot import it. ``install()`` puts ``maximum_path`` from this module in its
place; the model code in this package calls it before training.

``maximum_path`` has the semantics of the original VITS ``maximum_path_c``: for each batch item, the
path through ``value[t_t, t_s]`` (frames x phonemes) that starts at (0, 0), ends at (T_t - 1, T_s - 1),
moves one frame per step and stays on a phoneme or advances by one, maximising the summed value.
Ties go to staying on the current phoneme while backtracking, as in the original.
"""

from __future__ import annotations

import sys
import types

import numba
import numpy as np
import torch

_NEG = -1e9


@numba.njit(cache=True, nogil=True)
def _maximum_path_each(path: np.ndarray, value: np.ndarray, t_y: int, t_x: int) -> None:
    for y in range(t_y):
        for x in range(max(0, t_x + y - t_y), min(t_x, y + 1)):
            v_cur = _NEG if x == y else value[y - 1, x]
            if x == 0:
                v_prev = 0.0 if y == 0 else _NEG
            else:
                v_prev = value[y - 1, x - 1]
            value[y, x] += max(v_prev, v_cur)
    index = t_x - 1
    for y in range(t_y - 1, -1, -1):
        path[y, index] = 1
        if index != 0 and (index == y or value[y - 1, index] < value[y - 1, index - 1]):
            index -= 1


@numba.njit(cache=True, parallel=True, nogil=True)
def _maximum_path_batch(paths: np.ndarray, values: np.ndarray, t_ys: np.ndarray, t_xs: np.ndarray) -> None:
    for i in numba.prange(paths.shape[0]):
        _maximum_path_each(paths[i], values[i], t_ys[i], t_xs[i])


def maximum_path(neg_cent: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Hard monotonic alignment.

    neg_cent: [b, t_t, t_s] log-likelihood of frame t_t under phoneme t_s.
    mask: [b, t_t, t_s] 1 inside each item's (frames x phonemes) rectangle.
    Returns a 0/1 tensor [b, t_t, t_s] on ``neg_cent``'s device and dtype.
    """
    values = neg_cent.detach().float().cpu().numpy().astype(np.float32, copy=True)
    paths = np.zeros(values.shape, dtype=np.int32)
    t_ys = mask.sum(1)[:, 0].detach().cpu().numpy().astype(np.int64)
    t_xs = mask.sum(2)[:, 0].detach().cpu().numpy().astype(np.int64)
    _maximum_path_batch(paths, values, t_ys, t_xs)
    return torch.from_numpy(paths).to(device=neg_cent.device, dtype=neg_cent.dtype)


def install() -> None:
    """Make ``from . import monotonic_align`` inside piper's ``SynthesizerTrn.forward`` find ours."""
    import piper.train.vits as vits_package

    shim = types.ModuleType("piper.train.vits.monotonic_align")
    shim.maximum_path = maximum_path  # type: ignore[attr-defined]
    shim.__doc__ = "voicesmith.training.align (numba) standing in for piper's missing Cython core."
    sys.modules["piper.train.vits.monotonic_align"] = shim
    vits_package.monotonic_align = shim  # type: ignore[attr-defined]

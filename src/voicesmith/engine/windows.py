"""How the frames of one utterance are decoded: HiFi-GAN windows and the flow blocks that feed them.

Pure arithmetic on frame counts (no model), so the layout's rules are tested without a voice. The flow
and HiFi-GAN are convolutional with bounded receptive fields: a piece of either, run with enough frames
of context on each side, gives the frames in its middle as the whole would (to float rounding: the
kernels' summation order depends a little on the width, ~1e-6). Each piece costs its context twice, so
the layout trades the CPU of extra pieces against early audio and bounded memory:

- HiFi-GAN runs once per window (:func:`window_bounds`): an optional short first window (early first
  audio), windows that grow from it, then windows of at most ``window`` frames (memory);
- the flow runs once per block of windows (:func:`decode_plan`): the whole utterance when it fits in a
  window, else the first window alone (first audio), then each growing window alone (its audio must be
  ready before the audio already out has played), then as many windows as fit in ``FLOW_BLOCK_FRAMES``.
"""

from __future__ import annotations

from dataclasses import dataclass

FLOW_CONTEXT_FRAMES = 40
"""Frames of context each side of a flow block (4 coupling layers of 4 WaveNet layers, kernel 5: 32 in
theory; measured on joe, 32 gives joins within 1.2e-5 of a whole decode, 40 within 3e-6)."""
DECODER_CONTEXT_FRAMES = 12
"""Frames of context each side of a HiFi-GAN window (measured: joins within 3e-6 of a whole decode)."""
WINDOW_GROWTH = 4
"""After a short first window, each window is at most this many times the audio decoded before it: no
stall for a listener while decoding runs at under 1/4 of real time. Each window costs
2 x ``DECODER_CONTEXT_FRAMES`` more, so growing faster costs less and risks more. Measured on the 22
texts of benchmarks/synthesis.py: without growth 21 of them stalled on one thread (up to 0.27 s; the
server's default is one thread per call) and 8 on two; with 4 none did, at the same CPU time (3 cost
8 % more)."""
EARLY_WHOLE_FRAMES = 128
"""An utterance this short (~1.5 s for joe) is decoded whole even first: ~40 ms on 2 cores."""
FLOW_BLOCK_FRAMES = 1024
"""The most frames of windows one flow block covers after the first audio (~12 s for joe; the flow's
buffers for it are a few MB). One block per window, as before, cost each join of two windows
2 x (``FLOW_CONTEXT_FRAMES`` + ``DECODER_CONTEXT_FRAMES``) frames of flow more."""
FLOW_COST = 0.25
"""CPU of a flow frame in HiFi-GAN frames (measured on joe, 2 threads: ~0.2): a flow block ahead of a
window counts against that window's growth budget at this rate, so merging blocks never brings back a
stall that :data:`WINDOW_GROWTH` prevents."""


@dataclass(frozen=True)
class DecodeStep:
    """One HiFi-GAN window of an utterance, and the flow block to run before it (if any)."""

    start: int
    end: int
    """The window's frames ``[start, end)``: its audio is exact there."""
    flow: tuple[int, int] | None
    """Run the flow over the prior's frames ``[a, b)`` before this window; None: the last block's
    output already covers the window and its context."""


def window_bounds(total: int, first_window: int | None, window: int) -> tuple[list[tuple[int, int]], int]:
    """HiFi-GAN windows over ``total`` frames: an optional short first one, windows that grow from it
    (each at most ``WINDOW_GROWTH`` x the audio before it), then even windows of at most ``window``.
    Returns the windows and how many of them (from the start) are the first and the growing ones.

    A short first window is worth it only when decoding the whole utterance at once would delay the
    first audio (beyond ``EARLY_WHOLE_FRAMES``).
    """
    bounds: list[tuple[int, int]] = []
    start = 0
    if first_window and total > max(2 * first_window, EARLY_WHOLE_FRAMES):
        # After the short first window each one is at most WINDOW_GROWTH x the audio already out,
        # until they reach ``window``: a listener who plays the stream as it comes never waits for
        # the next window while decoding runs faster than 1 / WINDOW_GROWTH x real time. A long
        # window straight after the first (16 frames, ~0.19 s) left it silent for most of that
        # window's decode (~0.3 s of a 300-frame one on one thread).
        size = first_window
        while size < window and total - start > size:
            if total - start <= 2 * size:  # the rest in two even halves, not a window and a crumb
                size = -(-(total - start) // 2)
            bounds.append((start, start + size))
            start += size
            size = min(window, WINDOW_GROWTH * start)
    growing = len(bounds)
    remaining = total - start
    if remaining > 0:
        pieces = max(1, -(-remaining // window))
        size = -(-remaining // pieces)  # even windows: no tiny tail window
        while start < total:
            bounds.append((start, min(total, start + size)))
            start = bounds[-1][1]
    return bounds, growing


def decode_plan(total: int, first_window: int | None, window: int) -> list[DecodeStep]:
    """The windows of :func:`window_bounds` with the flow blocks that feed them.

    The first block covers the whole utterance (one flow run) unless it is longer than a window: then
    the flow over the first window alone gets the first audio out sooner (measured, 1 thread: flow
    0.020 s CPU on 84 frames, 0.095 s on 396), at the cost of running the flow over those frames twice.
    A growing window gets a block of its own. Later blocks cover as many windows as fit in
    ``FLOW_BLOCK_FRAMES``; in a stream's first utterance (``first_window`` given) only as many as keep
    the window's work, flow included, within its growth budget.
    """
    bounds, growing = window_bounds(total, first_window, window)
    context = DECODER_CONTEXT_FRAMES + FLOW_CONTEXT_FRAMES
    steps: list[DecodeStep] = []
    exact_end = -1
    for index, (start, end) in enumerate(bounds):
        if exact_end >= min(total, end + DECODER_CONTEXT_FRAMES):
            steps.append(DecodeStep(start, end, None))
            continue
        if index == 0 and growing:
            joint = len(bounds) > 1 and end - start < window and total <= window
            block_end = total if joint else end
        elif index < growing:
            block_end = end
        else:
            block_end = end
            budget = WINDOW_GROWTH * start - (end - start + 2 * DECODER_CONTEXT_FRAMES)
            for _, later_end in bounds[index + 1 :]:
                if later_end - start > FLOW_BLOCK_FRAMES:
                    break
                if first_window and FLOW_COST * (later_end - start + 2 * context) > budget:
                    break
                block_end = later_end
        flow_start = max(0, start - context)
        flow_end = min(total, block_end + context)
        exact_end = total if flow_end == total else block_end + DECODER_CONTEXT_FRAMES
        steps.append(DecodeStep(start, end, (flow_start, flow_end)))
    return steps

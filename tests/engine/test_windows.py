"""The decode layout of an utterance (HiFi-GAN windows, flow blocks): pure arithmetic, no voice."""

from __future__ import annotations

import pytest

from voicesmith.engine.windows import (
    DECODER_CONTEXT_FRAMES,
    FLOW_BLOCK_FRAMES,
    FLOW_CONTEXT_FRAMES,
    FLOW_COST,
    WINDOW_GROWTH,
    decode_plan,
    window_bounds,
)

CASES = [
    (total, first, window)
    for total in (1, 20, 100, 129, 220, 300, 328, 603, 1283, 2000, 5000)
    for first in (None, 16, 32)
    for window in (37, 64, 320)
]


def _exact(block: tuple[int, int], total: int) -> tuple[int, int]:
    """Frames a flow block gives as the whole would: all but its context, except at the utterance's ends."""
    a, b = block
    return (0 if a == 0 else a + FLOW_CONTEXT_FRAMES, total if b == total else b - FLOW_CONTEXT_FRAMES)


@pytest.mark.parametrize(("total", "first", "window"), CASES)
def test_windows_tile_the_utterance_and_each_has_its_flow_context(total, first, window):
    steps = decode_plan(total, first, window)
    assert steps[0].start == 0 and steps[-1].end == total
    assert all(a.end == b.start for a, b in zip(steps, steps[1:], strict=False))
    assert all(s.end - s.start <= max(window, first or 0) for s in steps)
    assert steps[0].flow is not None
    exact = (0, 0)
    for step in steps:
        if step.flow is not None:
            assert 0 <= step.flow[0] < step.flow[1] <= total
            exact = _exact(step.flow, total)
        needs = (max(0, step.start - DECODER_CONTEXT_FRAMES), min(total, step.end + DECODER_CONTEXT_FRAMES))
        assert exact[0] <= needs[0] and needs[1] <= exact[1], (step, exact)


@pytest.mark.parametrize(("total", "first", "window"), CASES)
def test_merged_flow_blocks_stay_within_the_growth_budget(total, first, window):
    """In a stream's first utterance a listener plays the audio as it comes: a flow block that runs
    ahead for later windows is allowed only where the window's work, that flow included (at FLOW_COST),
    stays within WINDOW_GROWTH x the frames already out, the budget the growing windows keep."""
    _, growing = window_bounds(total, first, window)
    context = DECODER_CONTEXT_FRAMES + FLOW_CONTEXT_FRAMES
    for index, step in enumerate(decode_plan(total, first, window)):
        if step.flow is None or not first:
            continue
        own = min(total, step.end + context) - max(0, step.start - context)
        merged = step.flow[1] - step.flow[0]
        if index == 0 or index < growing or merged <= own:
            assert index > 0 or growing == 0 or merged in (own, total)
            continue
        work = step.end - step.start + 2 * DECODER_CONTEXT_FRAMES + FLOW_COST * merged
        assert work <= WINDOW_GROWTH * step.start, (step, work)


def test_without_a_first_window_the_flow_runs_once_over_several_windows():
    """One flow block instead of one per window: each join cost 2 x 52 frames of flow more."""
    steps = decode_plan(362, None, 320)
    assert [(s.start, s.end) for s in steps] == [(0, 181), (181, 362)]
    assert [s.flow for s in steps] == [(0, 362), None]


def test_flow_blocks_are_bounded_for_memory():
    steps = decode_plan(5000, None, 320)
    blocks = [s for s in steps if s.flow is not None]
    assert len(blocks) > 1
    context = DECODER_CONTEXT_FRAMES + FLOW_CONTEXT_FRAMES
    assert all(s.flow[1] - s.flow[0] <= FLOW_BLOCK_FRAMES + 2 * context for s in blocks)


def test_a_first_utterance_longer_than_a_window_waits_for_the_first_window_only():
    """The first audio of a long sentence: flow and HiFi-GAN over the first window and its context."""
    steps = decode_plan(1283, 16, 320)
    assert (steps[0].start, steps[0].end) == (0, 16)
    assert steps[0].flow == (0, 16 + DECODER_CONTEXT_FRAMES + FLOW_CONTEXT_FRAMES)


def test_a_first_utterance_within_a_window_runs_the_flow_once():
    steps = decode_plan(300, 16, 320)
    assert [(s.start, s.end) for s in steps] == [(0, 16), (16, 80), (80, 300)]
    assert [s.flow for s in steps] == [(0, 300), None, None]


def test_a_short_utterance_is_decoded_whole():
    assert decode_plan(100, 16, 320) == decode_plan(100, None, 320)
    assert len(decode_plan(100, 16, 320)) == 1

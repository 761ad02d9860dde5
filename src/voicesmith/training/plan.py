"""The stage and learning-rate plan of a run, and how it follows a time budget.

A fine-tune from an ``.onnx`` base runs in two stages (see :mod:`.model`): stage 1 trains only what the
ONNX lacked, stage 2 the voice. Both stages' warm-up and cosine decay are laid out over
``StagePlan.total_steps``. With only ``max_steps`` the plan is fixed: ``total_steps = max_steps``. With
``max_minutes`` the number of steps that fit is not known in advance (2 shared CPU cores: 3-15 s a
step; an H200: 0.4 s), so the plan is made from measured step times instead: after the first few steps
(the very first is slow) and again every :data:`REPLAN_EVERY` of the plan, ``total_steps`` becomes the
steps done plus the steps the remaining time holds at the recent pace, and a stage 1 that has not ended
yet is re-sized to ``stage1_fraction`` of that. The run then ends its schedule (LR at its floor) as the
time runs out, instead of stopping in the middle of stage 1.

Pure functions of numbers: the callback in :mod:`.train` measures, :func:`replan` decides.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

MEASURE_AFTER = 2
"""Steps left out of the pace measurement at the start of a run (the first step compiles kernels and
warms caches and takes several times longer)."""
FIRST_PLAN_AT = 3
"""Steps measured before the first time-based plan."""
REPLAN_EVERY = 0.05
"""Share of the planned run between re-plans (the pace changes when the machine gets busier)."""
MIN_STAGE1_STEPS = 1
CHECKPOINT_SAFETY = 3.0
"""Margin on the probe's write rate when keeping time back for the final checkpoint: the probe writes
one contiguous tensor, a checkpoint ~1,400 of them plus optimiser state (measured: joe's 790 MB took
9.6 s where the probe at 1.5 x predicted 4 s)."""


@dataclass
class StagePlan:
    """What the LR schedules follow: the planned length of the run and of stage 1."""

    total_steps: int
    frozen_steps: int
    """Stage-1 length (0: no stage 1)."""
    auto_frozen: bool = False
    """Stage 1 is ``stage1_fraction`` of ``total_steps`` (re-sized by re-plans), not a fixed count."""
    timed: bool = False
    """Planned from measured step times (``max_minutes``)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StagePlan:
        names = ("total_steps", "frozen_steps", "auto_frozen", "timed")
        return cls(**{k: data[k] for k in names if k in data})


def initial_plan(
    max_steps: int, frozen_steps: int | None, stage1_fraction: float, has_fresh_parts: bool
) -> StagePlan:
    """The plan before anything is measured: over ``max_steps``.

    ``frozen_steps`` None means automatic: ``stage1_fraction`` of the run when the base lacks parts
    (an ``.onnx`` base), none otherwise (a ``.ckpt`` base or from scratch).
    """
    if frozen_steps is not None:
        return StagePlan(max_steps, max(int(frozen_steps), 0))
    if not has_fresh_parts:
        return StagePlan(max_steps, 0)
    return StagePlan(max_steps, _stage1(max_steps, stage1_fraction), auto_frozen=True)


def _stage1(total: int, fraction: float) -> int:
    return max(MIN_STAGE1_STEPS, int(round(total * fraction)))


def replan(
    plan: StagePlan,
    *,
    step: int,
    max_steps: int,
    remaining_s: float,
    seconds_per_step: float,
    stage1_fraction: float,
    released: bool,
) -> StagePlan:
    """The plan for a run at ``step`` with ``remaining_s`` of its budget left at ``seconds_per_step``.

    ``total_steps`` = steps done + the steps that still fit (never beyond ``max_steps``, never before the
    next step). An automatic stage 1 that has not ended is re-sized to ``stage1_fraction`` of the new
    total (but never ends before the next step: the release is not taken back, nor brought forward
    into the past). A fixed ``frozen_steps`` is kept.
    """
    if seconds_per_step <= 0 or not math.isfinite(seconds_per_step):
        return plan
    fit = int(max(remaining_s, 0.0) // seconds_per_step)
    total = max(step + 1, min(max_steps, step + fit))
    frozen = plan.frozen_steps
    if plan.auto_frozen and not released:
        # ``step`` batches are done and the next batch releases when ``step >= frozen``: a stage 1
        # whose share has passed ends with the next batch (``step + 1`` here deferred it by one at every
        # re-plan, and a short run, which re-plans every step, never left stage 1).
        frozen = max(step, _stage1(total, stage1_fraction))
        frozen = min(frozen, max(total - 1, step))
    return StagePlan(total, frozen, plan.auto_frozen, timed=True)


def next_replan(plan: StagePlan, step: int) -> int:
    """The step at which to measure and plan again."""
    return step + max(1, int(plan.total_steps * REPLAN_EVERY))


def checkpoint_seconds(checkpoint_bytes: int, bytes_per_s: float) -> float:
    """Seconds to keep back from a time budget so that the final checkpoint is written inside it.

    ``bytes_per_s`` is measured when training starts; 0 (not measurable) assumes 20 MB/s, a slow
    network disk. At least one second.
    """
    rate = bytes_per_s if bytes_per_s > 0 else 20e6
    return max(1.0, CHECKPOINT_SAFETY * checkpoint_bytes / rate)

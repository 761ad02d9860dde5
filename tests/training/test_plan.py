"""The stage/LR plan: fixed over max_steps, or following a time budget from measured step times."""

from __future__ import annotations

import pytest

from voicesmith.training.config import TrainConfig
from voicesmith.training.model import lr_multiplier
from voicesmith.training.plan import initial_plan, next_replan, replan


def test_stage_one_is_automatic_only_when_the_base_lacks_parts():
    assert initial_plan(2000, None, 0.25, has_fresh_parts=True).frozen_steps == 500
    assert initial_plan(2000, None, 0.25, has_fresh_parts=False).frozen_steps == 0
    fixed = initial_plan(2000, 300, 0.25, has_fresh_parts=True)
    assert (fixed.total_steps, fixed.frozen_steps, fixed.auto_frozen) == (2000, 300, False)


def test_a_time_budget_sizes_the_run_and_stage_one_from_the_pace():
    # 30 minutes on 2 cores at 11 s a step: the old plan (2000 steps, 200 frozen) never left stage 1.
    plan = initial_plan(100_000, None, 0.25, has_fresh_parts=True)
    plan = replan(plan, step=3, max_steps=100_000, remaining_s=30 * 60 - 40, seconds_per_step=11.0,
                  stage1_fraction=0.25, released=False)  # fmt: skip
    assert plan.timed and plan.total_steps == 3 + int((30 * 60 - 40) // 11.0)
    assert plan.frozen_steps == round(plan.total_steps * 0.25) < plan.total_steps
    # The machine gets busier: the run shrinks, stage 1 with it (but never into the past).
    slower = replan(plan, step=30, max_steps=100_000, remaining_s=1200, seconds_per_step=30.0,
                    stage1_fraction=0.25, released=False)  # fmt: skip
    assert slower.total_steps == 70 and slower.frozen_steps == 30  # 25 % (18) has passed: release next
    late = replan(plan, step=60, max_steps=100_000, remaining_s=60, seconds_per_step=30.0,
                  stage1_fraction=0.25, released=False)  # fmt: skip
    assert late.frozen_steps == 60 and late.total_steps == 62
    # Once stage 2 has begun its start stays where it was; a fixed stage 1 is never re-sized.
    released = replan(plan, step=100, max_steps=100_000, remaining_s=1000, seconds_per_step=5.0,
                      stage1_fraction=0.25, released=True)  # fmt: skip
    assert released.frozen_steps == plan.frozen_steps and released.total_steps == 300
    fixed = replan(initial_plan(1000, 10, 0.25, True), step=3, max_steps=1000, remaining_s=1e6,
                   seconds_per_step=1.0, stage1_fraction=0.25, released=False)  # fmt: skip
    assert (fixed.total_steps, fixed.frozen_steps) == (1000, 10)  # capped by max_steps
    assert next_replan(plan, 3) == 3 + int(plan.total_steps * 0.05)


def test_the_schedule_ends_with_the_plan_and_warm_up_fits_a_short_stage():
    config = TrainConfig(max_steps=100_000, warmup_steps=50, min_lr_ratio=0.1)
    assert lr_multiplier(0, config, start=0, total=40) == pytest.approx(1 / 8)  # 8 = 40 // 5
    assert lr_multiplier(7, config, start=0, total=40) == pytest.approx(1.0)
    assert lr_multiplier(40, config, start=0, total=40) == pytest.approx(0.1)  # the floor at the end
    assert lr_multiplier(9, config, start=10, total=40) == 0.0


def test_a_short_run_that_replans_every_step_still_leaves_stage_one():
    """10 minutes at 45 s a step: re-planned after every batch, stage 1 must still end (it did not)."""
    plan = initial_plan(100_000, None, 0.25, has_fresh_parts=True)
    released_at = None
    for step in range(5, 16):  # after batch ``step``: re-plan, then the next batch checks the release
        done = released_at is not None
        plan = replan(plan, step=step, max_steps=100_000, remaining_s=(16 - step) * 45.0,
                      seconds_per_step=45.0, stage1_fraction=0.25, released=done)  # fmt: skip
        if released_at is None and step >= plan.frozen_steps:
            released_at = step
    assert released_at == 5  # a quarter of 16 steps has passed at the first plan: the next batch releases

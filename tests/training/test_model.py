from __future__ import annotations

import dataclasses

import pytest
import torch

from voicesmith.training import warmstart
from voicesmith.training.config import TINY_MODEL, TrainConfig, build_generator
from voicesmith.training.model import VitsTrainingModule, lr_multiplier


def test_warmup_then_cosine_decay_reaches_the_floor():
    config = TrainConfig(max_steps=100, warmup_steps=10, decay="cosine", min_lr_ratio=0.1)
    factors = [lr_multiplier(step, config) for step in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(a <= b for a, b in zip(factors[:10], factors[1:10], strict=False))
    assert all(a >= b for a, b in zip(factors[10:], factors[11:], strict=False))
    assert lr_multiplier(100, config) == pytest.approx(0.1)


def test_exponential_decay_and_a_late_start():
    config = TrainConfig(
        max_steps=100, warmup_steps=0, decay="exponential", lr_decay_gamma=0.9, min_lr_ratio=0.0
    )
    assert lr_multiplier(2, config) == pytest.approx(0.81)
    assert lr_multiplier(4, config, start=5) == 0.0
    assert lr_multiplier(5, config, start=5) == pytest.approx(1.0)


def test_schedulers_really_step_and_stage_one_freezes_the_inference_path():
    config = TrainConfig(
        max_steps=10, warmup_steps=2, frozen_steps=3, learning_rate=1e-4, stage1_learning_rate=1e-3
    )
    module = VitsTrainingModule(TINY_MODEL.to_dict(), config.to_dict())
    (opt_g, _), (sched_g, sched_d) = module.configure_optimizers()
    seen = []
    for _ in range(6):
        seen.append([group["lr"] for group in opt_g.param_groups])
        sched_g.step()
        sched_d.step()
    inference = [lrs[0] for lrs in seen]
    training_only = [lrs[1] for lrs in seen]
    assert inference[:3] == [0.0, 0.0, 0.0] and inference[3] > 0
    assert training_only[0] == pytest.approx(1e-3 * 0.5) and training_only[1] == pytest.approx(1e-3)
    assert training_only[3] == pytest.approx(1e-4 * 0.5)  # stage 2 warms up again
    names = {id(p): n for n, p in module.model_g.named_parameters()}
    assert all(
        names[id(p)].startswith(warmstart.TRAINING_ONLY_PREFIXES) for p in opt_g.param_groups[1]["params"]
    )


def test_a_new_speaker_embedding_starts_as_the_base_voice(tmp_path):
    torch.manual_seed(0)
    base_model = build_generator(TINY_MODEL).eval()
    start = warmstart.WarmStart(model=TINY_MODEL, generator=base_model.state_dict())
    adapted = warmstart.adapt_speakers(start, 3, gin_channels=8)
    assert adapted.model.num_speakers == 3 and adapted.model.gin_channels == 8
    assert "emb_g.weight" in adapted.missing and "dec.cond.weight" in adapted.missing
    model = warmstart.generator_from(adapted).eval()
    ids = torch.LongTensor([[1, 0, 20, 0, 30, 0, 2]])
    with torch.no_grad():
        expected = base_model.infer(ids, torch.LongTensor([7]), noise_scale=0, noise_scale_w=0)[0]
        for speaker in range(3):
            got = model.infer(
                ids, torch.LongTensor([7]), sid=torch.LongTensor([speaker]), noise_scale=0, noise_scale_w=0
            )[0]
            torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_a_multi_speaker_base_is_not_grown():
    config = dataclasses.replace(TINY_MODEL, num_speakers=2, gin_channels=8)
    start = warmstart.WarmStart(model=config, generator=build_generator(config).state_dict())
    assert warmstart.adapt_speakers(start, 2) is start
    with pytest.raises(Exception, match="at most as many"):
        warmstart.adapt_speakers(start, 5)


def test_the_text_encoder_and_duration_predictor_stay_frozen_by_default():
    frozen = VitsTrainingModule(TINY_MODEL.to_dict(), TrainConfig().to_dict())
    for name, parameter in frozen.model_g.named_parameters():
        is_text = name.startswith(("enc_p.", "dp.")) and not name.startswith(warmstart.TRAINING_ONLY_PREFIXES)
        assert parameter.requires_grad is not is_text, name
    (opt_g, _), _ = frozen.configure_optimizers()
    assert [group["name"] for group in opt_g.param_groups] == ["inference_path", "training_only", "text"]
    slow = VitsTrainingModule(TINY_MODEL.to_dict(), TrainConfig(text_learning_rate_ratio=0.1).to_dict())
    assert all(p.requires_grad for p in slow.model_g.enc_p.parameters())
    (opt_g, _), (sched_g, _) = slow.configure_optimizers()
    for _ in range(60):
        sched_g.step()
    voice, _training_only, text = (group["lr"] for group in opt_g.param_groups)
    assert text == pytest.approx(0.1 * voice) and voice > 0

"""The VITS training module: piper's generator, discriminator and losses under our own optimisation.

Differences from piper's ``VitsModel`` (and why):

- LR schedules really step (piper returns schedulers it never steps under manual optimisation):
  linear warm-up, then exponential or cosine decay, stepped once per batch.
- Two-stage fine-tune from an ``.onnx`` base: while ``step < plan.frozen_steps`` the inference path
  (everything the ONNX held) has LR 0 and only the parts the ONNX lacks learn (posterior encoder, the
  duration predictor's training-only flows, the discriminator); then the voice (flow, decoder) learns at
  a low LR, with a fresh warm-up and fresh Adam moments for the newly released weights. The text
  encoder and the duration predictor (pronunciation, timing) learn at ``text_learning_rate_ratio`` of
  that LR: 0 by default, so they stay the base voice's and the words stay intelligible.
- The schedules follow a :class:`~voicesmith.training.plan.StagePlan` (stage-1 length and total
  length) which a time-budgeted run re-makes from measured step times (:mod:`.plan`).
- One "step" is one batch (a generator and a discriminator update). Lightning counts each optimiser
  step, so ``trainer.global_step == 2 * step``; ``step`` below is what users see.
- RNG states ride in the checkpoint, so a resumed run continues the same random stream.
- No hub-fetched MOS metric; validation logs ``val_mel`` (raw mel L1), the checkpoint score.
"""

from __future__ import annotations

import logging
import math
import random
from typing import Any

import lightning as L
import numpy as np
import torch
from piper.train.vits.commons import slice_segments
from piper.train.vits.losses import discriminator_loss, feature_loss, generator_loss, kl_loss
from piper.train.vits.mel_processing import mel_spectrogram_torch, spec_to_mel_torch
from torch import autocast
from torch.nn import functional as F

from voicesmith.training import align
from voicesmith.training.config import ModelConfig, TrainConfig, build_discriminator, build_generator
from voicesmith.training.plan import StagePlan, initial_plan
from voicesmith.training.warmstart import TRAINING_ONLY_PREFIXES

TEXT_PREFIXES = ("enc_p.", "dp.")
"""Generator parts that decide pronunciation and timing (their training-only pieces excepted)."""

_LOGGER = logging.getLogger(__name__)


def lr_multiplier(step: int, config: TrainConfig, *, start: int = 0, total: int | None = None) -> float:
    """LR factor at ``step`` for a schedule that begins at ``start`` and ends at ``total`` (0 before it).

    ``total`` defaults to ``config.max_steps`` (a time-budgeted run passes its plan's length). The
    warm-up is ``config.warmup_steps`` but at most a fifth of the stage (at least 2 steps), so a short
    run does not spend half of itself warming up.
    """
    if step < start:
        return 0.0
    total = config.max_steps if total is None else total
    local = step - start
    warmup = min(config.warmup_steps, max(2, (total - start) // 5)) if config.warmup_steps > 0 else 0
    if warmup > 0 and local < warmup:
        return (local + 1) / warmup
    after = local - warmup
    if config.decay == "exponential":
        return max(config.lr_decay_gamma**after, config.min_lr_ratio)
    if config.decay == "cosine":
        span = max(total - start - warmup, 1)
        progress = min(after / span, 1.0)
        return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return 1.0


def _numpy_state_to_plain(state: tuple) -> list:
    """numpy's RNG state without ndarrays, so checkpoints load with ``torch.load(weights_only=True)``."""
    name, keys, pos, has_gauss, cached = state
    return [name, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(cached)]


def _numpy_state_from_plain(state: list) -> tuple:
    name, keys, pos, has_gauss, cached = state
    return name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached


class VitsTrainingModule(L.LightningModule):
    """Generator ``model_g`` (piper ``SynthesizerTrn``) and discriminator ``model_d`` with their losses."""

    def __init__(self, model: dict[str, Any], train: dict[str, Any], fresh: list[str] | None = None) -> None:
        """``fresh``: generator parameters that start untrained (learn in stage 1 too); by default those
        an ONNX voice never holds (posterior encoder, training-only duration flows)."""
        super().__init__()
        self.save_hyperparameters()
        self.model_config = ModelConfig.from_dict(model)
        self.train_config = TrainConfig.from_dict(train)
        self.automatic_optimization = False
        align.install()
        self.model_g = build_generator(self.model_config)
        self.model_d = build_discriminator(self.train_config.discriminator)
        self._fresh = set(fresh or ())
        cfg = self.train_config
        self.plan = initial_plan(
            cfg.max_steps, cfg.frozen_steps, cfg.stage1_share(posterior_started=False), bool(self._fresh)
        )
        """The stage/LR plan; a time-budgeted run re-plans it as it goes (``train._TimePlan``)."""
        self._released = self.plan.frozen_steps <= 0
        if cfg.text_learning_rate_ratio <= 0:  # pronunciation and timing stay the base voice's
            for parameter in self._parameters_of("text"):
                parameter.requires_grad_(False)

    # -- steps --------------------------------------------------------------------------------------

    @property
    def step(self) -> int:
        """Batches trained so far (both optimisers stepped)."""
        return self.global_step // 2

    def _losses(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        cfg = self.model_config
        y_hat, l_length, _attn, ids_slice, _x_mask, z_mask, (_z, z_p, m_p, logs_p, _m_q, logs_q) = (
            self.model_g(
                batch.phoneme_ids,
                batch.phoneme_lengths,
                batch.spectrograms,
                batch.spectrogram_lengths,
                batch.speaker_ids,
            )
        )
        frames = cfg.segment_size // cfg.hop_length
        with autocast(self.device.type, enabled=False):  # STFT and mel L1 in fp32
            mel = spec_to_mel_torch(
                batch.spectrograms.float(),
                cfg.filter_length,
                cfg.mel_channels,
                cfg.sample_rate,
                cfg.mel_fmin,
                cfg.mel_fmax,
            )
            y_mel = slice_segments(mel, ids_slice, frames)
            y_hat_mel = mel_spectrogram_torch(
                y_hat.squeeze(1).float(),
                cfg.filter_length,
                cfg.mel_channels,
                cfg.sample_rate,
                cfg.hop_length,
                cfg.win_length,
                cfg.mel_fmin,
                cfg.mel_fmax,
            )
        y = slice_segments(batch.audios, ids_slice * cfg.hop_length, cfg.segment_size)
        y_hat = y_hat[..., : y.shape[-1]]
        _, y_d_hat_g, fmap_r, fmap_g = self.model_d(y, y_hat)
        with autocast(self.device.type, enabled=False):
            mel_l1 = F.l1_loss(y_mel, y_hat_mel)
            kl = kl_loss(z_p, logs_q, m_p, logs_p, z_mask)
            dur = torch.sum(l_length.float())
            fm = feature_loss(fmap_r, fmap_g)
            gen, _ = generator_loss(y_d_hat_g)
            loss_g = gen + fm + mel_l1 * self.train_config.c_mel + dur + kl * self.train_config.c_kl
        y_d_hat_r, y_d_hat_g, _, _ = self.model_d(y, y_hat.detach())
        with autocast(self.device.type, enabled=False):
            loss_d, _, _ = discriminator_loss(y_d_hat_r, y_d_hat_g)
        metrics = {"mel": mel_l1, "kl": kl, "dur": dur, "fm": fm, "gen": gen, "disc": loss_d}
        return loss_g, loss_d, {k: v.detach() for k, v in metrics.items()}

    def training_step(self, batch: Any, batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        sched_g, sched_d = self.lr_schedulers()
        if not self._released and self.step >= self.plan.frozen_steps:
            self._release_inference_path(opt_g)
        loss_g, loss_d, metrics = self._losses(batch)
        clip = self.train_config.grad_clip

        opt_g.zero_grad()
        self.manual_backward(loss_g)
        if clip:
            self.clip_gradients(opt_g, gradient_clip_val=clip, gradient_clip_algorithm="norm")
        opt_g.step()

        opt_d.zero_grad()
        self.manual_backward(loss_d)
        if clip:
            self.clip_gradients(opt_d, gradient_clip_val=clip, gradient_clip_algorithm="norm")
        opt_d.step()
        sched_g.step()
        sched_d.step()

        size = batch.phoneme_ids.size(0)
        self.log_dict({f"train_{k}": v for k, v in metrics.items()}, batch_size=size)
        self.log("loss_g", loss_g.detach(), batch_size=size)
        self.log("loss_d", loss_d.detach(), batch_size=size)
        self.log("lr_g", opt_g.param_groups[0]["lr"], batch_size=size)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        _, _, metrics = self._losses(batch)
        self.log_dict(
            {f"val_{k}": v for k, v in metrics.items()}, batch_size=batch.phoneme_ids.size(0), sync_dist=True
        )

    # -- optimisers ---------------------------------------------------------------------------------

    def _part(self, name: str) -> str:
        """Which group a generator parameter learns in: ``training_only`` (what an ONNX voice lacks),
        ``text`` (text encoder, duration predictor: pronunciation and timing) or ``voice`` (flow, decoder,
        speaker embedding: how it sounds)."""
        if name in self._fresh or name.startswith(TRAINING_ONLY_PREFIXES):
            return "training_only"
        if name.startswith(TEXT_PREFIXES):
            return "text"
        return "voice"

    def _parameters_of(self, part: str) -> list[torch.nn.Parameter]:
        return [p for name, p in self.model_g.named_parameters() if self._part(name) == part]

    def _generator_groups(self) -> list[dict[str, Any]]:
        return [
            {"params": self._parameters_of("voice"), "name": "inference_path"},
            {"params": self._parameters_of("training_only"), "name": "training_only"},
            {"params": self._parameters_of("text"), "name": "text"},
        ]

    def configure_optimizers(self) -> Any:
        cfg = self.train_config
        opt_g = torch.optim.AdamW(
            self._generator_groups(), lr=cfg.learning_rate, betas=cfg.betas, eps=cfg.eps
        )
        opt_d = torch.optim.AdamW(
            self.model_d.parameters(), lr=cfg.learning_rate_d, betas=cfg.betas_d, eps=cfg.eps
        )
        stage1_ratio = cfg.stage1_learning_rate / cfg.learning_rate
        # The lambdas read self.plan at every step: a time-budgeted run re-makes it as it goes.

        def inference_path(step: int) -> float:
            return lr_multiplier(step, cfg, start=self.plan.frozen_steps, total=self.plan.total_steps)

        def training_only(step: int) -> float:
            if step < self.plan.frozen_steps:
                return stage1_ratio * lr_multiplier(step, cfg, total=self.plan.total_steps)
            return inference_path(step)

        def text(step: int) -> float:
            return cfg.text_learning_rate_ratio * inference_path(step)

        def discriminator(step: int) -> float:
            return lr_multiplier(step, cfg, total=self.plan.total_steps)

        sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, [inference_path, training_only, text])
        sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, discriminator)
        return [opt_g, opt_d], [sched_g, sched_d]

    def on_fit_start(self) -> None:
        self._freeze_for_stage()

    def _freeze_for_stage(self) -> None:
        """In stage 1 the inference path has LR 0; on one process its weight gradients are not even
        computed (about a third less backward work; gradients still flow through it to the posterior
        encoder). Under DDP every parameter keeps ``requires_grad`` (the reducer fixes its set at wrap)."""
        if self.trainer.world_size > 1:
            return
        for parameter in self._parameters_of("voice"):
            parameter.requires_grad_(self._released)

    def _release_inference_path(self, opt_g: Any) -> None:
        """Stage 2 starts: forget the Adam moments gathered while the inference path had LR 0."""
        optimizer = getattr(opt_g, "optimizer", opt_g)
        for group in (optimizer.param_groups[0], optimizer.param_groups[2]):
            for parameter in group["params"]:
                optimizer.state.pop(parameter, None)
        self._released = True
        self._freeze_for_stage()
        _LOGGER.info(
            "Step %d: stage 2, the voice learns now (text encoder and duration predictor at %g x LR)",
            self.step, self.train_config.text_learning_rate_ratio,
        )  # fmt: skip

    # -- checkpoints --------------------------------------------------------------------------------

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["voicesmith"] = {
            "step": self.step,
            "released": self._released,
            "plan": self.plan.to_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "numpy": _numpy_state_to_plain(np.random.get_state()),
                "python": random.getstate(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            },
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("voicesmith") or {}
        self._released = bool(state.get("released", self._released))
        if state.get("plan"):
            restored = StagePlan.from_dict(state["plan"])
            self.plan.total_steps, self.plan.frozen_steps = restored.total_steps, restored.frozen_steps
            self.plan.auto_frozen, self.plan.timed = restored.auto_frozen, restored.timed
        rng = state.get("rng")
        if rng:
            torch.set_rng_state(rng["torch"])
            np.random.set_state(_numpy_state_from_plain(rng["numpy"]))
            random.setstate(rng["python"])
            if rng.get("cuda") is not None and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(rng["cuda"])

"""Stage 0 of a fine-tune from an ONNX voice: give the posterior encoder a start on the base's own speech.

An exported voice lacks the posterior encoder (``enc_q``), the part of VITS that turns a recording's
spectrogram into the latents the decoder renders. Trained from random weights inside the GAN
(stage 1), it needs hundreds of slow steps before its latents mean anything, and the decoder that
stage 2 releases is then fitted to poor latents: on a 2-core CPU a 30-minute run spent 53 steps in
stage 1 and came out at 0.51 WER (the base: 0.11).

The base voice can speak, and for its own speech the exact latents are known: ``infer`` samples
``z_p`` from the prior, the flow maps it to ``z``, the decoder renders ``z``. So the posterior encoder
learns by plain regression, the Gaussian negative log-likelihood of that ``z`` under its output
``(m_q, logs_q)`` given the spectrogram of the rendered audio: no discriminator, no decoder backward.
The base speaks the dataset's own transcripts (their language and phonemes). Measured on joe, 2 CPU
cores: 150 utterances rendered in ~60 s, 400 steps in ~230 s; the frozen decoder through the fitted
posterior then reconstructs held-out base speech at 0.37 mel L1 (random encoder: 1.75) and flite slt's
recordings at 0.98 (random: 1.59), before any GAN step.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from piper.train.vits.mel_processing import spectrogram_torch

from voicesmith.training.config import ModelConfig

_LOGGER = logging.getLogger(__name__)

PREFIX = "enc_q."
"""The parameters this stage trains."""
VALIDATION_UTTERANCES = 8
MAX_FRAMES = 50_000
"""Rendered frames kept at most (~10 minutes of joe's speech, ~140 MB of spectrograms and latents): 150
utterances of up to a minute each would otherwise hold 1.6 GB."""


@dataclass
class PosteriorStart:
    """What stage 0 did (kept in ``run.json``)."""

    utterances: int
    steps: int
    seconds: float
    validation_nll: float
    validation_l1: float
    """Mean absolute error of ``m_q`` against the exact latents on held-back base utterances."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Latents:
    spectrogram: torch.Tensor  # [spec_channels, frames]
    z: torch.Tensor  # [inter_channels, frames]


def _render(
    generator: torch.nn.Module,
    model: ModelConfig,
    phoneme_ids: Sequence[Sequence[int]],
    *,
    inference: dict[str, float],
    device: torch.device,
    deadline: float,
) -> list[_Latents]:
    """The base speaks each text; its audio's spectrogram and the latents it was rendered from."""
    items: list[_Latents] = []
    frames_kept = 0
    # no_grad, not inference_mode: piper caches its STFT window globally, and training uses it later
    with torch.no_grad():
        for ids in phoneme_ids:
            if time.monotonic() > deadline and len(items) > 2 * VALIDATION_UTTERANCES:
                break
            if frames_kept >= MAX_FRAMES:
                break
            x = torch.tensor([list(ids)], dtype=torch.long, device=device)
            sid = torch.zeros(1, dtype=torch.long, device=device) if model.num_speakers > 1 else None
            audio, _attn, _mask, (z, *_rest) = generator.infer(
                x,
                torch.tensor([x.size(1)], device=device),
                sid=sid,
                noise_scale=inference.get("noise_scale", 0.667),
                length_scale=inference.get("length_scale", 1.0),
                noise_scale_w=inference.get("noise_w", 0.8),
            )
            waveform = audio[0, 0].float().clamp(-1.0, 1.0)
            spectrogram = spectrogram_torch(
                waveform.unsqueeze(0),
                model.filter_length,
                model.sample_rate,
                model.hop_length,
                model.win_length,
                center=False,
            )[0]
            frames = min(spectrogram.size(1), z.size(2))
            items.append(_Latents(spectrogram[:, :frames].clone(), z[0, :, :frames].float().clone()))
            frames_kept += frames
    return items


def _batch(
    items: Sequence[_Latents], size: int, frames: int, rng: torch.Generator, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``size`` random windows of at most ``frames`` frames, zero-padded, with their lengths."""
    picks = torch.randint(len(items), (size,), generator=rng).tolist()
    channels, latent = items[0].spectrogram.size(0), items[0].z.size(0)
    specs = torch.zeros(size, channels, frames)
    zs = torch.zeros(size, latent, frames)
    lengths = torch.zeros(size, dtype=torch.long)
    for row, pick in enumerate(picks):
        item = items[pick]
        total = item.spectrogram.size(1)
        offset = int(torch.randint(max(total - frames, 0) + 1, (1,), generator=rng))
        length = min(frames, total - offset)
        specs[row, :, :length] = item.spectrogram[:, offset : offset + length]
        zs[row, :, :length] = item.z[:, offset : offset + length]
        lengths[row] = length
    return specs.to(device), zs.to(device), lengths.to(device)


def _losses(
    encoder: torch.nn.Module, specs: torch.Tensor, zs: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian NLL of the exact latents under the posterior (per frame and channel), and L1 of its mean."""
    _z, m_q, logs_q, mask = encoder(specs, lengths)
    count = mask.sum() * m_q.size(1)
    nll = torch.sum((logs_q + 0.5 * (zs - m_q) ** 2 * torch.exp(-2.0 * logs_q)) * mask) / count
    l1 = torch.sum(torch.abs(zs - m_q) * mask) / count
    return nll, l1


def fit_posterior(
    generator: torch.nn.Module,
    model: ModelConfig,
    phoneme_ids: Sequence[Sequence[int]],
    *,
    steps: int,
    seconds: float | None = None,
    utterances: int = 150,
    batch_size: int = 8,
    segment_frames: int = 128,
    learning_rate: float = 1e-3,
    seed: int = 1234,
    inference: dict[str, float] | None = None,
) -> PosteriorStart:
    """Train ``generator.enc_q`` in place on the generator's own speech of ``phoneme_ids``.

    ``steps`` Adam steps, or fewer if ``seconds`` (for rendering and fitting together) run out first;
    the rendering takes at most half of them. The other parts of the generator do not change. A
    speaker-conditioned encoder learns without the condition, whose layer is then zeroed, so every
    speaker starts from the same encoder.
    """
    started = time.monotonic()
    deadline = started + seconds if seconds else math.inf
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    torch.manual_seed(seed)
    # enough utterances for the steps' windows (a short test run renders a few), at most ``utterances``
    wanted = min(utterances, VALIDATION_UTTERANCES + steps * batch_size)
    texts = [ids for ids in phoneme_ids if len(ids) > 1][:wanted]
    items = _render(
        generator,
        model,
        texts,
        inference=inference or {},
        device=device,
        deadline=started + (deadline - started) / 2,
    )
    if not items:
        raise ValueError("stage 0 needs at least one transcript")
    held_back = min(VALIDATION_UTTERANCES, len(items) // 5)  # a small dataset: scored on what it learnt
    train, held = items[held_back:], items[:held_back] or items
    encoder = generator.enc_q
    encoder.train()
    parameters = list(encoder.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=learning_rate, betas=(0.8, 0.99), eps=1e-9)
    rng = torch.Generator().manual_seed(seed)
    done = 0
    with torch.enable_grad():
        while done < steps:
            done += 1
            specs, zs, lengths = _batch(train, batch_size, segment_frames, rng, device)
            nll, _l1 = _losses(encoder, specs, zs, lengths)
            optimizer.zero_grad(set_to_none=True)
            nll.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 100.0)
            optimizer.step()
            if time.monotonic() > deadline:
                break
    encoder.eval()
    with torch.no_grad():
        scores = [
            _losses(encoder, i.spectrogram[None].to(device), i.z[None].to(device), _length(i, device))
            for i in held
        ]
    cond = getattr(encoder.enc, "cond_layer", None)
    if cond is not None:
        with torch.no_grad():
            cond.weight_g.zero_()  # weight_norm: g = 0 is a zero weight that still learns
            cond.bias.zero_()
    generator.train(was_training)
    result = PosteriorStart(
        utterances=len(items),
        steps=done,
        seconds=round(time.monotonic() - started, 1),
        validation_nll=round(sum(float(s[0]) for s in scores) / len(scores), 4),
        validation_l1=round(sum(float(s[1]) for s in scores) / len(scores), 4),
    )
    _LOGGER.info(
        "Stage 0: posterior encoder fitted on %d base utterances, %d steps, %.0f s (latent L1 %.3f)",
        result.utterances, result.steps, result.seconds, result.validation_l1,
    )  # fmt: skip
    return result


def _length(item: _Latents, device: torch.device) -> torch.Tensor:
    return torch.tensor([item.spectrogram.size(1)], device=device)

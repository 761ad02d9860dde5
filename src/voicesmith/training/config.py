"""Hyper-parameters of a VITS voice (the shape of the network) and of a training run.

``ModelConfig`` describes piper's ``SynthesizerTrn``; it is what warm-starting infers from an ONNX voice,
what a checkpoint stores, and what ``build_generator`` turns into an ``nn.Module``. ``TrainConfig``
holds the optimisation settings of one run. Both are plain dataclasses that round-trip through dicts
(JSON in ``run.json``, hyper-parameters in Lightning checkpoints).
"""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from piper.train.vits.models import MultiPeriodDiscriminator, SynthesizerTrn
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import weight_norm


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a piper VITS generator plus the audio front end it was trained with."""

    num_symbols: int = 256
    num_speakers: int = 1
    sample_rate: int = 22050
    filter_length: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    mel_channels: int = 80
    mel_fmin: float = 0.0
    mel_fmax: float | None = None
    segment_size: int = 8192
    """Audio samples per training slice fed to the decoder and the discriminator."""
    inter_channels: int = 192
    hidden_channels: int = 192
    filter_channels: int = 768
    n_heads: int = 2
    n_layers: int = 6
    kernel_size: int = 3
    p_dropout: float = 0.1
    resblock: str = "2"
    resblock_kernel_sizes: tuple[int, ...] = (3, 5, 7)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 2), (2, 6), (3, 12))
    upsample_rates: tuple[int, ...] = (8, 8, 4)
    upsample_initial_channel: int = 256
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 8)
    gin_channels: int = 0
    """Speaker embedding width; 0 for single-speaker voices (piper uses 512 for multi-speaker)."""
    use_sdp: bool = True

    def __post_init__(self) -> None:
        hop = 1
        for rate in self.upsample_rates:
            hop *= rate
        if hop != self.hop_length:
            raise ValueError(
                f"upsample rates {self.upsample_rates} multiply to {hop}, not hop {self.hop_length}"
            )
        if self.num_speakers > 1 and self.gin_channels <= 0:
            raise ValueError("a multi-speaker model needs gin_channels > 0 (piper uses 512)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        for key, value in values.items():  # piper's checkpoints may store tuples as strings
            if isinstance(value, str) and value[:1] in "([":
                values[key] = ast.literal_eval(value)
        for key in ("resblock_kernel_sizes", "upsample_rates", "upsample_kernel_sizes"):
            if key in values:
                values[key] = tuple(values[key])
        if "resblock_dilation_sizes" in values:
            values["resblock_dilation_sizes"] = tuple(tuple(d) for d in values["resblock_dilation_sizes"])
        return cls(**values)

    def with_speakers(self, num_speakers: int, gin_channels: int = 512) -> ModelConfig:
        """The same network for ``num_speakers`` speakers (adds a speaker embedding when > 1)."""
        gin = self.gin_channels or (gin_channels if num_speakers > 1 else 0)
        return dataclasses.replace(self, num_speakers=num_speakers, gin_channels=gin)


#: A network small enough to build, export and train in seconds; for tests only (its audio is noise).
TINY_MODEL = ModelConfig(
    inter_channels=16,
    hidden_channels=16,
    filter_channels=32,
    n_heads=2,
    n_layers=1,
    resblock_kernel_sizes=(3,),
    resblock_dilation_sizes=((1, 2),),
    upsample_initial_channel=32,
    segment_size=4096,
)


def build_generator(config: ModelConfig) -> SynthesizerTrn:
    """piper's VITS generator (text encoder, posterior encoder, flow, duration predictor, decoder)."""
    return SynthesizerTrn(
        n_vocab=config.num_symbols,
        spec_channels=config.filter_length // 2 + 1,
        segment_size=config.segment_size // config.hop_length,
        inter_channels=config.inter_channels,
        hidden_channels=config.hidden_channels,
        filter_channels=config.filter_channels,
        n_heads=config.n_heads,
        n_layers=config.n_layers,
        kernel_size=config.kernel_size,
        p_dropout=config.p_dropout,
        resblock=config.resblock,
        resblock_kernel_sizes=config.resblock_kernel_sizes,
        resblock_dilation_sizes=config.resblock_dilation_sizes,
        upsample_rates=config.upsample_rates,
        upsample_initial_channel=config.upsample_initial_channel,
        upsample_kernel_sizes=config.upsample_kernel_sizes,
        n_speakers=config.num_speakers,
        gin_channels=config.gin_channels,
        use_sdp=config.use_sdp,
    )


class _SmallPeriodDiscriminator(nn.Module):
    """A period discriminator with a few narrow layers (tests and smoke runs; it cannot judge real audio)."""

    def __init__(self, period: int, channels: int = 8) -> None:
        super().__init__()
        self.period = period
        self.convs = nn.ModuleList(
            [
                weight_norm(nn.Conv2d(1, channels, (5, 1), (3, 1), padding=(2, 0))),
                weight_norm(nn.Conv2d(channels, channels, (5, 1), (3, 1), padding=(2, 0))),
            ]
        )
        self.conv_post = weight_norm(nn.Conv2d(channels, 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        batch, channels, length = x.shape
        if length % self.period:
            pad = self.period - length % self.period
            x = F.pad(x, (0, pad), "reflect")
            length += pad
        x = x.view(batch, channels, length // self.period, self.period)
        fmap = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return torch.flatten(x, 1, -1), fmap


def build_discriminator(kind: Literal["mpd", "small"] = "mpd") -> nn.Module:
    """piper's multi-period discriminator (training only; never exported); ``small`` for tests."""
    discriminator = MultiPeriodDiscriminator(use_spectral_norm=False) if kind == "mpd" else None
    if discriminator is None:
        discriminator = nn.Module()
        discriminator.discriminators = nn.ModuleList([_SmallPeriodDiscriminator(p) for p in (2, 3)])
        discriminator.forward = MultiPeriodDiscriminator.forward.__get__(discriminator)  # same outputs
    return discriminator


Precision = Literal["32", "bf16-mixed", "16-mixed"]
CPU_BATCH_SIZE = 4
GPU_BATCH_SIZE = 8
STAGE1_FRACTION = 0.25
STAGE1_FRACTION_AFTER_STAGE0 = 0.10


@dataclass
class TrainConfig:
    """Optimisation settings of one run; the defaults are the fine-tuning recipe.

    A fine-tune from an ``.onnx`` voice runs in two stages: first only the parts missing from the ONNX
    (posterior encoder, unused duration flows, discriminator) learn, with the inference path frozen;
    then the voice (flow, decoder) learns at ``learning_rate`` while the text encoder and duration
    predictor stay frozen (``text_learning_rate_ratio`` 0). Keep the LR low (1e-5..1e-4: piper's 2e-4
    on the whole generator wrecks a pretrained voice within a few steps). With ``max_minutes`` the
    stage lengths and LR schedules are planned from the measured step time (:mod:`.plan`).
    """

    max_steps: int = 1000
    max_minutes: float | None = None
    """Wall-clock budget: training stops at ``max_steps`` or after this many minutes, whichever comes
    first, and writes ``last.ckpt`` (a resumed run keeps counting from the time already spent). The
    stage and LR plan then follows the steps that fit in the time (measured as the run goes)."""
    batch_size: int | None = None
    """Utterances per batch per process; None: 4 on a CPU (measured 8.6 s a step on 2 cores for joe's
    size, fp32: a 30-minute budget holds ~210 steps), 8 on a GPU."""
    learning_rate: float = 8e-5
    """Stage-2 LR of the voice (flow, decoder): the LR of the last measured GPU adaptation stage,
    high enough to move a voice in a few hundred CPU steps now that the text encoder stays frozen."""
    learning_rate_d: float = 1e-4
    stage1_learning_rate: float = 2e-4
    """LR of the posterior encoder and discriminator while the inference path is frozen."""
    frozen_steps: int | None = None
    """Stage 1 length in steps; None: ``stage1_fraction`` of the (planned) run when the base lacks parts
    (an ``.onnx`` voice), else 0 (a ``.ckpt`` or from scratch trains everything from the first step)."""
    stage1_fraction: float | None = None
    """Share of the run spent in stage 1 when ``frozen_steps`` is None; None: 10 % after a stage 0
    (the posterior encoder has its start; stage 1 warms up the discriminator and fits the encoder to the
    target's recordings), else 25 %: a posterior encoder from random weights must map the target's
    spectrograms to latents the frozen decoder turns into that audio before the decoder may move, or
    stage 2 trains the decoder on noise (:meth:`stage1_share`)."""
    posterior_start_steps: int = 400
    """Stage 0 (:mod:`.posterior_start`) from an ``.onnx`` base: steps of regression that teach the
    posterior encoder the base's own latents before the GAN starts (at most ``max_steps``; 0: no
    stage 0)."""
    posterior_start_share: float = 0.15
    """With ``max_minutes``: stage 0 ends after at most this share of the budget (its time counts)."""
    text_learning_rate_ratio: float = 0.0
    """LR of the text encoder and duration predictor relative to ``learning_rate`` in stage 2 (0: frozen,
    and their gradients are not computed)."""
    warmup_steps: int = 50
    """Linear LR warm-up at the start of each stage (at most a fifth of the stage)."""
    decay: Literal["exponential", "cosine", "constant"] = "cosine"
    lr_decay_gamma: float = 0.999875
    min_lr_ratio: float = 0.1
    betas: tuple[float, float] = (0.8, 0.99)
    betas_d: tuple[float, float] = (0.5, 0.9)
    eps: float = 1e-9
    c_mel: float = 45.0
    c_kl: float = 1.0
    grad_clip: float | None = 100.0
    precision: Precision = "32"
    devices: int = 1
    num_workers: int = 0
    checkpoint_every: int = 500
    validate_every: int = 500
    seed: int = 1234
    style_by: Literal["speaker", "emotion"] = "speaker"
    """What one embedding row stands for: a speaker, or a (speaker, emotion) pair for emotional datasets
    (then export with style vectors to mix emotions at run time)."""
    discriminator: Literal["mpd", "small"] = "mpd"
    """``small`` is for tests and smoke runs only."""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def stage1_share(self, *, posterior_started: bool) -> float:
        """``stage1_fraction``, or its default for a run with or without a stage 0 (``run_training``
        resolves it into the config it hands on, so later readers get the resolved value)."""
        if self.stage1_fraction is not None:
            return self.stage1_fraction
        return STAGE1_FRACTION_AFTER_STAGE0 if posterior_started else STAGE1_FRACTION

    def resolved(self, accelerator: str) -> TrainConfig:
        """This config with the defaults that depend on the hardware filled in (``batch_size``)."""
        if self.batch_size is not None:
            return self
        batch = CPU_BATCH_SIZE if accelerator == "cpu" else GPU_BATCH_SIZE
        return dataclasses.replace(self, batch_size=batch)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        for key in ("betas", "betas_d"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

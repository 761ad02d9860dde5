"""A loaded Piper voice: phonemes in, exact durations and streamed audio out.

The voice's graph is split once (see :mod:`voicesmith.engine.graph`) into encoder, flow and decoder
sessions, cached next to the other derived files of the voice with their optimised graphs (ORT format),
so a later load skips onnxruntime's graph optimisation. One sentence is synthesised as:

1. ``encode``: phoneme ids -> frames per id, prior mean/log-std per id (one encoder run).
2. numpy: expand the prior to frames and draw its noise from a generator seeded by the request, so the
   same request always gives the same audio, in any process.
3. ``decode``: flow + HiFi-GAN over windows of frames (layout: :mod:`voicesmith.engine.windows`).
   Windows carry enough context on each side that their joins are exact to float rounding (measured
   on joe: HiFi-GAN windows fed by one flow block are bit-identical to a whole decode; a flow block of
   its own per window is within 3e-6), so the first window can be short (early first audio) and long
   sentences need bounded memory.

Sessions are created with explicit thread settings and are safe to run from several threads at once;
there is no lock around them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import onnxruntime
from piper.config import PiperConfig
from piper.const import BOS, EOS, PAD

from voicesmith.engine.graph import UnsupportedGraphError, prepare_split_models
from voicesmith.engine.model import Prior, VoiceParams
from voicesmith.engine.windows import (
    DECODER_CONTEXT_FRAMES,
    FLOW_CONTEXT_FRAMES,
    decode_plan,
)
from voicesmith.errors import InvalidVoiceError, ValidationError
from voicesmith.text import espeak

_LOGGER = logging.getLogger(__name__)

_CALIBRATION_TEXT = "The quick brown fox jumps over the lazy dog. How are you doing today? Let us begin."
_TARGET_PEAK = 0.8


def _session_options(threads: int, arena: bool, mem_pattern: bool = True) -> onnxruntime.SessionOptions:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # onnxruntime's arena saves ~12 % of the time (measured on HiFi-GAN) at ~80 MB more peak memory
    # (394 MB against 310 MB on a 15 s sentence; piper: 600 MB). Windows of at most
    # ``stream_window_frames`` keep the arena's blocks bounded whatever the input.
    options.enable_cpu_mem_arena = arena
    # Memory patterns (one planned block per input shape, kept in the arena) only where shapes repeat:
    # HiFi-GAN's windows have a new length in nearly every sentence, and with patterns its arena grew
    # by ~75 MB over the benchmark's passes (peak RSS 385 MB; without: see benchmarks/synthesis.py).
    options.enable_mem_pattern = mem_pattern
    # Each sentence runs three sessions in turn. Worker threads spin-wait between the operators of a
    # run (waking a sleeping thread per operator costs ~8 % of the RTF on 2 cores), but stop spinning
    # when the run ends: left spinning, they steal the cores the next session needs (1.5x slower).
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    options.add_session_config_entry("session.force_spinning_stop", "1")
    return options


def _runtime_tag() -> str:
    """What an optimised graph depends on besides the model: onnxruntime's version and the CPU.

    Level-ALL optimisations pick kernels and layouts (NCHWc blocks) for the CPU they run on, so a
    cache folder shared by two kinds of machine keeps one optimised graph per kind.
    """
    flags = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags += line
                break
    except OSError:
        pass
    cpu = hashlib.sha256(flags.encode()).hexdigest()[:8]
    return f"ort{onnxruntime.__version__}-{cpu}"


def _open_session(
    path: Path, threads: int, arena: bool, mem_pattern: bool = True
) -> onnxruntime.InferenceSession:
    """A session on a split model, optimised once: the optimised graph is cached in ORT format next
    to the model and later loads skip graph optimisation (measured: about a third of the load time).
    """
    options = _session_options(threads, arena, mem_pattern)
    providers = ["CPUExecutionProvider"]
    optimized = path.with_name(f"{path.stem}.{_runtime_tag()}.ort")
    if optimized.is_file():
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return onnxruntime.InferenceSession(str(optimized), options, providers=providers)
        except Exception as error:  # noqa: BLE001 - a damaged cache file: optimise again
            _LOGGER.warning("optimised graph %s unreadable (%s): optimising again", optimized, error)
            options = _session_options(threads, arena, mem_pattern)
    tmp = optimized.with_name(f"{optimized.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    options.optimized_model_filepath = str(tmp)
    options.add_session_config_entry("session.save_model_format", "ORT")
    options.log_severity_level = 3  # its warning says what _runtime_tag handles: hardware-specific layouts
    session = onnxruntime.InferenceSession(str(path), options, providers=providers)
    try:
        os.replace(tmp, optimized)
    except OSError as error:  # a read-only cache still loads, just more slowly
        _LOGGER.debug("cannot cache the optimised graph %s: %s", optimized, error)
    return session


def scaled_frames(durations: np.ndarray, factor: float, duration_scales: np.ndarray | None) -> np.ndarray:
    """Frames per phoneme id from the duration predictor's fractional ``durations`` (at the voice's own
    length scale), lengthened by ``factor`` (the request's rate) and ``duration_scales`` (per id).

    At the voice's own rate the frames are piper's (``ceil``), bit for bit. Otherwise the rounded frames
    are scaled and rounded again on their running sum, so the whole keeps the exact ratio (within one
    frame) however short the ids: rounding each id up after scaling made 50 % rate 1.6x as long, not 2x,
    since every id gained up to a frame whatever the rate. Scaling the fractional durations instead would
    miss as far the other way (1.55x for 50 % on a 147-id sentence: at rate 1 the ceil adds ~0.5 frame per
    id, which then no rate scales). An id may get 0 frames when sped up.
    """
    frames = np.ceil(np.maximum(durations, 0.0)).astype(np.int64)
    scales = np.full(len(frames), factor, dtype=np.float64)
    if duration_scales is not None:
        scales *= np.asarray(duration_scales, dtype=np.float64)
    if not np.all(scales == 1.0):
        ends = np.floor(np.cumsum(frames * scales) + 0.5).astype(np.int64)
        frames = np.diff(ends, prepend=0)
    if frames.sum() < 1:
        frames[-1] = 1
    return frames


class PiperModel:
    """One Piper voice loaded for synthesis: a :class:`~voicesmith.engine.model.VoiceModel`."""

    def __init__(
        self, model_path: Path, config_path: Path, cache_dir: Path, threads: int = 1, low_memory: bool = False
    ) -> None:
        self.model_path = Path(model_path)
        self.config_path = Path(config_path)
        try:
            config_dict = json.loads(self.config_path.read_text(encoding="utf-8"))
            self.config = PiperConfig.from_dict(config_dict)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise InvalidVoiceError(
                f"{self.config_path}: not a readable Piper voice config ({error})"
            ) from error
        try:
            folder = prepare_split_models(self.model_path, cache_dir)
        except UnsupportedGraphError as error:
            raise InvalidVoiceError(f"{self.model_path}: not a Piper VITS voice graph ({error})") from error
        except Exception as error:  # noqa: BLE001 - onnx raises protobuf DecodeError, ValueError, OSError...
            raise InvalidVoiceError(f"{self.model_path}: cannot read the ONNX model ({error})") from error
        self._encoder = _open_session(folder / "encoder.onnx", threads, arena=True)
        self._flow = _open_session(folder / "flow.onnx", threads, arena=True)
        self._hifigan = _open_session(
            folder / "hifigan.onnx", threads, arena=not low_memory, mem_pattern=False
        )
        self._hifigan_inputs = {i.name for i in self._hifigan.get_inputs()}
        styles = Path(f"{self.model_path}.styles.npy")
        self.style_table: np.ndarray | None = np.load(styles).astype(np.float32) if styles.is_file() else None
        """Speaker/style embeddings of a voice exported with a style-vector input (rows: speaker ids)."""
        self._encoder_inputs = {i.name for i in self._encoder.get_inputs()}
        self._phonemizer = espeak.voice_phonemizer(self.config)
        self._check_phoneme_map()
        self.output_gain = self._calibrate(folder)

    def _calibrate(self, folder: Path) -> float:
        """A fixed gain that brings this voice's peaks near -2 dBFS.

        Piper scales every sentence to full scale after synthesising it; a stream cannot wait for the
        end of the sentence, so each voice gets one gain, measured once on a calibration text and
        cached with the split models.
        """
        path = folder / "calibration.json"
        try:
            return float(json.loads(path.read_text())["gain"])
        except (OSError, ValueError, KeyError):
            pass
        peaks = []
        for phonemes in self.phonemize(_CALIBRATION_TEXT):
            ids, _ = self.phoneme_ids(phonemes)
            prior = self.encode(ids, VoiceParams(), seed=0, apply_gain=False)
            peaks.append(float(np.abs(self.decode(prior, 0, prior.num_frames)).max()))
        peak = max(peaks) if peaks else 0.0
        gain = float(np.clip(_TARGET_PEAK / peak, 0.25, 8.0)) if peak > 1e-4 else 1.0
        path.write_text(json.dumps({"gain": gain, "calibration_peak": peak}))
        return gain

    def _check_phoneme_map(self) -> None:
        missing = [p for p in (BOS, EOS, PAD) if p not in self.config.phoneme_id_map]
        if missing:
            raise InvalidVoiceError(f"{self.config_path}: phoneme_id_map lacks the control symbols {missing}")
        too_big = [
            p
            for p, ids in self.config.phoneme_id_map.items()
            if any(i >= self.config.num_symbols for i in ids)
        ]
        if too_big:
            raise InvalidVoiceError(
                f"{self.config_path}: phoneme ids of {too_big[:5]} exceed "
                f"num_symbols={self.config.num_symbols}"
            )

    def _style_vector(self, speaker: int, blend: tuple[int, int, float] | None) -> np.ndarray:
        table = self.style_table
        if table is None:
            raise InvalidVoiceError(
                f"{self.model_path}: takes a style vector but has no {self.model_path}.styles.npy"
            )
        if blend is None:
            return table[speaker : speaker + 1]
        source, target, amount = blend
        return (table[source] + np.float32(amount) * (table[target] - table[source]))[None].astype(np.float32)

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def hop_length(self) -> int:
        return self.config.hop_length

    @property
    def length_scale(self) -> float:
        return self.config.length_scale

    @property
    def phoneme_id_map(self) -> Mapping[str, Sequence[int]]:
        return self.config.phoneme_id_map

    @property
    def espeak_voice(self) -> str:
        return self.config.espeak_voice

    @property
    def blends_styles(self) -> bool:
        return self.style_table is not None

    def phonemize(self, text: str, language: str | None = None) -> list[list[str]]:
        """Text to phonemes, one list per sentence (espeak-ng through piper).

        ``language`` (BCP-47, from SSML ``xml:lang``) phonemises with that language's espeak-ng voice,
        for words of another language inside the text; the voice then says them with its own sounds.
        """
        if language:
            phonemes = espeak.phonemize_in_language(self.config, text, language)
            if phonemes is not None:
                return phonemes
        return self._phonemizer(text)

    def phoneme_ids(self, phonemes: Sequence[str]) -> tuple[list[int], list[tuple[int, int]]]:
        """Phonemes to ids with piper's framing (BOS PAD p1 PAD p2 PAD ... EOS).

        Also returns, for each phoneme, the ``[start, end)`` range of ids it owns (its ids and the PAD
        after it; empty for a phoneme the voice does not know), so durations map back to phonemes.
        The ids equal ``piper.phoneme_ids.phonemes_to_ids``.
        """
        id_map = self.config.phoneme_id_map
        pad = list(id_map[PAD])
        ids: list[int] = [*id_map[BOS], *pad]
        spans: list[tuple[int, int]] = []
        unknown: set[str] = set()
        for phoneme in phonemes:
            start = len(ids)
            mapped = id_map.get(phoneme)
            if mapped is None:
                unknown.add(phoneme)
            else:
                ids.extend(mapped)
                ids.extend(pad)
            spans.append((start, len(ids)))
        ids.extend(id_map[EOS])
        if unknown:
            _LOGGER.debug("phonemes unknown to %s skipped: %s", self.model_path.name, sorted(unknown))
        return ids, spans

    def encode(
        self,
        phoneme_ids: Sequence[int],
        params: VoiceParams,
        seed: int,
        apply_gain: bool = True,
        duration_scales: np.ndarray | None = None,
    ) -> Prior:
        """Run the text encoder and duration predictor; draw the prior sample with ``seed``.

        ``duration_scales`` (one factor per phoneme id, on top of ``params.length_scale``) lengthens or
        shortens parts of the sentence: SSML rate changes inside a sentence, ``amazon:max-duration``.
        """
        config = self.config
        length_scale = config.length_scale if params.length_scale is None else params.length_scale
        noise_scale = config.noise_scale if params.noise_scale is None else params.noise_scale
        noise_w = config.noise_w_scale if params.noise_w is None else params.noise_w
        count = len(phoneme_ids)
        rng = np.random.default_rng(seed)
        inputs: dict[str, np.ndarray] = {
            "input": np.asarray([phoneme_ids], dtype=np.int64),
            "input_lengths": np.asarray([count], dtype=np.int64),
            # The voice's own length scale: rate changes scale the rounded frames (scaled_frames).
            "scales": np.asarray([noise_scale, config.length_scale, noise_w], dtype=np.float32),
            "dp_noise": rng.standard_normal((1, 2, count), dtype=np.float32),
        }
        if "sid" in self._encoder_inputs or "g" in self._encoder_inputs:
            speaker = config.default_speaker_id if params.speaker_id is None else params.speaker_id
            if not 0 <= speaker < max(config.num_speakers, 1):
                raise ValidationError(
                    f"speaker {speaker} is out of range: this voice has {config.num_speakers}"
                )
            if "g" in self._encoder_inputs:
                inputs["g"] = self._style_vector(speaker, params.blend)
            else:
                inputs["sid"] = np.asarray([speaker], dtype=np.int64)
        outputs = self._encoder.run(None, inputs)
        frames = scaled_frames(
            outputs[0].reshape(-1),
            length_scale / config.length_scale if config.length_scale else 1.0,
            duration_scales,
        )
        m_p, logs_p = outputs[1][0], outputs[2][0]
        mean = np.repeat(m_p, frames, axis=1)
        std = np.exp(np.repeat(logs_p, frames, axis=1))
        noise = rng.standard_normal(mean.shape, dtype=np.float32)
        z_p = (mean + noise * std * np.float32(noise_scale))[None].astype(np.float32)
        g = outputs[3] if len(outputs) > 3 else None
        gain = self.output_gain if apply_gain else 1.0
        return Prior(phoneme_ids=list(phoneme_ids), frames_per_id=frames, z_p=z_p, g=g, gain=gain)

    def _flow_block(self, prior: Prior, start: int, end: int) -> tuple[np.ndarray, int, int]:
        """The flow's output ``z`` for frames around ``[start, end)``: ``(z, z_start, exact_end)``.

        ``z`` starts at frame ``z_start``; frames up to ``exact_end`` (exclusive) are exact (the flow saw
        enough context after them), as are all frames from ``start`` on.
        """
        total = prior.num_frames
        f_start = max(0, start - FLOW_CONTEXT_FRAMES)
        f_end = min(total, end + FLOW_CONTEXT_FRAMES)
        return self._run_flow(prior, f_start, f_end), f_start, (total if f_end == total else end)

    def _run_flow(self, prior: Prior, start: int, end: int) -> np.ndarray:
        """The flow over frames ``[start, end)`` of the prior (no context added)."""
        inputs = {"z_p": prior.z_p[:, :, start:end], "y_mask": np.ones((1, 1, end - start), np.float32)}
        if prior.g is not None:
            inputs["g"] = prior.g
        return self._flow.run(None, inputs)[0]

    def _hifigan_window(self, prior: Prior, z: np.ndarray, z_start: int, start: int, end: int) -> np.ndarray:
        total = prior.num_frames
        d_start = max(0, start - DECODER_CONTEXT_FRAMES)
        d_end = min(total, end + DECODER_CONTEXT_FRAMES)
        inputs = {"z": z[:, :, d_start - z_start : d_end - z_start]}
        if "g" in self._hifigan_inputs and prior.g is not None:
            inputs["g"] = prior.g
        audio = self._hifigan.run(None, inputs)[0].reshape(-1)
        hop = self.hop_length
        offset = (start - d_start) * hop
        audio = audio[offset : offset + (end - start) * hop]
        if prior.gain != 1.0:
            audio = audio * np.float32(prior.gain)
        return audio.astype(np.float32, copy=False)

    def decode(self, prior: Prior, start: int, end: int) -> np.ndarray:
        """Audio for frames ``[start, end)`` of ``prior``, float32 mono, exact at window joins."""
        z, z_start, _ = self._flow_block(prior, start - DECODER_CONTEXT_FRAMES, end + DECODER_CONTEXT_FRAMES)
        return self._hifigan_window(prior, z, z_start, start, end)

    def decode_windows(self, prior: Prior, first_window: int | None, window: int) -> Iterator[np.ndarray]:
        """Decode the whole prior as a series of windows: an optional short first one, windows that grow
        from it (each at most ``WINDOW_GROWTH`` x the audio before it), then windows of at most ``window``;
        the flow runs once per block of them (see :func:`voicesmith.engine.windows.decode_plan`)."""
        z, z_start = None, 0
        for step in decode_plan(prior.num_frames, first_window, window):
            if step.flow is not None:
                z_start, z_end = step.flow
                z = self._run_flow(prior, z_start, z_end)
            yield self._hifigan_window(prior, z, z_start, step.start, step.end)

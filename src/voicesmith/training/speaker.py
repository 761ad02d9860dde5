"""Who is speaking: GE2E speaker embeddings (resemblyzer) and the measures built on them.

One module owns the speaker embedding, so ``evaluate`` (similarity of a voice to its target),
``dataset check`` (clips that do not sound like the rest) and the consent check (the consent
recording's speaker is the dataset's speaker) all compare the same numbers.

- :class:`SpeakerEncoder`: a 256-dim, L2-normalised embedding per clip (resemblyzer's GE2E encoder;
  its weights ship inside its wheel, nothing is downloaded). Audio is resampled to 16 kHz and its long
  silences cut (resemblyzer's own WebRTC-VAD preprocessing) before embedding.
- :func:`centroid`, :func:`similarities` (cosine of each clip to a centroid) and
  :func:`leave_one_out_similarities` (each clip against the centroid of all the *other* clips, so a
  dataset's own similarity is not inflated by counting each clip in its own centroid).
- :func:`find_outliers`: the robust rule ``dataset check`` uses.
- :func:`check_consent`: raises :class:`~voicesmith.errors.ConsentMismatchError`.

Measured with flite/espeak-ng/joe (``benchmarks/voice_quality.py --speakers``, 20 clips each; see
docs/training.md): a clip against the leave-one-out centroid of its own speaker's clips scores 0.85-0.98
(median 0.93-0.95); other speakers' clips against slt's centroid 0.50-0.64. Needs the ``[eval]`` extra
(resemblyzer imports torch: never import this module from the server or the engine).
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicesmith.errors import ConsentMismatchError, DatasetError, ValidationError

_LOGGER = logging.getLogger(__name__)

EMBEDDING_RATE = 16_000
"""resemblyzer's sampling rate."""
MIN_SPEECH_S = 0.5
"""Clips with less speech than this (after silences are cut) get no embedding."""

OUTLIER_MARGIN = 0.10
"""A clip is an outlier when its leave-one-out similarity lies this far below the dataset's median..."""
OUTLIER_MAD_FACTOR = 3.0
"""...or ``OUTLIER_MAD_FACTOR`` robust standard deviations (1.4826 x MAD) below it, whichever is larger."""
MIN_CLIPS_FOR_OUTLIERS = 5
_MAX_CACHED_FILES = 20_000  # 256 float64 each: at most ~40 MB
"""Fewer clips give no stable median: no clip is flagged."""


class SpeakerEncoder:
    """resemblyzer's GE2E voice encoder on the CPU, loaded on first use (about 5 s with torch)."""

    _shared: SpeakerEncoder | None = None
    _shared_lock = threading.Lock()

    def __init__(self) -> None:
        try:
            with warnings.catch_warnings():  # webrtcvad imports the deprecated pkg_resources
                warnings.simplefilter("ignore", UserWarning)
                from resemblyzer import VoiceEncoder, preprocess_wav
        except ImportError as error:
            raise ValidationError(
                "speaker similarity (evaluate, dataset check, consent) needs the evaluation extra "
                f"({error.name} is missing): pip install 'voicesmith[eval]'"
            ) from error
        self._encoder = VoiceEncoder("cpu", verbose=False)
        self._preprocess = preprocess_wav
        self._lock = threading.Lock()
        self._files: dict[tuple[str, int, int], np.ndarray | None] = {}
        """Embeddings of files by (path, mtime, size): an evaluation of several voices against one
        reference embeds its recordings once."""

    @classmethod
    def shared(cls) -> SpeakerEncoder:
        """One encoder per process (its weights are 17 MB and load in seconds)."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def embed(self, samples: np.ndarray, sample_rate: int) -> np.ndarray | None:
        """L2-normalised ``(256,)`` embedding of mono float ``samples``; None when there is too little
        speech to say who is speaking."""
        import soxr

        audio = np.asarray(samples, dtype=np.float32)
        if audio.ndim > 1:
            audio = audio.mean(axis=1)
        if audio.size == 0 or not np.isfinite(audio).all():
            return None
        if sample_rate != EMBEDDING_RATE:
            audio = soxr.resample(audio, sample_rate, EMBEDDING_RATE).astype(np.float32)
        audio = np.clip(audio, -1.0, 1.0)
        speech = self._preprocess(audio)  # volume normalisation, long silences cut (VAD)
        if len(speech) < MIN_SPEECH_S * EMBEDDING_RATE:
            return None
        with self._lock:
            embedding = self._encoder.embed_utterance(speech)
        return np.asarray(embedding, dtype=np.float64)

    def embed_file(self, path: str | Path) -> np.ndarray | None:
        """Embedding of an audio file (any format soundfile reads); raises DatasetError if unreadable."""
        import soundfile

        try:
            info = Path(path).stat()
            key = (str(Path(path).resolve()), info.st_mtime_ns, info.st_size)
            if key in self._files:
                return self._files[key]
            samples, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
        except Exception as error:  # noqa: BLE001 - libsndfile raises several types
            raise DatasetError(f"cannot read the audio: {error}", path=path) from error
        embedding = self.embed(samples, rate)
        if len(self._files) < _MAX_CACHED_FILES:
            self._files[key] = embedding
        return embedding


def _normalise(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def centroid(embeddings: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """The L2-normalised mean of unit embeddings (GE2E's speaker centroid)."""
    matrix = np.asarray(embeddings, dtype=np.float64)
    if matrix.ndim != 2 or len(matrix) == 0:
        raise ValueError("centroid needs at least one embedding")
    return _normalise(matrix.mean(axis=0))


def similarities(embeddings: Sequence[np.ndarray] | np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Cosine of each (unit) embedding to the (unit) ``reference``."""
    matrix = np.asarray(embeddings, dtype=np.float64).reshape(-1, len(reference))
    return matrix @ _normalise(np.asarray(reference, dtype=np.float64))


def leave_one_out_similarities(embeddings: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Cosine of each embedding to the centroid of all the others (needs two or more)."""
    matrix = np.asarray(embeddings, dtype=np.float64)
    if len(matrix) < 2:
        raise ValueError("leave-one-out needs at least two embeddings")
    total = matrix.sum(axis=0)
    others = total[None, :] - matrix
    others /= np.maximum(np.linalg.norm(others, axis=1, keepdims=True), 1e-12)
    return np.einsum("ij,ij->i", matrix, others)


@dataclass(frozen=True)
class OutlierRule:
    """Where ``dataset check`` draws the line: ``median - max(margin, mad_factor * 1.4826 * MAD)``."""

    median: float
    threshold: float


def outlier_rule(loo: np.ndarray) -> OutlierRule | None:
    """The rule for leave-one-out similarities ``loo``; None when there are too few to judge.

    Median-relative, so it adapts to how consistent a dataset is (a noisy phone recording scores lower
    against itself than a studio one); MAD-scaled, so a dataset with a wide natural spread flags fewer
    clips; with a floor ``OUTLIER_MARGIN`` so a very uniform dataset does not flag its ordinary clips.
    """
    if len(loo) < MIN_CLIPS_FOR_OUTLIERS:
        return None
    median = float(np.median(loo))
    mad = float(np.median(np.abs(loo - median))) * 1.4826
    return OutlierRule(median, median - max(OUTLIER_MARGIN, OUTLIER_MAD_FACTOR * mad))


def find_outliers(
    embeddings: Sequence[np.ndarray] | np.ndarray,
) -> tuple[list[int], np.ndarray, OutlierRule | None]:
    """Indices of clips that do not sound like the rest, their leave-one-out similarities, the rule.

    The leave-one-out centroid is taken over the clips that pass a first round, so a block of
    another speaker's clips does not drag the centroid towards itself and hide.
    """
    matrix = np.asarray(embeddings, dtype=np.float64)
    if len(matrix) < MIN_CLIPS_FOR_OUTLIERS:
        return [], np.ones(len(matrix)), None
    loo = leave_one_out_similarities(matrix)
    rule = outlier_rule(loo)
    assert rule is not None
    keep = loo >= rule.threshold
    if keep.sum() >= MIN_CLIPS_FOR_OUTLIERS and not keep.all():
        # second round: everyone against the centroid of the clips that passed (themselves left out)
        core = matrix[keep]
        total = core.sum(axis=0)
        others = np.where(keep[:, None], total[None, :] - matrix, total[None, :])
        others /= np.maximum(np.linalg.norm(others, axis=1, keepdims=True), 1e-12)
        loo = np.einsum("ij,ij->i", matrix, others)
        rule = outlier_rule(loo[keep])
        assert rule is not None
    flagged = [int(i) for i in np.flatnonzero(loo < rule.threshold)]
    return flagged, loo, rule


def embed_clips(
    paths: Iterable[str | Path], encoder: SpeakerEncoder | None = None
) -> tuple[list[Path], np.ndarray]:
    """Embeddings of the clips that have enough speech (and those clips' paths, in order)."""
    encoder = encoder or SpeakerEncoder.shared()
    kept, vectors = [], []
    for path in paths:
        vector = encoder.embed_file(path)
        if vector is not None:
            kept.append(Path(path))
            vectors.append(vector)
    return kept, np.asarray(vectors).reshape(len(vectors), -1)


def consent_similarity(consent: np.ndarray, embeddings: np.ndarray) -> float:
    """Cosine of a consent recording's embedding to the dataset's speaker: the centroid of the clips
    that :func:`find_outliers` keeps (a stray clip of someone else must not decide)."""
    flagged, _loo, _rule = find_outliers(embeddings)
    core = np.delete(embeddings, flagged, axis=0) if len(flagged) < len(embeddings) else embeddings
    return float(similarities(consent[None, :], centroid(core))[0])


def embed_consent(consent_recording: str | Path, encoder: SpeakerEncoder | None = None) -> np.ndarray:
    """The consent recording's embedding; DatasetError when it holds too little speech."""
    consent = (encoder or SpeakerEncoder.shared()).embed_file(consent_recording)
    if consent is None:
        raise DatasetError(
            f"the consent recording holds less than {MIN_SPEECH_S} s of speech: record the speaker "
            "reading the consent statement aloud",
            path=consent_recording,
        )
    return consent


def check_consent(
    consent_recording: str | Path,
    dataset_clips: Sequence[str | Path],
    threshold: float | None = None,
    *,
    encoder: SpeakerEncoder | None = None,
) -> float:
    """The consent recording's similarity to the dataset's speaker; raises if it is below ``threshold``
    (default: the ``consent_similarity_threshold`` setting, ``VOICESMITH_CONSENT_SIMILARITY_THRESHOLD``).

    Raises :class:`~voicesmith.errors.ConsentMismatchError` (similarity, threshold and what to do in the
    message) on a mismatch, :class:`~voicesmith.errors.DatasetError` when the consent recording or the
    clips hold too little speech to tell. See :func:`consent_similarity` for what "the dataset's
    speaker" is.
    """
    if threshold is None:
        from voicesmith.settings import Settings

        threshold = Settings().consent_similarity_threshold
    threshold = float(threshold)
    encoder = encoder or SpeakerEncoder.shared()
    consent = embed_consent(consent_recording, encoder)
    _paths, embeddings = embed_clips(dataset_clips, encoder)
    if len(embeddings) == 0:
        raise DatasetError("no clip of the dataset holds enough speech to compare the consent recording with")
    similarity = consent_similarity(consent, embeddings)
    _LOGGER.info("Consent recording %s: similarity %.3f to the dataset (threshold %.2f)",
                 consent_recording, similarity, threshold)  # fmt: skip
    if similarity < threshold:
        raise ConsentMismatchError(similarity, threshold)
    return similarity


def dataset_clips(folder: str | Path, format: str | None = None) -> list[Path]:
    """The audio files of a dataset folder: a prepared one (``manifest.jsonl``) or any raw layout
    (``format``, detected when None)."""
    root = Path(folder)
    if format is None and (root / "manifest.jsonl").is_file():
        from voicesmith.training.data import read_manifest

        return [root / record["audio"] for record in read_manifest(root)]
    from voicesmith.training.datasets import load_dataset

    return [utterance.audio_path for utterance in load_dataset(root, format, strict=False).utterances]


def check_dataset_consent(
    consent_recording: str | Path, folder: str | Path, threshold: float | None = None
) -> float:
    """:func:`check_consent` against every clip of the dataset in ``folder`` (see :func:`dataset_clips`)."""
    return check_consent(consent_recording, dataset_clips(folder), threshold)

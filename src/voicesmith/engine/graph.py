"""Split a Piper VITS graph in two so that synthesis can stream, be exact and be repeatable.

A Piper voice is one ONNX graph: text encoder -> stochastic duration predictor -> expand to frames ->
add noise -> flow -> HiFi-GAN decoder. Run as one piece it returns nothing until the whole sentence is
decoded, draws its noise from onnxruntime's unseeded generator, and hides the durations. We cut it at
two places:

* ``encoder.onnx``: phoneme ids (+ the duration predictor's noise as an input) -> per-id durations in
  fractional frames (``durations``, before the graph's Ceil), the prior's mean and log-std per id
  (``m_p``, ``logs_p``) and, for multi-speaker
  voices, the speaker embedding ``g``.
* ``decoder.onnx``: the prior sample ``z_p`` of any number of frames (+ ``y_mask``, ``g``) -> audio.
  Flow and decoder are convolutional with a bounded receptive field, so windows of ``z_p`` decoded
  with enough context on each side join without seams.

Expanding ``m_p``/``logs_p`` to frames and drawing the noise happen in numpy with a seeded generator.
The cut points are found by graph structure (the two RandomNormalLike nodes, the Ceil of the
durations, the first node of the flow), which every Piper export shares; a graph that does not fit
raises :class:`UnsupportedGraphError`, which loading reports as an InvalidVoiceError (the voice
is refused, not run whole).

``decoder.onnx`` is then cut once more at HiFi-GAN's input (``flow.onnx`` + ``hifigan.onnx``), so the
flow runs once per block of frames and HiFi-GAN once per streamed window. :func:`prepare_split_models`
does all of it once per voice file and caches the parts by the file's digest.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # onnx (~0.1 s to import) is needed only to split: a cached voice loads without it
    import onnx

_LOGGER = logging.getLogger(__name__)

SPLIT_VERSION = "4"
"""Bump when the split changes, so cached split models are rebuilt."""
ENCODER_OUTPUTS = ("durations", "m_p", "logs_p")
"""Outputs of the encoder part, in order (``g`` follows for multi-speaker voices)."""


class UnsupportedGraphError(ValueError):
    """The ONNX graph is not shaped like a Piper VITS export."""


@dataclass(frozen=True)
class CutPoints:
    """Tensor names where the graph is cut."""

    dp_noise: str
    """Output of the duration predictor's RandomNormalLike: becomes an encoder input."""
    durations: str
    """Scaled durations before Ceil, fractional frames per phoneme id, shape [1, 1, T]: rounding up
    happens in numpy, after per-phoneme rate changes (SSML prosody rate, max-duration)."""
    m_p: str
    """Prior mean per phoneme id, [1, C, T]."""
    logs_p: str
    """Prior log standard deviation per phoneme id, [1, C, T]."""
    z_p: str
    """Prior sample per frame, [1, C, F]: the decoder's input."""
    y_mask: str
    """Frame mask, [1, 1, F]: the decoder's second input."""
    g: str | None
    """Speaker conditioning [1, G, 1] of multi-speaker voices: the embedding of ``sid``, or of a voice
    exported with a style-vector input ``g`` [1, G] (emotion/speaker blends), that vector."""


def _producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    return {out: node for node in graph.node for out in node.output}


def _consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    result: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            result.setdefault(name, []).append(node)
    return result


def find_cut_points(model: onnx.ModelProto) -> CutPoints:
    """Locate the tensors where the graph is cut, by structure rather than by name."""
    graph = model.graph
    producers = _producers(graph)
    consumers = _consumers(graph)
    randoms = [n for n in graph.node if n.op_type == "RandomNormalLike"]
    ceils = [n for n in graph.node if n.op_type == "Ceil"]
    if len(randoms) != 2 or len(ceils) != 1:
        raise UnsupportedGraphError(
            f"expected 2 RandomNormalLike nodes and 1 Ceil, found {len(randoms)} and {len(ceils)}"
        )
    graph_order = {id(n): i for i, n in enumerate(graph.node)}
    dp_random, z_random = sorted(randoms, key=lambda n: graph_order[id(n)])

    # z_p = m_frames + noise * exp(logs_frames) * noise_scale; the noise template is m_frames.
    m_frames = z_random.input[0]
    adds = [n for n in consumers.get(m_frames, []) if n.op_type == "Add"]
    if len(adds) != 1:
        raise UnsupportedGraphError("cannot find the prior sample z_p")
    z_p = adds[0].output[0]

    # m_frames = Transpose(MatMul(attn, Transpose(m_p))); the same for logs_p via the Exp input.
    def per_id_source(frames_tensor: str) -> str:
        node = producers[frames_tensor]
        while node.op_type in ("Transpose", "MatMul"):
            if node.op_type == "MatMul":
                node = producers[node.input[1]]
                continue
            source = node.input[0]
            if source not in producers or producers[source].op_type not in ("Transpose", "MatMul"):
                return source
            node = producers[source]
        return node.output[0]

    m_p = per_id_source(m_frames)
    exp_nodes = [n for n in consumers.get(z_random.output[0], []) if n.op_type == "Mul"]
    if len(exp_nodes) != 1:
        raise UnsupportedGraphError("cannot find the prior's log-std")
    exp_input = next(i for i in exp_nodes[0].input if i != z_random.output[0])
    logs_frames = producers[exp_input].input[0]
    logs_p = per_id_source(logs_frames)

    flow_first = [n for n in consumers.get(z_p, []) if n.name.startswith("/flow/")]
    if not flow_first:
        raise UnsupportedGraphError("the prior sample does not feed a /flow/ node")
    external: set[str] = set()
    initializers = {i.name for i in graph.initializer}
    for node in graph.node:
        if not (node.name.startswith("/flow/") or node.name.startswith("/dec/")):
            continue
        for name in node.input:
            if not name or name in initializers or name == z_p:
                continue
            source = producers.get(name)
            if source is None or not (
                source.name.startswith("/flow/")
                or source.name.startswith("/dec/")
                or source.op_type == "Constant"
            ):
                external.add(name)
    # What remains outside the flow/decoder: the frame mask, the speaker embedding, and glue tensors
    # that the exporter left unscoped (produced from flow tensors). Keep only those rooted before z_p.
    mask_candidates = [n for n in external if producers.get(n) is not None and producers[n].op_type == "Cast"]
    if len(mask_candidates) != 1:
        raise UnsupportedGraphError(f"cannot find the frame mask among {sorted(external)}")
    graph_inputs = {i.name for i in graph.input}

    def speaker_rooted(name: str, depth: int = 0) -> bool:
        """Derived (through a few reshapes) from the speaker id's embedding or a style-vector input."""
        if name in ("g", "sid") and name in graph_inputs:
            return True
        source = producers.get(name)
        if source is None or depth > 3:
            return False
        if source.name.startswith("/emb_g"):
            return True
        return source.op_type in ("Unsqueeze", "Reshape", "Identity", "Cast") and speaker_rooted(
            source.input[0], depth + 1
        )

    speaker = [name for name in external if speaker_rooted(name)]
    g = speaker[0] if speaker else None
    return CutPoints(
        dp_noise=dp_random.output[0],
        durations=ceils[0].input[0],
        m_p=m_p,
        logs_p=logs_p,
        z_p=z_p,
        y_mask=mask_candidates[0],
        g=g,
    )


def _rename(model: onnx.ModelProto, old: str, new: str) -> None:
    for node in model.graph.node:
        node.input[:] = [new if name == old else name for name in node.input]
        node.output[:] = [new if name == old else name for name in node.output]
    for value in list(model.graph.input) + list(model.graph.output):
        if value.name == old:
            value.name = new


def set_input_shape(model: onnx.ModelProto, name: str, dims: list[int | str]) -> None:
    """Declare an input's rank and sizes.

    The extractor leaves cut tensors without a shape (even without a rank), which stops onnxruntime
    from choosing its fast convolution layouts: the parts then run twice as slow as the whole graph.
    """
    for value in model.graph.input:
        if value.name != name:
            continue
        shape = value.type.tensor_type.shape
        shape.Clear()
        for dim in dims:
            entry = shape.dim.add()
            if isinstance(dim, int):
                entry.dim_value = dim
            else:
                entry.dim_param = dim
        return
    raise UnsupportedGraphError(f"no input {name!r}")


def _conv_in_channels(model: onnx.ModelProto, consumer_prefix: str) -> int:
    weights = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Conv" and node.name.startswith(consumer_prefix) and node.input[1] in weights:
            return int(weights[node.input[1]].dims[1])
    raise UnsupportedGraphError(f"no convolution under {consumer_prefix}")


def ensure_value_info(model: onnx.ModelProto, names: list[str]) -> None:
    """The extractor needs a type for every tensor it cuts at; exports without shape information
    (torch's exporter leaves it out for some graphs) get one from shape inference, else float."""
    import onnx
    import onnx.shape_inference
    import onnx.utils

    known = {
        v.name for v in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output)
    }
    missing = [n for n in names if n and n not in known]
    if not missing:
        return
    inferred = onnx.shape_inference.infer_shapes(model)
    by_name = {v.name: v for v in inferred.graph.value_info}
    for name in missing:
        if name in by_name:
            model.graph.value_info.append(by_name[name])
        else:
            model.graph.value_info.append(
                onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
            )


def split_voice_model(model_path: Path, out_dir: Path) -> tuple[Path, Path]:
    """Write ``encoder.onnx`` and ``decoder.onnx`` for the voice at ``model_path`` into ``out_dir``."""
    import onnx
    import onnx.shape_inference
    import onnx.utils

    model = onnx.load(str(model_path))
    cuts = find_cut_points(model)
    ensure_value_info(
        model,
        [
            cuts.dp_noise,
            cuts.durations,
            cuts.m_p,
            cuts.logs_p,
            cuts.z_p,
            cuts.y_mask,
            cuts.g or "",
            model.graph.output[0].name,
        ],
    )
    original_inputs = [i.name for i in model.graph.input]
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp_full = out_dir / "full.tmp.onnx"
    onnx.save(model, str(tmp_full))
    try:
        extractor = onnx.utils.Extractor(onnx.load(str(tmp_full)))
        enc_outputs = [cuts.durations, cuts.m_p, cuts.logs_p] + ([cuts.g] if cuts.g else [])
        encoder = extractor.extract_model(original_inputs + [cuts.dp_noise], enc_outputs)
        # "g_cond": the speaker conditioning [1, G, 1] (a style-vector voice also has an input named "g")
        for old, new in zip(enc_outputs, [*ENCODER_OUTPUTS, "g_cond"], strict=False):
            _rename(encoder, old, new)
        _rename(encoder, cuts.dp_noise, "dp_noise")
        dec_inputs = [cuts.z_p, cuts.y_mask] + ([cuts.g] if cuts.g else [])
        decoder = extractor.extract_model(dec_inputs, [model.graph.output[0].name])
        for old, new in zip(dec_inputs, ["z_p", "y_mask", "g"], strict=False):
            _rename(decoder, old, new)
        channels = _conv_in_channels(model, "/flow/") * 2  # coupling layers see half the channels
        set_input_shape(decoder, "z_p", [1, channels, "frames"])
        set_input_shape(decoder, "y_mask", [1, 1, "frames"])
        set_input_shape(encoder, "dp_noise", [1, 2, "phonemes"])
        _rename(decoder, model.graph.output[0].name, "audio")
    finally:
        tmp_full.unlink(missing_ok=True)
    # Inputs the extractor kept that are not needed (e.g. scales in the decoder) are pruned by onnx.
    encoder_path, decoder_path = out_dir / "encoder.onnx", out_dir / "decoder.onnx"
    onnx.save(encoder, str(encoder_path))
    onnx.save(decoder, str(decoder_path))
    _LOGGER.info("split %s into %s", model_path, out_dir)
    return encoder_path, decoder_path


def file_digest(path: Path) -> str:
    """A short content digest: the cache key of a voice file's split models."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:24]


def split_flow_decoder(decoder_path: Path, out_dir: Path) -> tuple[Path, Path]:
    """Cut ``decoder.onnx`` (flow + HiFi-GAN) at the HiFi-GAN's input."""
    import onnx
    import onnx.shape_inference
    import onnx.utils

    model = onnx.load(str(decoder_path))
    dec_input = None
    for node in model.graph.node:
        if node.name.startswith("/dec/") and node.op_type == "Conv":
            dec_input = node.input[0]
            break
    if dec_input is None:
        raise UnsupportedGraphError("no /dec/ convolution found")
    ensure_value_info(model, [dec_input])
    extractor = onnx.utils.Extractor(model)
    inputs = [i.name for i in model.graph.input]
    flow = extractor.extract_model(inputs, [dec_input])
    hifigan_inputs = [dec_input] + [name for name in inputs if name == "g"]
    hifigan = extractor.extract_model(hifigan_inputs, ["audio"])
    for graph_model, old, new in ((flow, dec_input, "z"), (hifigan, dec_input, "z")):
        for node in graph_model.graph.node:
            node.input[:] = [new if n == old else n for n in node.input]
            node.output[:] = [new if n == old else n for n in node.output]
        for value in list(graph_model.graph.input) + list(graph_model.graph.output):
            if value.name == old:
                value.name = new
    weights = {i.name: i for i in model.graph.initializer}
    dec_conv = next(n for n in model.graph.node if n.name.startswith("/dec/") and n.op_type == "Conv")
    set_input_shape(hifigan, "z", [1, int(weights[dec_conv.input[1]].dims[1]), "frames"])
    flow_path, hifigan_path = out_dir / "flow.onnx", out_dir / "hifigan.onnx"
    onnx.save(flow, str(flow_path))
    onnx.save(hifigan, str(hifigan_path))
    return flow_path, hifigan_path


def _known_digest(model_path: Path, cache_dir: Path) -> str:
    """:func:`file_digest` of ``model_path``, remembered under ``cache_dir/split/digests`` by the file's
    path, size, inode and modification time (as make trusts them), so a load does not hash the 60 MB
    model again (measured: ~0.05 s of a 0.4 s voice load). A changed file has a new key: hashed again."""
    stat = model_path.stat()
    key = f"{model_path.resolve()}|{stat.st_size}|{stat.st_ino}|{stat.st_mtime_ns}"
    memo = cache_dir / "split" / "digests" / hashlib.sha256(key.encode()).hexdigest()[:32]
    try:
        digest = memo.read_text().strip()
        if len(digest) == 24:
            return digest
    except OSError:
        pass
    digest = file_digest(model_path)
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_name(f"{memo.name}.{os.getpid()}-{threading.get_ident()}.tmp")
        tmp.write_text(digest)
        tmp.replace(memo)
    except OSError as error:  # a read-only cache: hash on every load
        _LOGGER.debug("cannot remember the digest of %s: %s", model_path, error)
    return digest


def prepare_split_models(model_path: Path, cache_dir: Path) -> Path:
    """Split the voice once and cache the parts under ``cache_dir/<digest>``; return that folder."""
    folder = cache_dir / "split" / f"{_known_digest(model_path, cache_dir)}-v{SPLIT_VERSION}"
    done = folder / "done"
    if done.exists():
        return folder
    tmp = folder.with_name(folder.name + f".tmp{threading.get_ident()}")
    tmp.mkdir(parents=True, exist_ok=True)
    encoder_path, decoder_path = split_voice_model(model_path, tmp)
    split_flow_decoder(decoder_path, tmp)
    decoder_path.unlink()
    (tmp / "done").write_text(str(model_path))
    try:
        tmp.rename(folder)
    except OSError:  # another process finished first
        _LOGGER.debug("split models for %s already prepared", model_path)
    return folder

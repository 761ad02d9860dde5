"""Start training from an existing voice: a Piper ``.onnx`` (joe by default) or a full checkpoint.

An exported Piper ONNX holds the whole inference path of the generator (text encoder, flow, duration
predictor, decoder), so its weights can be put back into piper's ``SynthesizerTrn``. Initializer names
in the graph are unreliable (joe's text embedding is called ``sid``; flow convolutions are
``onnx::Conv_8168``), so each initializer is mapped by the scope of the node that consumes it:
``/enc_p/encoder/attn_layers.0/conv_q/Conv`` input 1 is ``enc_p.encoder.attn_layers.0.conv_q.weight``.
Two export-time foldings are undone:

- weight_norm: the exporter stores ``g * v / |v|``; training modules with weight_norm get
  ``weight_v = w`` and ``weight_g = |w|`` (norm over every dim but 0), which reproduces ``w`` exactly;
- ``exp(-logs)`` of the duration predictor's ``ElementwiseAffine`` appears as a constant: ``logs = -ln c``.

The posterior encoder (``enc_q``), the duration predictor's training-only flows (``dp.post_*``,
``dp.flows.1``) and the discriminator are not in the ONNX and start from random weights.
Hyper-parameters come from the graph (shapes, strides, dilations) and the ``.onnx.json`` config.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from voicesmith.engine import bundled
from voicesmith.errors import InvalidVoiceError
from voicesmith.training.config import ModelConfig, build_generator

_LOGGER = logging.getLogger(__name__)

#: generator parameters that an exported voice never contains
TRAINING_ONLY_PREFIXES = ("enc_q.", "dp.post_", "dp.flows.1.")
_WEIGHT_INPUTS = {
    "Conv": {1: "weight", 2: "bias"},
    "ConvTranspose": {1: "weight", 2: "bias"},
    "Gather": {0: "weight"},
}


@dataclass
class WarmStart:
    """What a base voice gives a new run."""

    model: ModelConfig
    generator: dict[str, torch.Tensor]
    """Generator state dict (keys of ``SynthesizerTrn``); may lack the training-only parts."""
    discriminator: dict[str, torch.Tensor] | None = None
    piper_config: dict[str, Any] | None = None
    missing: tuple[str, ...] = ()
    """Generator keys the base did not provide (they keep their random initialisation)."""


def _scope(node: onnx.NodeProto) -> str | None:
    if not node.name.startswith("/"):
        return None
    return node.name[1:].rsplit("/", 1)[0].replace("/", ".")


def _attribute(node: onnx.NodeProto, name: str) -> list[int]:
    for attribute in node.attribute:
        if attribute.name == name:
            return list(attribute.ints)
    return []


def _read_onnx(path: Path) -> tuple[dict[str, np.ndarray], dict[str, onnx.NodeProto]]:
    """Initializers keyed by the state-dict name they belong to, and conv nodes keyed by module path."""
    model = onnx.load(str(path))
    initializers = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    for node in model.graph.node:  # some exporters keep weights as Constant nodes
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            initializers[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    consumers: dict[str, list[tuple[onnx.NodeProto, int]]] = defaultdict(list)
    convs: dict[str, onnx.NodeProto] = {}
    named_aliases: dict[str, list[str]] = defaultdict(list)
    # The exporter merges identical initializers (LayerNorm ones, zero-initialised convs) and feeds the
    # duplicates through Identity nodes named after the parameter: follow those aliases.
    aliases = {
        node.output[0]: node.input[0]
        for node in model.graph.node
        if node.op_type == "Identity" and node.input[0] in initializers
    }
    for node in model.graph.node:
        scope = _scope(node)
        if scope and node.op_type in ("Conv", "ConvTranspose"):
            convs[scope] = node
        for index, name in enumerate(node.input):
            if name in initializers:
                consumers[name].append((node, index))
            elif name in aliases:
                consumers[aliases[name]].append((node, index))
                if _STATE_NAME.fullmatch(name):
                    named_aliases[aliases[name]].append(name)

    tensors: dict[str, np.ndarray] = {}
    for name, value in initializers.items():
        # One initializer can feed several modules: map every consumer, not just the first.
        keys = [key for node, index in consumers.get(name, ()) if (key := _key_for(name, value, node, index))]
        keys += named_aliases.get(name, [])
        if not keys and _STATE_NAME.fullmatch(name):
            keys.append(name)
        for key in dict.fromkeys(keys):
            if key.endswith(_FOLDED_EXP):
                tensors[key.removesuffix(_FOLDED_EXP)] = -np.log(value)
            elif key.endswith(_NEGATED):
                tensors[key.removesuffix(_NEGATED)] = -value
            else:
                tensors[key] = value
    return tensors, convs


_STATE_NAME = re.compile(r"[a-z_]+(\.[A-Za-z0-9_]+)+")
_NAMED_PARAMETERS = ("gamma", "beta", "m", "logs", "emb_rel_k", "emb_rel_v")
_FOLDED_EXP = "#exp(-x)"
_NEGATED = "#-x"


def _key_for(name: str, value: np.ndarray, node: onnx.NodeProto, index: int) -> str | None:
    """State-dict key of initializer ``name`` as input ``index`` of ``node`` (None for constants)."""
    scope = _scope(node)
    if not scope:
        return None
    if re.fullmatch(r"dp\.flows\.0", scope) and value.shape[:1] == (2,):
        # ElementwiseAffine in reverse computes (x - m) * exp(-logs): the exporter may fold exp(-logs)
        # into one constant (Mul input) or only -logs (Exp input).
        if node.op_type == "Mul":
            return f"{scope}.logs{_FOLDED_EXP}"
        if node.op_type == "Exp":
            return f"{scope}.logs{_NEGATED}"
    if name.startswith("/"):
        return None
    role = _WEIGHT_INPUTS.get(node.op_type, {}).get(index)
    if role:
        return f"{scope}.{role}"
    last = name.rsplit(".", 1)[-1]
    if _STATE_NAME.fullmatch(name) and last in _NAMED_PARAMETERS:
        return f"{scope}.{last}"
    if any(part.startswith("norm") for part in scope.split(".")[-2:]) and value.ndim == 1:
        return (
            f"{scope}.gamma" if node.op_type == "Mul" else f"{scope}.beta" if node.op_type == "Add" else None
        )
    return None


def _count(tensors: dict[str, Any], pattern: str) -> int:
    found = {m.group(1) for key in tensors if (m := re.match(pattern, key))}
    return len(found)


def infer_model_config(
    tensors: dict[str, np.ndarray], convs: dict[str, onnx.NodeProto], piper_config: dict[str, Any]
) -> ModelConfig:
    """The ``ModelConfig`` of the network whose weights and conv nodes these are."""
    try:
        num_symbols, hidden = tensors["enc_p.emb.weight"].shape
        num_ups = _count(tensors, r"dec\.ups\.(\d+)\.")
        num_resblocks = _count(tensors, r"dec\.resblocks\.(\d+)\.")
        num_kernels = num_resblocks // num_ups
        resblock = "1" if any(k.startswith("dec.resblocks.0.convs1") for k in tensors) else "2"
        first_convs = "convs1" if resblock == "1" else "convs"
        kernels, dilations = [], []
        for j in range(num_kernels):
            kernels.append(int(tensors[f"dec.resblocks.{j}.{first_convs}.0.weight"].shape[2]))
            n_convs = _count(tensors, rf"dec\.resblocks\.{j}\.{first_convs}\.(\d+)\.")
            dilations.append(
                tuple(
                    (_attribute(convs[f"dec.resblocks.{j}.{first_convs}.{k}"], "dilations") or [1])[0]
                    for k in range(n_convs)
                )
            )
        rates = tuple(_attribute(convs[f"dec.ups.{i}"], "strides")[0] for i in range(num_ups))
        gin = int(tensors["emb_g.weight"].shape[1]) if "emb_g.weight" in tensors else 0
        audio = piper_config.get("audio", {})
        hop = int(np.prod(rates))
        return ModelConfig(
            num_symbols=int(num_symbols),
            num_speakers=int(piper_config.get("num_speakers", 1)),
            sample_rate=int(audio.get("sample_rate", 22050)),
            hop_length=hop,
            inter_channels=int(tensors["enc_p.proj.weight"].shape[0] // 2),
            hidden_channels=int(hidden),
            filter_channels=int(tensors["enc_p.encoder.ffn_layers.0.conv_1.weight"].shape[0]),
            n_heads=int(hidden // tensors["enc_p.encoder.attn_layers.0.emb_rel_k"].shape[2]),
            n_layers=_count(tensors, r"enc_p\.encoder\.attn_layers\.(\d+)\."),
            kernel_size=int(tensors["enc_p.encoder.ffn_layers.0.conv_1.weight"].shape[2]),
            resblock=resblock,
            resblock_kernel_sizes=tuple(kernels),
            resblock_dilation_sizes=tuple(dilations),
            upsample_rates=rates,
            upsample_initial_channel=int(tensors["dec.conv_pre.weight"].shape[0]),
            upsample_kernel_sizes=tuple(int(tensors[f"dec.ups.{i}.weight"].shape[2]) for i in range(num_ups)),
            gin_channels=gin,
            use_sdp="dp.flows.0.m" in tensors,
        )
    except (KeyError, IndexError, ZeroDivisionError, ValueError) as error:
        raise InvalidVoiceError(
            f"cannot read the network shape from this ONNX voice ({error!r}); "
            "warm-starting needs a Piper VITS voice exported by piper or voicesmith"
        ) from error


def _fit(
    target: dict[str, torch.Tensor], tensors: dict[str, np.ndarray]
) -> tuple[dict[str, torch.Tensor], list]:
    """Fill ``target`` (a generator state dict) from folded ONNX weights; return it and unfilled keys."""
    state = dict(target)
    filled = set()
    for key, value in tensors.items():
        tensor = torch.from_numpy(np.array(value, dtype=np.float32))
        if key in state:
            if state[key].shape != tensor.shape:
                raise InvalidVoiceError(
                    f"ONNX weight {key} has shape {tuple(tensor.shape)}, expected {tuple(state[key].shape)}"
                )
            state[key] = tensor
            filled.add(key)
        elif key.endswith(".weight") and key + "_g" in state:
            norm = tensor.reshape(tensor.shape[0], -1).norm(dim=1)
            state[key + "_v"] = tensor
            state[key + "_g"] = norm.reshape(state[key + "_g"].shape)
            filled.update({key + "_v", key + "_g"})
    missing = [key for key in state if key not in filled]
    return state, missing


def _piper_config_beside(path: Path) -> dict[str, Any]:
    config_path = Path(str(path) + ".json")
    if not config_path.exists():
        raise InvalidVoiceError(
            f"{config_path} is missing: a Piper voice needs its .onnx.json beside the .onnx"
        )
    return json.loads(config_path.read_text(encoding="utf-8"))


def from_onnx(path: str | Path, piper_config: dict[str, Any] | None = None) -> WarmStart:
    """Generator weights and shape from a Piper ``.onnx`` voice (config read from ``path + '.json'``)."""
    path = Path(path)
    config = piper_config if piper_config is not None else _piper_config_beside(path)
    tensors, convs = _read_onnx(path)
    model = infer_model_config(tensors, convs, config)
    target = build_generator(model).state_dict()
    state, missing = _fit(target, tensors)
    unexpected = [key for key in missing if not key.startswith(TRAINING_ONLY_PREFIXES)]
    if unexpected:
        raise InvalidVoiceError(f"{path} lacks weights of the inference path: {', '.join(unexpected[:5])}")
    _LOGGER.info(
        "Warm start from %s: %d tensors, %d training-only left random", path, len(state), len(missing)
    )
    return WarmStart(model=model, generator=state, piper_config=config, missing=tuple(missing))


def from_checkpoint(path: str | Path) -> WarmStart:
    """Generator (and discriminator) weights from a piper/Lightning ``.ckpt`` or a voicesmith checkpoint."""
    path = Path(path)
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    state = checkpoint.get("state_dict", checkpoint)
    hparams = dict(checkpoint.get("hyper_parameters", {}))
    hparams.update(hparams.get("model", {}) if isinstance(hparams.get("model"), dict) else {})
    generator = {k[len("model_g.") :]: v for k, v in state.items() if k.startswith("model_g.")}
    discriminator = {k[len("model_d.") :]: v for k, v in state.items() if k.startswith("model_d.")}
    if not generator:
        raise InvalidVoiceError(
            f"{path} holds no generator weights (no model_g.* keys): not a VITS checkpoint"
        )
    if "emb_g.weight" in generator and not hparams.get("gin_channels"):
        hparams["gin_channels"] = int(generator["emb_g.weight"].shape[1])
    model = ModelConfig.from_dict(hparams)
    return WarmStart(model=model, generator=generator, discriminator=discriminator or None)


def save_inference_checkpoint(start: WarmStart, target: str | Path | BinaryIO) -> None:
    """Write the generator's inference path in fp16, as a checkpoint that ``from_checkpoint`` reads.

    Half the size of the float32 weights, for moving a voice where space is capped (a lent GPU machine);
    the training-only parts (``TRAINING_ONLY_PREFIXES``) are left out and start fresh when it is trained on.
    """
    state = {
        f"model_g.{key}": value.half()
        for key, value in start.generator.items()
        if not key.startswith(TRAINING_ONLY_PREFIXES)
    }
    torch.save({"state_dict": state, "hyper_parameters": start.model.to_dict()}, target)


def load_base(base: str | Path | None) -> WarmStart:
    """``None`` or ``"joe"``: the bundled joe voice; a path ending in .onnx or .ckpt: that file."""
    if base is None or str(base) == bundled.BUNDLED_VOICE_ID:
        return from_onnx(bundled.model_path())
    path = Path(base)
    if not path.exists():
        raise InvalidVoiceError(
            f"base voice {path} does not exist (give {bundled.BUNDLED_VOICE_ID}, a .onnx voice or a .ckpt)"
        )
    if path.suffix == ".onnx":
        return from_onnx(path)
    return from_checkpoint(path)


def generator_from(start: WarmStart) -> torch.nn.Module:
    """A ``SynthesizerTrn`` holding the warm-start weights (training-only parts random)."""
    model_g = build_generator(start.model)
    result = model_g.load_state_dict(start.generator, strict=False)
    if result.unexpected_keys:
        raise InvalidVoiceError(f"base weights do not fit the network: {result.unexpected_keys[:5]}")
    return model_g


def adapt_speakers(start: WarmStart, num_speakers: int, gin_channels: int = 512) -> WarmStart:
    """Extend a base voice to ``num_speakers`` speakers (no-op when it already has that many or more).

    A single-speaker base gains a speaker embedding ``emb_g`` (random) and speaker-conditioning layers
    (``dec.cond``, ``dp.cond``, the flows' and posterior encoder's ``cond_layer``). The conditioning
    layers start at zero, so at step 0 every speaker sounds exactly like the base voice and the
    speakers drift apart only as training teaches them to.
    """
    if num_speakers <= start.model.num_speakers:
        return start
    if start.model.num_speakers > 1:
        raise InvalidVoiceError(
            f"the base voice has {start.model.num_speakers} speakers and the dataset {num_speakers}: "
            "a multi-speaker base can only be fine-tuned with at most as many speakers"
        )
    model = start.model.with_speakers(num_speakers, gin_channels)
    target = build_generator(model).state_dict()
    state = dict(target)
    missing = set(start.missing)
    for key, value in start.generator.items():
        if key in state and state[key].shape == value.shape:
            state[key] = value
    for key in state:
        if key not in start.generator:
            missing.add(key)
            if ".cond" in key and not key.startswith("enc_q."):
                # weight_norm layers: g = 0 gives a zero weight that still learns; plain convs: zeros
                if key.endswith(("weight_g", "bias")) or (key.endswith("weight") and key + "_g" not in state):
                    state[key] = torch.zeros_like(state[key])
    _LOGGER.info("Extended the base voice to %d speakers (gin_channels=%d)", num_speakers, model.gin_channels)
    return WarmStart(
        model=model,
        generator=state,
        discriminator=start.discriminator,
        piper_config=start.piper_config,
        missing=tuple(sorted(missing)),
    )

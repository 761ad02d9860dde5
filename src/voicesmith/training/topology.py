"""Where a training run executes: one process, torchrun, SLURM or SageMaker, read from the environment.

One entry point serves every launcher; the launcher's environment variables say how many processes
there are and which one this is, and Lightning's cluster environments pick up the same variables.
DDP uses ``find_unused_parameters=True`` (the stochastic duration predictor's flows are not all used in
every step) and gloo on CPU, NCCL on GPUs.

Launch recipes (DATASET is a folder written by ``voicesmith dataset prepare``)::

    # one machine, one process (CPU or one GPU)
    voicesmith train DATASET --voice-id myvoice --max-steps 2000

    # one machine, 4 GPUs: Lightning starts the 4 processes itself
    voicesmith train DATASET --voice-id myvoice --devices 4

    # the same with torchrun (give --output: every process must agree on the run folder)
    torchrun --standalone --nproc_per_node=4 -m voicesmith.cli train DATASET --voice-id myvoice \\
        --output runs/myvoice

    # 2 nodes x 8 GPUs with torchrun (run on each node, with its --node_rank)
    torchrun --nnodes=2 --nproc_per_node=8 --node_rank=0 --rdzv_backend=c10d \\
        --rdzv_endpoint=HOST0:29500 -m voicesmith.cli train DATASET --voice-id myvoice --output /shared/runs/x

    # SLURM: one task per GPU; Lightning reads SLURM_* (the run folder defaults to runs/<id>-<job id>)
    srun --nodes=2 --ntasks-per-node=8 --gpus-per-node=8 voicesmith train DATASET --voice-id myvoice

    # SageMaker (PyTorch estimator, entry_point="sagemaker_entry.py", distribution torch_distributed)
    # reads SM_CHANNEL_TRAINING, SM_MODEL_DIR and hyper-parameters; checkpoints go to /opt/ml/checkpoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

import torch

Launcher = Literal["local", "torchrun", "slurm", "sagemaker"]


@dataclass(frozen=True)
class Topology:
    launcher: Launcher
    devices: int
    """Processes (one per device) on this node."""
    num_nodes: int
    rank: int
    accelerator: Literal["cpu", "gpu"]

    @property
    def world_size(self) -> int:
        return self.devices * self.num_nodes

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _int(env: dict[str, str], name: str, default: int) -> int:
    try:
        return int(env.get(name, default))
    except ValueError:
        return default


def detect(requested_devices: int = 1, env: dict[str, str] | None = None) -> Topology:
    """The topology this process runs in. ``requested_devices`` applies to local runs only."""
    env = dict(os.environ if env is None else env)
    accelerator: Literal["cpu", "gpu"] = "gpu" if torch.cuda.is_available() else "cpu"
    sagemaker = "SM_CURRENT_HOST" in env or "SM_HOSTS" in env
    if "LOCAL_WORLD_SIZE" in env and "WORLD_SIZE" in env:  # torchrun (also SageMaker torch_distributed)
        local = _int(env, "LOCAL_WORLD_SIZE", 1)
        return Topology(
            launcher="sagemaker" if sagemaker else "torchrun",
            devices=local,
            num_nodes=max(_int(env, "WORLD_SIZE", 1) // max(local, 1), 1),
            rank=_int(env, "RANK", 0),
            accelerator=accelerator,
        )
    if "SLURM_NTASKS" in env and env.get("SLURM_JOB_NAME") not in ("bash", "interactive"):
        nodes = _int(env, "SLURM_NNODES", 1)
        per_node = _int(env, "SLURM_NTASKS_PER_NODE", max(_int(env, "SLURM_NTASKS", 1) // nodes, 1))
        return Topology("slurm", per_node, nodes, _int(env, "SLURM_PROCID", 0), accelerator)
    rank = _int(env, "LOCAL_RANK", 0)  # set by Lightning in the processes it spawns for --devices N
    if sagemaker:
        devices = _int(env, "SM_NUM_GPUS", 0) or requested_devices
        return Topology(
            "sagemaker", devices if accelerator == "gpu" else requested_devices, 1, rank, accelerator
        )
    if accelerator == "gpu":
        requested_devices = min(requested_devices, torch.cuda.device_count())
    return Topology("local", max(requested_devices, 1), 1, rank, accelerator)


def launch_stamp(env: dict[str, str] | None = None) -> str | None:
    """An id all processes of one launch share (for the default run folder), if the launcher gives one."""
    env = dict(os.environ if env is None else env)
    for name in ("VOICESMITH_RUN_STAMP", "SLURM_JOB_ID", "TORCHELASTIC_RUN_ID"):
        value = env.get(name)
        if value and value != "none":
            return value
    return None


def trainer_kwargs(topology: Topology) -> dict[str, Any]:
    """``lightning.Trainer`` arguments for this topology."""
    kwargs: dict[str, Any] = {
        "accelerator": topology.accelerator,
        "devices": topology.devices,
        "num_nodes": topology.num_nodes,
        "use_distributed_sampler": False,  # the data module's EpochSampler shards (and resumes) itself
    }
    if topology.world_size > 1:
        from lightning.pytorch.strategies import DDPStrategy

        backend = "nccl" if topology.accelerator == "gpu" else "gloo"
        kwargs["strategy"] = DDPStrategy(find_unused_parameters=True, process_group_backend=backend)
    return kwargs


def default_precision() -> str:
    """bf16-mixed where the hardware runs bf16 natively, else full precision.

    GPUs with bf16 (Ampere and later) and CPUs with AVX512-BF16 or AMX: bf16-mixed (measured here on
    CPU, joe-size model, batch 4: about 2.6 s/step against 3.7-6.5 s/step in fp32). Elsewhere bf16 is
    emulated and slower, so 32.
    """
    if torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32"
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    native = any(getattr(torch.cpu, name, lambda: False)() for name in checks)
    return "bf16-mixed" if native else "32"

from __future__ import annotations

from voicesmith.training import topology


def test_plain_process_is_local():
    topo = topology.detect(2, env={})
    assert (topo.launcher, topo.devices, topo.num_nodes, topo.rank) == ("local", 2, 1, 0)
    assert topology.trainer_kwargs(topo)["strategy"]._ddp_kwargs == {"find_unused_parameters": True}


def test_torchrun_two_nodes():
    env = {
        "WORLD_SIZE": "8",
        "LOCAL_WORLD_SIZE": "4",
        "RANK": "5",
        "LOCAL_RANK": "1",
        "TORCHELASTIC_RUN_ID": "abc",
    }
    topo = topology.detect(1, env=env)
    assert (topo.launcher, topo.devices, topo.num_nodes, topo.rank, topo.world_size) == (
        "torchrun",
        4,
        2,
        5,
        8,
    )
    assert not topo.is_main
    assert topology.launch_stamp(env) == "abc"


def test_slurm_and_sagemaker():
    slurm = {
        "SLURM_NTASKS": "16",
        "SLURM_NNODES": "2",
        "SLURM_PROCID": "3",
        "SLURM_JOB_NAME": "train",
        "SLURM_JOB_ID": "777",
    }
    topo = topology.detect(1, env=slurm)
    assert (topo.launcher, topo.devices, topo.num_nodes, topo.rank) == ("slurm", 8, 2, 3)
    assert topology.launch_stamp(slurm) == "777"
    sm = {
        "SM_CURRENT_HOST": "algo-1",
        "SM_HOSTS": '["algo-1"]',
        "WORLD_SIZE": "2",
        "LOCAL_WORLD_SIZE": "2",
        "RANK": "0",
    }
    assert topology.detect(1, env=sm).launcher == "sagemaker"


def test_single_process_needs_no_strategy():
    assert "strategy" not in topology.trainer_kwargs(topology.detect(1, env={}))

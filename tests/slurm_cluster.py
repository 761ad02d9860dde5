"""A real one-node SLURM cluster in a temp folder (Debian's slurmctld, slurmd, munge), for the tests.

``start_cluster(root)`` writes a munge key and a slurm.conf whose one node is this host with its real
CPUs and memory (``slurmd -C``), starts munged, slurmctld and slurmd in the foreground on free loopback
ports, waits until the node is idle, and returns a :class:`Cluster` whose ``env`` points the client tools
(sbatch, squeue, scancel) at it. ``stop()`` ends the three daemons it started. No cgroups: processes are
tracked by /proc (proctrack/linuxproc), tasks are not confined (task/none).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol", "sinfo")


def missing_tools() -> list[str]:
    return [name for name in DAEMONS if shutil.which(name) is None and not Path(f"/usr/sbin/{name}").exists()]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tool(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


@dataclass
class Cluster:
    root: Path
    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([_tool(args[0]), *args[1:]], env=self.env, capture_output=True, text=True,
                              timeout=60)  # fmt: skip

    def logs(self) -> str:
        return "\n".join(
            f"== {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.root.glob("*.log"))
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _node_line() -> str:
    """This host as slurmd sees it (real CPUs, sockets, cores, memory)."""
    line = subprocess.run([_tool("slurmd"), "-C"], capture_output=True, text=True, timeout=30).stdout
    first = next(part for part in line.splitlines() if part.startswith("NodeName="))
    fields = dict(item.split("=", 1) for item in first.split())
    memory = max(int(fields.get("RealMemory", "1024")) - 256, 512)
    keep = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore")
    values = " ".join(f"{k}={fields[k]}" for k in keep if k in fields)
    return f"NodeName={socket.gethostname().split('.')[0]} NodeAddr=127.0.0.1 {values} RealMemory={memory}"


def start_cluster(root: Path, timeout: float = 60.0) -> Cluster:
    root.mkdir(parents=True, exist_ok=True)
    munge = root / "munge"
    munge.mkdir(mode=0o711, exist_ok=True)
    (root / "state").mkdir(exist_ok=True)
    (root / "spool").mkdir(exist_ok=True)
    key = munge / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    socket_path = munge / "munge.socket"
    user = getpass.getuser()
    host = socket.gethostname().split(".")[0]
    conf = root / "slurm.conf"
    conf.write_text(
        "\n".join(
            [
                "ClusterName=voicesmith-test",
                f"SlurmctldHost={host}(127.0.0.1)",
                f"SlurmUser={user}",
                f"SlurmdUser={user}",
                "AuthType=auth/munge",
                "CredType=cred/munge",
                f"AuthInfo=socket={socket_path}",
                f"SlurmctldPort={_free_port()}",
                f"SlurmdPort={_free_port()}",
                f"StateSaveLocation={root / 'state'}",
                f"SlurmdSpoolDir={root / 'spool'}",
                f"SlurmctldPidFile={root / 'slurmctld.pid'}",
                f"SlurmdPidFile={root / 'slurmd.pid'}",
                f"SlurmctldLogFile={root / 'slurmctld.log'}",
                f"SlurmdLogFile={root / 'slurmd.log'}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_CPU",
                "MpiDefault=none",
                "ReturnToService=2",
                "SchedulerType=sched/backfill",
                "SchedulerParameters=bf_interval=1",
                "JobAcctGatherType=jobacct_gather/none",
                "AccountingStorageType=accounting_storage/none",
                "JobCompType=jobcomp/none",
                "MinJobAge=600",
                "KillWait=5",
                _node_line() + " State=UNKNOWN",
                "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
                "",
            ]
        )
    )
    env = {**os.environ, "SLURM_CONF": str(conf)}
    cluster = Cluster(root, env)
    try:
        cluster.processes.append(
            subprocess.Popen(
                [
                    _tool("munged"),
                    "-F",
                    "--force",
                    f"--key-file={key}",
                    f"--socket={socket_path}",
                    f"--pid-file={munge / 'munged.pid'}",
                    f"--log-file={root / 'munged.log'}",
                    f"--seed-file={munge / 'seed'}",
                ],  # fmt: skip
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
        )
        _wait(lambda: socket_path.exists(), timeout, "munged did not start", cluster)
        for daemon in ("slurmctld", "slurmd"):
            args = [_tool(daemon), "-D", "-f", str(conf)] + (["-i"] if daemon == "slurmctld" else [])
            log = (root / f"{daemon}.out.log").open("wb")
            cluster.processes.append(subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT))
        _wait(
            lambda: "idle" in cluster.run("sinfo", "-h", "-o", "%t").stdout, timeout, "no idle node", cluster
        )
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _wait(predicate, timeout: float, message: str, cluster: Cluster) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if any(process.poll() is not None for process in cluster.processes):
            break
        time.sleep(0.3)
    raise RuntimeError(f"{message}\n{cluster.logs()}")

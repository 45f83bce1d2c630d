"""A single-node SLURM cluster for tests: Debian's ``slurm-wlm`` and ``munge`` started on this machine
with a configuration of its own (free ports, state and logs in a temporary folder).

:func:`start_slurm` returns the environment (``SLURM_CONF``) that ``sbatch`` / ``squeue`` need, or
raises :class:`SlurmUnavailable` saying exactly what is missing: the test that asked skips with
that reason."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["SlurmUnavailable", "start_slurm", "stop_slurm"]


class SlurmUnavailable(RuntimeError):
    """SLURM cannot be started here (the message says why)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_slurm(folder: Path, cpus: int = 2) -> dict[str, str]:
    """Start munged (unless running), slurmctld and slurmd with one node of ``cpus`` CPUs."""
    missing = [
        c for c in ("munged", "munge", "slurmctld", "slurmd", "sbatch", "squeue") if not shutil.which(c)
    ]
    if missing:
        raise SlurmUnavailable(
            f"{', '.join(missing)} not found: install Debian's slurm-wlm and munge (.ci/run does)"
        )
    if os.geteuid() != 0:
        raise SlurmUnavailable("starting slurmd needs root; this test runs as an unprivileged user")
    if not Path("/etc/munge/munge.key").is_file():
        raise SlurmUnavailable("/etc/munge/munge.key is missing (the munge package creates it)")
    if subprocess.run("munge -n | unmunge", shell=True, capture_output=True).returncode != 0:
        for d in ("/run/munge", "/var/log/munge", "/var/lib/munge"):
            Path(d).mkdir(parents=True, exist_ok=True)
        subprocess.run(["munged", "--force"], capture_output=True)
        time.sleep(1.0)
        if subprocess.run("munge -n | unmunge", shell=True, capture_output=True).returncode != 0:
            raise SlurmUnavailable("munged did not start (munge -n | unmunge fails)")
    host = socket.gethostname().split(".")[0]
    for sub in ("state", "spool", "log"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    conf = folder / "slurm.conf"
    conf.write_text(
        "\n".join(
            [
                "ClusterName=talkbench-test",
                f"SlurmctldHost={host}",
                "SlurmUser=root",
                "SlurmdUser=root",
                "AuthType=auth/munge",
                f"StateSaveLocation={folder / 'state'}",
                f"SlurmdSpoolDir={folder / 'spool'}",
                f"SlurmctldPidFile={folder / 'slurmctld.pid'}",
                f"SlurmdPidFile={folder / 'slurmd.pid'}",
                f"SlurmctldLogFile={folder / 'log' / 'slurmctld.log'}",
                f"SlurmdLogFile={folder / 'log' / 'slurmd.log'}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "SchedulerType=sched/backfill",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_Core",
                "ReturnToService=2",
                "MpiDefault=none",
                f"SlurmctldPort={_free_port()}",
                f"SlurmdPort={_free_port()}",
                "JobCompType=jobcomp/none",
                "AccountingStorageType=accounting_storage/none",
                f"NodeName={host} CPUs={cpus} RealMemory=16000 State=UNKNOWN",
                "PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
                "",
            ]
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "SLURM_CONF": str(conf)}
    for daemon in ("slurmctld", "slurmd"):
        proc = subprocess.run([daemon, "-f", str(conf)], env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            stop_slurm(env)
            raise SlurmUnavailable(f"{daemon} did not start: {(proc.stderr or proc.stdout).strip()[:300]}")
    deadline = time.time() + 30
    while time.time() < deadline:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip() in ("idle", "mixed"):
            return {"SLURM_CONF": str(conf)}
        time.sleep(0.5)
    log = (folder / "log" / "slurmd.log").read_text(encoding="utf-8", errors="replace")[-300:]
    stop_slurm(env)
    raise SlurmUnavailable(f"the node did not become idle within 30 s (slurmd.log: {log})")


def stop_slurm(env: dict[str, str]) -> None:
    subprocess.run(["scontrol", "shutdown"], env={**os.environ, **env}, capture_output=True)

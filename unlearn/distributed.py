"""The processes of a multi-process run, started once, before the first stage.

Every stage of a run needs the same processes: the fine-tunes train across them, label
generation shards its batches over them, and the cache must agree on what is built. So the
processes are started when the run starts, not when the first Lightning Trainer fits
(which a cached run may never do), and every process runs the same pipeline:

- launched as `python -m unlearn trainer=ddp ...`, rank 0 starts the other local ranks as
  `python -m unlearn <this job's overrides>` with LOCAL_RANK, WORLD_SIZE and the main
  address in their environment (a Hydra multirun job starts its own ranks, with its own
  overrides), and watches them: if one fails, all stop. Their log goes to
  unlearn_rank<N>.log in the run folder, their errors to the console;
- under torchrun or SLURM (srun), the scheduler has started every rank already.

Lightning's strategies then find the process group initialised and use it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import torch
import torch.distributed as dist
from omegaconf import DictConfig

if TYPE_CHECKING:
    from lightning_fabric.plugins.environments import ClusterEnvironment

from unlearn.errors import UserError

log = logging.getLogger(__name__)

Item = TypeVar("Item")
# What rank 0 sets in its own environment (and its children's) when it starts the ranks.
LAUNCH_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


@dataclass
class Processes:
    """This process's place among the run's processes; one process when world_size is 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    children: list[subprocess.Popen] = field(default_factory=list)
    replaced_environment: dict[str, str | None] = field(default_factory=dict)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def shard(self, items: Sequence[Item]) -> Sequence[Item]:
        """This process's share of `items`: every world_size-th one, from its rank on."""
        return items[self.rank :: self.world_size]

    def gather(self, value: Any) -> list[Any] | None:
        """Every process's `value`, in rank order, on rank 0; None on the others."""
        if not self.distributed:
            return [value]
        gathered: list[Any] | None = [None] * self.world_size if self.is_main else None
        dist.gather_object(value, gathered, dst=0)
        return gathered

    def broadcast(self, value: Any) -> Any:
        """Rank 0's `value`, on every process."""
        if not self.distributed:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def abort(self) -> None:
        """Stop the ranks this process started: they would wait for it forever in a collective."""
        for child in self.children:
            child.kill()

    def finish(self) -> None:
        """Leave the process group; rank 0 waits for the ranks it started and fails if one did,
        and forgets the launch settings, so that the next job of a multirun starts its own ranks."""
        if dist.is_initialized():
            dist.destroy_process_group()
        for name, value in self.replaced_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        failed = [child.args for child in self.children if child.wait() != 0]
        if failed:
            raise UserError(f"{len(failed)} of the run's other processes failed; see their logs (unlearn_rank<N>.log) in the run folder")


def _processes_per_node(trainer: DictConfig) -> int:
    if trainer.get("accelerator") in ("gpu", "cuda") and torch.cuda.device_count() == 0:
        raise UserError(
            f"trainer.accelerator={trainer.accelerator} but no GPU is visible here; use trainer=cpu, "
            "or trainer=ddp_cpu for several CPU processes"
        )
    devices = trainer.get("devices", 1)
    if devices == -1:
        return torch.cuda.device_count() if trainer.get("accelerator") in ("gpu", "cuda") else 1
    if not isinstance(devices, int) or devices < 1:
        raise UserError(f"trainer.devices={devices!r} is not a number of devices; set trainer.devices=<int>, or -1 for every GPU")
    if trainer.get("accelerator") in ("gpu", "cuda") and devices > torch.cuda.device_count():
        raise UserError(f"trainer.devices={devices}, but {torch.cuda.device_count()} GPUs are visible here; lower it, or -1 for every GPU")
    return devices


def world_size(trainer: DictConfig) -> int:
    """How many processes the `trainer` config asks for: devices per node x nodes."""
    return _processes_per_node(trainer) * int(trainer.get("num_nodes", 1))


def _cluster() -> ClusterEnvironment:
    # Imported here: Lightning takes seconds to import, and a run checks its configuration before it needs it.
    from lightning_fabric.plugins.environments import LightningEnvironment, SLURMEnvironment, TorchElasticEnvironment

    for environment in (SLURMEnvironment, TorchElasticEnvironment):
        if environment.detect():
            return environment()
    return LightningEnvironment()


def _child_command(local_rank: int, overrides: Sequence[str], output_dir: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "unlearn",
        *overrides,
        f'hydra.run.dir="{output_dir}"',
        "hydra.output_subdir=null",
        f"hydra.job.name=unlearn_rank{local_rank}",
    ]


def _watch(children: list[subprocess.Popen]) -> None:
    """Stop the whole run when a rank it started dies, instead of waiting forever for it in a collective."""

    def watch() -> None:
        while True:
            codes = [child.poll() for child in children]
            if any(code not in (None, 0) for code in codes):
                log.error("a rank of this run exited with an error: stopping every rank")
                for child in children:
                    if child.poll() is None:
                        child.kill()
                os.kill(os.getpid(), signal.SIGKILL)
            if all(code == 0 for code in codes):
                return
            time.sleep(1.0)

    threading.Thread(target=watch, daemon=True, name="unlearn-rank-watcher").start()


def start_processes(trainer: DictConfig, timeout_min: float, overrides: Sequence[str], output_dir: str) -> Processes:
    """Join (or, from a plain `python -m unlearn`, start) the processes `trainer` asks for."""
    per_node = _processes_per_node(trainer)
    num_nodes = int(trainer.get("num_nodes", 1))
    total = per_node * num_nodes
    if total == 1:
        return Processes()
    from lightning_fabric.plugins.environments import LightningEnvironment

    cluster = _cluster()
    children: list[subprocess.Popen] = []
    replaced: dict[str, str | None] = {}
    if isinstance(cluster, LightningEnvironment) and "LOCAL_RANK" not in os.environ:
        if num_nodes > 1 and "NODE_RANK" not in os.environ:
            raise UserError(
                f"trainer.num_nodes={num_nodes}: start the run on every node under torchrun or SLURM (srun), "
                "or set NODE_RANK, MASTER_ADDR and MASTER_PORT on each node"
            )
        launch = (cluster.main_address, str(cluster.main_port), str(cluster.node_rank()), "0", str(total))
        replaced = {name: os.environ.get(name) for name in LAUNCH_VARIABLES}
        os.environ.update(zip(LAUNCH_VARIABLES, launch, strict=True))
        for local_rank in range(1, per_node):
            env = {**os.environ, "LOCAL_RANK": str(local_rank)}
            command = _child_command(local_rank, overrides, output_dir)
            children.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL))
        _watch(children)
    if isinstance(cluster, LightningEnvironment):
        cluster.set_world_size(int(os.environ.get("WORLD_SIZE", total)))
        cluster.set_global_rank(cluster.node_rank() * per_node + cluster.local_rank())
    if cluster.world_size() != total:
        raise UserError(
            f"the launcher started {cluster.world_size()} processes but trainer.devices x trainer.num_nodes = "
            f"{per_node} x {num_nodes}; make them agree (e.g. srun --ntasks-per-node={per_node})"
        )
    os.environ.setdefault("MASTER_ADDR", cluster.main_address)
    os.environ.setdefault("MASTER_PORT", str(cluster.main_port))
    accelerator = trainer.get("accelerator", "cpu")
    backend = "gloo" if accelerator == "cpu" else "nccl"
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, torch.get_num_threads() // per_node))  # share the cores one process would use
    if backend == "nccl":
        torch.cuda.set_device(cluster.local_rank())
    dist.init_process_group(
        backend, rank=cluster.global_rank(), world_size=total, timeout=timedelta(minutes=timeout_min), init_method="env://"
    )
    log.info("process %d of %d (%s)", cluster.global_rank(), total, backend)
    return Processes(cluster.global_rank(), total, cluster.local_rank(), children, replaced)

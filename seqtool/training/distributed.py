"""Data-parallel training under ``torchrun``: process group, rank roles, and the few collectives.

``torchrun --nproc_per_node N -m seqtool train-mt ...`` starts N copies of the same command with
``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (and a rendezvous address) in the environment.
:func:`process_group` reads them, initialises ``torch.distributed`` (gloo on the CPU, NCCL on
GPUs) and tears it down at the end; without them everything here is a no-op, so one code path
serves both cases. Roles:

- rank 0 owns the model folder: it takes the lock, trains the tokenizers, encodes the corpus and
  writes config, checkpoints, metrics and weights, and is the only one that reports progress;
- the other ranks wait for rank 0's set-up (:meth:`DistContext.share`), then read the same
  tokenizers and encoded corpus from the folder, and never write to it;
- every rank trains on its shard of each epoch's batches (see :class:`seqtool.training.trainer.Trainer`);
  rank 0 evaluates and broadcasts the metrics, so best-model, early-stopping, time-budget and
  Ctrl-C decisions are the same on every rank and no rank waits forever on another.

Multi-node runs use the same code: torchrun's ``--nnodes``/``--node_rank``/``--master_addr``
flags only change the environment the processes start with."""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from seqtool.errors import OptionError

T = TypeVar("T")


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def share(self, value: T) -> T:
        """Rank 0's ``value`` on every rank (also a synchronisation point: the others wait here)."""
        if not self.active:
            return value
        box = [value if self.is_main else None]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def device(self, device: torch.device) -> torch.device:
        """Each process on a multi-GPU machine drives its own GPU (LOCAL_RANK)."""
        if self.active and device.type == "cuda":
            cuda = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(cuda)
            return cuda
        return device


def context_from_env() -> DistContext:
    """The ranks torchrun put in the environment (rank 0 of 1 without it)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError:
        raise OptionError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (they are set by torchrun)") from None
    if world < 1 or not 0 <= rank < world:
        raise OptionError(f"inconsistent torchrun environment: RANK={rank}, WORLD_SIZE={world}")
    return DistContext(rank, world, local)


def is_main_process() -> bool:
    """Whether this process should print (rank 0, or not under torchrun); cheap, no torch import."""
    return os.environ.get("RANK", "0") == "0"


@contextlib.contextmanager
def process_group(device: torch.device) -> Iterator[DistContext]:
    """Initialise torch.distributed from torchrun's environment for the duration of a training run."""
    ctx = context_from_env()
    if not ctx.active or torch.distributed.is_initialized():
        yield ctx
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    # The timeout bounds how long a rank waits for another at a collective (e.g. for rank 0 to train
    # the tokenizers); if a rank dies, torchrun stops the others anyway.
    torch.distributed.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=60))
    try:
        yield ctx
    finally:
        torch.distributed.destroy_process_group()


def _scalar(value: int) -> torch.Tensor:
    # NCCL reduces GPU tensors only; gloo takes CPU ones.
    device = "cuda" if torch.distributed.get_backend() == "nccl" else "cpu"
    return torch.tensor([value], dtype=torch.long, device=device)


def all_ranks_sum(value: int, world_size: int) -> int:
    """Sum of an integer over all ranks (the value itself with one process)."""
    if world_size == 1:
        return value
    t = _scalar(value)
    torch.distributed.all_reduce(t)
    return int(t.item())


def any_rank(flag: bool, world_size: int) -> bool:
    """True on every rank if ``flag`` is true on any (budget reached, Ctrl-C): ranks stop together."""
    if world_size == 1:
        return flag
    t = _scalar(int(flag))
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return bool(t.item())


def broadcast_from_main(value: Any, world_size: int) -> Any:
    """Rank 0's value on every rank."""
    return DistContext(0 if world_size == 1 else torch.distributed.get_rank(), world_size).share(value)

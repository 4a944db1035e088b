"""Several processes training one model (DistributedDataParallel), started by torchrun: gloo on
CPUs, NCCL on GPUs. Rank 0 logs and saves; the others only compute."""

from __future__ import annotations

import os

import torch

from .trainer import Distributed


def setup_from_env(device: str = "auto") -> Distributed | None:
    """Join the process group torchrun describes in the environment, or None when alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if use_cuda else "gloo")
    return Distributed(rank, world)


def teardown(dist: Distributed | None) -> None:
    if dist is not None and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()

"""Where and how a run computes: device, seeds, CPU threads, memory format, mixed precision."""
from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

#: ``train.amp`` choices besides ``none``.
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
AMP_CHOICES = ("none", *AMP_DTYPES)
#: ``train.compile``: no compilation, ``torch.compile``'s default, or with CUDA graphs.
COMPILE_MODES = ("off", "default", "reduce-overhead", "max-autotune")


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then the CPU; any other name is passed to ``torch.device``."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:  # cuBLAS needs this for deterministic matmuls; set before CUDA starts
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # warn_only: an op without a deterministic kernel (on CUDA, e.g. bilinear upsampling's backward)
    # warns instead of stopping the run
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic


def set_threads(threads: int | None) -> None:
    """CPU threads for intra-op parallelism. None keeps PyTorch's choice: the CPUs this process may
    run on (its affinity mask, e.g. SLURM's cpus_per_task), or what joblib's workers were given."""
    if threads is not None:
        torch.set_num_threads(int(threads))


def memory_format(channels_last: bool) -> torch.memory_format:
    """NHWC for both networks and the batches with ``train.channels_last``, else the default NCHW."""
    return torch.channels_last if channels_last else torch.contiguous_format


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager:
    """Mixed precision for a training step: ``amp`` none | bf16 | fp16."""
    if amp == "none":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=AMP_DTYPES[amp])

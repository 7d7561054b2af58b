"""Where and how a run computes: device, seeds, CPU threads, memory format, mixed precision."""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import random
from pathlib import Path

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


@functools.cache
def _libc_function(name: str):
    """A function of glibc (``malloc_trim``, ``mallopt``), or None where the C library has none."""
    try:
        function = getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None
    function.argtypes = {"malloc_trim": [ctypes.c_size_t], "mallopt": [ctypes.c_int, ctypes.c_int]}[name]
    function.restype = ctypes.c_int
    return function


#: Bytes of images a step of work must have handled for ``release_freed_memory`` to trim after it
#: (below, the heap's own reuse keeps the resident memory in check and a trim costs more than it gives).
TRIM_BYTES = 2**26


def release_freed_memory(handled: int = TRIM_BYTES) -> None:
    """Hand the freed part of the C heap back to the system (glibc's ``malloc_trim``; nothing where
    it is missing) after a step that handled ``handled`` bytes of images, if at least ``TRIM_BYTES``.
    Tensors of a few MB are allocated on that heap, and once freed they still count in the
    process's resident memory until trimmed: between the steps of a large analysis this keeps it at
    what is in use (64 images of 1024 px: 0.9 GB less after one set's statistics)."""
    trim = _libc_function("malloc_trim")
    if trim is not None and handled >= TRIM_BYTES:
        trim(0)


#: glibc's ``mallopt`` parameter for the size from which allocations are mapped on their own.
M_MMAP_THRESHOLD = -3
#: ``lean_heap``'s threshold: the temporaries of large images (a group's float64 copy, a map per channel).
LEAN_MMAP_BYTES = 2**23


def lean_heap() -> None:
    """Map every allocation of ``LEAN_MMAP_BYTES`` or more on its own, so that the system gets it back
    the moment it is freed (glibc's ``mallopt``; nothing elsewhere). By default glibc raises that
    threshold to 32 MB as the process frees large blocks, and the heap then keeps what it freed:
    64 + 64 images of 1024 px peaked at 4.47 GB and 146 s with ``release_freed_memory`` alone, at
    3.31 GB and 199 s with this too (each such allocation's pages are faulted in afresh). For a
    command whose images are large against the memory (``python -m gan.analyze``), not for training: it
    holds for the rest of the process, so it is called where the command's own process starts."""
    mallopt = _libc_function("mallopt")
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, LEAN_MMAP_BYTES)


def available_memory(proc: Path = Path("/proc"), cgroups: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Bytes a new allocation can take, or None where unknown: ``MemAvailable`` of ``proc``/meminfo,
    or less where this process's memory cgroup (a container's or a batch job's limit) leaves less."""
    values = [v for v in (_meminfo_available(proc / "meminfo"), _cgroup_room(proc / "self" / "cgroup", cgroups))
              if v is not None]
    return min(values) if values else None


def _meminfo_available(meminfo: Path) -> int | None:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


#: Limits at or above this are no limit (cgroup v1 writes 2^63 rounded down to a page).
NO_LIMIT = 2**60


def _cgroup_room(membership: Path, root: Path) -> int | None:
    """The limit less the usage (reclaimable file cache not counted, as ``docker stats`` does) of
    the memory cgroup named in ``membership`` (``/proc/self/cgroup``): v2 (``memory.max``) or v1
    (``memory/.../memory.limit_in_bytes``); None without a limit."""
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2: one hierarchy
            base, files = root / path.lstrip("/"), ("memory.max", "memory.current", "inactive_file")
        elif "memory" in controllers.split(","):  # cgroup v1: the memory controller's hierarchy
            base, files = root / "memory" / path.lstrip("/"), ("memory.limit_in_bytes", "memory.usage_in_bytes",
                                                               "total_inactive_file")
        else:
            continue
        try:
            limit = (base / files[0]).read_text().strip()
            usage = int((base / files[1]).read_text())
            stat = dict(row.split() for row in (base / "memory.stat").read_text().splitlines() if " " in row)
        except (OSError, ValueError):
            continue
        if limit != "max" and int(limit) < NO_LIMIT:
            return max(0, int(limit) - usage + int(stat.get(files[2], 0)))
    return None

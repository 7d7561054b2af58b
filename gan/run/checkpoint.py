"""Atomic, safe-to-load training checkpoints.

A checkpoint is written to a temporary file in the same folder, flushed to disk and renamed,
so a kill during the save leaves the previous file intact. Files are read with
``torch.load(weights_only=True)``: a checkpoint cannot run code.
"""
from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan.core.errors import CheckpointError

LAST = "last.pt"
#: A periodic checkpoint's file name (``train.ckpt_every``), the one place that spells it.
PERIODIC = "step_{step:07d}.pt"


def periodic_name(step: int) -> str:
    return PERIODIC.format(step=step)


__all__ = ["CheckpointError", "LAST", "PERIODIC", "periodic_name", "save_atomic", "load", "candidates", "load_latest",
           "rng_state", "set_rng_state"]


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` to ``path`` via a temporary file + fsync + rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read one checkpoint; a truncated or corrupt file raises ``CheckpointError`` naming it."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure to unpickle means the file is unusable
        raise CheckpointError(f"checkpoint {path} is unreadable ({type(e).__name__}: {e})") from e


def candidates(ckpt_dir: str | Path) -> list[Path]:
    """Checkpoints newest first: ``last.pt``, then the periodic ones by step, descending."""
    d = Path(ckpt_dir)
    periodic = sorted(d.glob(PERIODIC.split("{")[0] + "*.pt"), reverse=True)
    return [p for p in [d / LAST, *periodic] if p.is_file()]


def load_latest(ckpt_dir: str | Path, map_location: str | torch.device = "cpu",
                warn=print) -> tuple[dict[str, Any], Path] | None:
    """The newest readable checkpoint in ``ckpt_dir`` (skipping corrupt ones with a warning), or None."""
    for path in candidates(ckpt_dir):
        try:
            return load(path, map_location), path
        except CheckpointError as e:
            warn(f"{e}; trying an older one")
    return None


def rng_state() -> dict[str, Any]:
    """Every RNG state that training touches, in a form ``weights_only`` loading accepts."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])

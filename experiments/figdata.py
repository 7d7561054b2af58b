"""Compute, save, plot as separate steps: the arrays (``.npz``) and numbers (``.json``) of a figure."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def save(out: Path, stem: str, arrays: dict[str, np.ndarray], info: dict) -> None:
    """Write ``out/stem.npz`` and ``out/stem.json``."""
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / f"{stem}.npz", **arrays)
    (out / f"{stem}.json").write_text(json.dumps(info, indent=2))


def load(out: Path, stem: str) -> tuple[np.lib.npyio.NpzFile, dict]:
    """Read back what ``save`` wrote."""
    return np.load(out / f"{stem}.npz"), json.loads((out / f"{stem}.json").read_text())

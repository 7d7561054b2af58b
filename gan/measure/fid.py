"""FID and KID through torch-fidelity, only where the Inception weights are already on disk.

Nothing is downloaded: ``inception_weights`` returns the configured file or torch-fidelity's
file in the torch hub cache, or None, and evaluation then logs once that FID/KID were skipped.
Install with ``pip install -e ".[fid]"``.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from gan.measure.names import FID, KID

#: The file torch-fidelity stores in ``<torch hub dir>/checkpoints`` when it downloads the weights.
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"


def inception_weights(path: str | None = None) -> Path | None:
    """The Inception weights to use: ``path`` if given and present, else torch-fidelity's cached file."""
    candidates = [Path(path).expanduser()] if path else [Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE]
    return next((p for p in candidates if p.is_file()), None)


def unavailable_reason(path: str | None = None) -> str | None:
    """Why FID/KID cannot be computed here, or None when they can."""
    try:
        import torch_fidelity  # noqa: F401 - an optional dependency (the fid extra)
    except ImportError:
        return 'torch-fidelity is not installed (pip install -e ".[fid]")'
    if inception_weights(path) is None:
        where = path or Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
        return f"no Inception weights at {where} (set eval.fid_weights=/path/to/{INCEPTION_FILE})"
    return None


class _Uint8Images(Dataset):
    """torch-fidelity's input: uint8 ``(3, H, W)`` images."""

    def __init__(self, images: torch.Tensor):
        x = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        self.images = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def fid_kid(real: torch.Tensor, fake: torch.Tensor, weights: str | Path, device: str = "cpu") -> dict[str, float]:
    """``{"quality/fid": ..., "quality/kid": ...}`` of generator-range image sets ``(N, C, H, W)``."""
    import torch_fidelity  # an optional dependency (the fid extra)

    n = min(len(real), len(fake))
    m = torch_fidelity.calculate_metrics(
        input1=_Uint8Images(fake), input2=_Uint8Images(real), fid=True, kid=True,
        kid_subset_size=min(1000, n), feature_extractor_weights_path=str(weights), cuda=device.startswith("cuda"),
        cache=False, verbose=False)
    return {FID: float(m["frechet_inception_distance"]), KID: float(m["kernel_inception_distance_mean"])}

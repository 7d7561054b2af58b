"""DCGAN generators with swappable upsamplers, and spectral measures of checkerboard artifacts."""
import hashlib
from pathlib import Path

from omegaconf import OmegaConf

#: The Hydra config tree shipped with the repository (``conf/`` at the top level).
CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def short_name(text: str, limit: int = 96) -> str:
    """``text`` if it fits in ``limit`` characters, else its head plus a hash of the whole: a
    readable, unique, filesystem-safe job folder name however many overrides a sweep has."""
    text = text.replace("/", "_")
    if len(text) <= limit:
        return text
    return f"{text[:limit - 9]}_{hashlib.sha1(text.encode()).hexdigest()[:8]}"


OmegaConf.register_new_resolver("short", short_name, replace=True)  # used by conf/train.yaml

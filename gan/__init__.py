"""DCGAN generators with swappable upsamplers, and spectral measures of checkerboard artifacts."""
from pathlib import Path

#: The Hydra config tree shipped with the repository (``conf/`` at the top level).
CONF_DIR = Path(__file__).resolve().parent.parent / "conf"

"""DCGAN generators with swappable upsamplers, and spectral measures of checkerboard artifacts."""
from gan.config import CONF_DIR  # noqa: F401 - also registers the resolvers used by conf/train.yaml

__version__ = "0.2.0"

"""Shared fixtures: the real Hydra config, composed and shrunk to CPU-sized toys (``conf/debug/tiny.yaml``)."""
from __future__ import annotations

import pytest

from gan.config import compose as compose_config

TINY = ["+debug=tiny"]

__all__ = ["TINY", "compose_config"]


@pytest.fixture
def tiny_cfg(tmp_path):
    """A factory: ``tiny_cfg("upsampler=resize_nearest")`` -> a tiny config writing to tmp_path."""
    def make(*overrides: str, run_dir=None):
        return compose_config(*TINY, f"run_dir={run_dir or tmp_path / 'run'}", *overrides)
    return make

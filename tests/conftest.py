"""Shared fixtures: the real Hydra config, composed and shrunk to CPU-sized toys."""
from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from gan import CONF_DIR

TINY = [
    "image_size=16", "generator.ngf=4", "discriminator.ndf=4", "data.num_images=64",
    "train.batch_size=8", "train.steps=4", "train.log_every=1", "train.ckpt_every=2", "train.progress=false",
    "eval.every=2", "eval.num_samples=16", "eval.num_real=32", "eval.grid_size=16", "device=cpu",
]


def compose_config(*overrides: str):
    """The composed ``conf/train.yaml`` with ``overrides`` (no Hydra run needed)."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=list(overrides))


@pytest.fixture
def tiny_cfg(tmp_path):
    """A factory: ``tiny_cfg("upsampler=resize_nearest")`` -> a tiny config writing to tmp_path."""
    def make(*overrides: str, run_dir=None):
        return compose_config(*TINY, f"run_dir={run_dir or tmp_path / 'run'}", *overrides)
    return make

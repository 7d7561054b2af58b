"""Hydra callbacks of ``train.py`` (listed in ``conf/train.yaml`` under ``hydra.callbacks``)."""
from __future__ import annotations

import sys
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class LockRunDir(Callback):
    """A single run takes its directory's lock (``RunDir.lock``) before Hydra writes anything into
    it, so a second process on the same directory stops with one line and exit code 2, touching
    nothing. Sweep jobs take theirs when training starts."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra.core.hydra_config import HydraConfig

        from gan.rundir import RunDir, RunDirInUse

        HydraConfig.instance().set_config(config)  # the run dir may interpolate ${hydra:...}
        try:
            RunDir(config.get("run_dir") or config.hydra.run.dir).lock()
        except RunDirInUse as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)

"""Hydra callbacks of ``train.py`` (listed in ``conf/train.yaml`` under ``hydra.callbacks``)."""
from __future__ import annotations

import sys
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from gan.core.errors import UserError, report
from gan.run import lifecycle
from gan.run.rundir import RunDir


class AcceptRun(Callback):
    """A single run is accepted before Hydra writes anything: its config, data and resume policy
    are checked (``gan.run.lifecycle.accept``) and its directory's lock is taken (``RunDir.lock``); a
    refused command prints one line, exits with code 2 and leaves no file or folder behind. A run
    that continues keeps the ``.hydra/`` record of the command that started it; each later command
    is appended to its ``.hydra/history.txt``. Sweep jobs are accepted by the sweeper."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        HydraConfig.instance().set_config(config)  # the run dir may interpolate ${hydra:...}
        run = RunDir.of(config)
        task = OmegaConf.masked_copy(config, [k for k in config if k != "hydra"])
        try:
            lifecycle.accept(task, run)
            existed = run.holds_run()
            run.lock()
        except UserError as e:
            sys.exit(report(e))
        if existed and config.hydra.output_subdir is not None:
            lifecycle.note_command(run.path / config.hydra.output_subdir / "history.txt", config.hydra.overrides.task)
            with read_write(config.hydra), open_dict(config.hydra):
                config.hydra.output_subdir = None  # keep .hydra/ as the run's first command wrote it

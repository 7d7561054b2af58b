"""The ``gan`` Hydra sweeper: Hydra's basic sweeper plus readable job directories, a check of every
job before any starts, and one line per failed job (logic in ``gan/study/sweeps.py``).

Hydra loads sweepers only from the ``hydra_plugins`` namespace package; this module registers
``hydra/sweeper=gan``, the default of ``conf/train.yaml``.
"""

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobStatus
from omegaconf import open_dict, read_write

from gan.core.errors import ConfigError, TrainingInterrupted, report
from gan.run import signals
from gan.study import sweeps

log = logging.getLogger(__name__)


@dataclass
class GanSweeperConf:
    _target_: str = "hydra_plugins.gan_sweeper.gan_sweeper.GanSweeper"
    max_batch_size: Optional[int] = None
    params: Optional[Dict[str, str]] = None
    pack_seeds: bool = False  # jobs that differ only in consecutive seeds train in one process (num_seeds)


ConfigStore.instance().store(group="hydra/sweeper", name="gan", node=GanSweeperConf, provider="gan-checkerboard")


class GanSweeper(BasicSweeper):
    def __init__(self, max_batch_size: Optional[int], params: Optional[Dict[str, str]] = None,
                 pack_seeds: bool = False) -> None:
        super().__init__(max_batch_size, params)
        self.pack_seeds = pack_seeds

    def sweep(self, arguments: List[str]) -> Any:
        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides([*self._parse_config(), *arguments])
        jobs = sweeps.plan(self.split_arguments(overrides, None)[0], pack=self.pack_seeds)
        sweep_dir = str(self.config.hydra.sweep.dir)  # resolved once, from the command's own overrides
        with read_write(self.config.hydra), open_dict(self.config.hydra):
            self.config.hydra.sweep.dir = sweep_dir  # the launcher makes this folder
        loader = self.hydra_context.config_loader
        problems = [p for job in jobs if (p := sweeps.validation_error(
            job, loader.load_sweep_config(self.config, job.with_dirs(sweep_dir))))]
        if problems:  # before any folder exists
            sys.exit(report(ConfigError(problems[0] + (f" (and {len(problems) - 1} more job(s))"
                                                       if len(problems) > 1 else ""))))
        sweeps.record_sweep(Path(sweep_dir), self.config)
        batch = self.max_batch_size or sweeps.workers(self.config.hydra.launcher) or len(jobs)
        returns, failures, interrupted = [], [], []
        with signals.sweep_stop() as stop:
            for start in range(0, len(jobs), batch):
                if stop.signum or interrupted:  # a job stopped by a signal: no further job starts
                    break
                chunk = jobs[start:start + batch]
                results = self.launcher.launch([job.with_dirs(sweep_dir) for job in chunk], initial_job_idx=start)
                for job, r in zip(chunk, results):
                    if r.status == JobStatus.FAILED and isinstance(r._return_value, TrainingInterrupted):
                        interrupted.append((job, r._return_value.signum))
                    elif r.status == JobStatus.FAILED:
                        failures.append(sweeps.failure_report(job, r._return_value))
                returns.append(results)
        for line, _ in failures:
            print(f"error: {line}", file=sys.stderr)
        if stop.signum or interrupted:
            signum = stop.signum or interrupted[0][1]
            print(sweeps.interrupted_line(len(jobs), [j for j, _ in interrupted], sweep_dir), file=sys.stderr, flush=True)
            sys.exit(128 + signum)
        if failures:
            print(f"{len(failures)} of {len(jobs)} job(s) failed; the others are in {sweep_dir}", file=sys.stderr)
            sys.exit(max(code for _, code in failures))
        return returns

"""Train a DCGAN with a chosen upsampler: ``python train.py upsampler=resize_nearest``.

Exit codes: 0 finished, 2 bad configuration or data, 3 diverged (NaN/Inf), 128+N stopped by
signal N (a checkpoint was saved; the same command resumes). A run's directory is named from its
overrides, so rerunning a command continues its run. In a multirun every job is checked before any
starts; a failing or diverging job is reported in one line at the end, after the other jobs ran,
and sets the exit code; SIGTERM/SIGINT stop the whole sweep with every launcher (running jobs save a
checkpoint, no further job starts); a second Ctrl-C stops at once. Under submitit a signal is passed to
submitit's handler after the checkpoint (USR2: requeue and resume).
"""
import os
import shlex
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from gan.app import register_plugins
from gan.core.errors import UserError, exit_code, report
from gan.measure.names import HEADLINE, of_generator
from gan.run import cli
from gan.run.lifecycle import COMMAND_ENV
from gan.run.training import train


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    try:
        return train(cfg).get(cfg.get("objective") or of_generator(HEADLINE, cfg.eval.generator))
    except Exception as e:  # noqa: BLE001 - known failures become one line and an exit code
        if exit_code(e) is None or HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # in a sweep, the sweeper reports the job (failed or interrupted) and runs the others
        sys.exit(report(e))


if __name__ == "__main__":
    os.environ.setdefault(COMMAND_ENV, shlex.join(["python", *sys.argv]))  # what a stop message says to rerun
    register_plugins()  # the gan sweeper, in every kind of install
    try:
        sys.argv[1:] = cli.normalize(sys.argv[1:])
    except UserError as e:
        sys.exit(report(e))
    try:
        main()
    except KeyboardInterrupt:  # a second Ctrl-C (gan.run.signals): no waiting for a checkpoint
        print("stopped at once by a second Ctrl-C: the last periodic checkpoint of each running job is kept; "
              "rerun the same command to resume", file=sys.stderr)
        sys.exit(130)

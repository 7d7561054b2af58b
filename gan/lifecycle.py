"""A run's life around the training loop: accepted or refused before anything is written, alive
while it trains (heartbeat), and how it ends (status, closing summary, what continues it).

* ``accept(cfg, path)``: every check that can refuse a command (config values, data, the resume
  policy); raises ``UserError`` and writes nothing. ``train.py``'s Hydra callback calls it before
  Hydra creates a folder; the sweeper calls it for every job before the first starts.
* ``recorded(runs)``: the end status of each run from how the block ended (``Status``).
* ``Progress`` (a bar on a terminal, occasional lines elsewhere), ``Heartbeat``, ``closing_summary``,
  ``resume_hint``.
"""
from __future__ import annotations

import logging
import os
import shlex
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from omegaconf import DictConfig

from gan import metrics as M
from gan.config import COMMAND_ENV
from gan.errors import TrainingDiverged, TrainingInterrupted, UserError
from gan.rundir import RunDir, Status

log = logging.getLogger(__name__)


def accept(cfg: DictConfig, path: str | Path) -> None:
    """Raise ``UserError`` if the run ``cfg`` in ``path`` cannot start; write nothing either way."""
    from gan.validate import validate

    validate(cfg)
    run = RunDir(path)
    if not cfg.train.resume and run.holds_run():
        raise UserError(f"{run.path} already holds a run; train.resume=false would mix two runs in one record: "
                        f"give this run another directory (run_dir=...) or delete that one")


@contextmanager
def recorded(runs: list[RunDir]) -> Iterator[None]:
    """Record in each run's ``status.json`` how the block ended (diverged, interrupted, failed) and re-raise."""
    try:
        yield
    except TrainingDiverged as e:
        _set(runs, Status.DIVERGED, error=str(e))
        raise
    except TrainingInterrupted as e:
        _set(runs, Status.INTERRUPTED, error=str(e))
        raise
    except SystemExit:  # a host's signal handler ended the process; act_on_signals wrote the status
        raise
    except BaseException as e:
        _set(runs, Status.FAILED, error=f"{type(e).__name__}: {e}")
        raise


def _set(runs: list[RunDir], status: Status, **info: Any) -> None:
    for run in runs:
        run.write_status(status, **info)


class Progress:
    """Training progress: a tqdm bar when stderr is a terminal; otherwise (a log file, a batch job) a
    log line every ``share`` of the steps, with the speed and the time left. Off: nothing."""

    def __init__(self, name: str, start: int, total: int, enabled: bool = True, share: float = 0.05):
        from tqdm.auto import tqdm

        self.total, self.start, self.began = total, start, time.time()
        self.bar = tqdm(total=total, initial=start, desc=f"train {name}", dynamic_ncols=True) \
            if enabled and sys.stderr.isatty() else None
        self.lines = enabled and self.bar is None
        self.every = max(1, round(total * share))
        self.info: dict[str, str] = {}

    def update(self, step: int) -> None:
        if self.bar is not None:
            self.bar.update(1)
        elif self.lines and (step % self.every == 0 or step == self.total):
            rate = (step - self.start) / max(time.time() - self.began, 1e-9)
            left = (self.total - step) / rate / 60 if rate > 0 else float("nan")
            extra = "".join(f", {k} {v}" for k, v in self.info.items())
            log.info("step %d/%d (%d%%), %.1f steps/s, %.1f min left%s", step, self.total, 100 * step // self.total,
                     rate, left, extra)

    def show(self, info: dict[str, str]) -> None:
        self.info = info
        if self.bar is not None:
            self.bar.set_postfix(info)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Heartbeat:
    """Refreshes ``status.json`` (time and step) at most every ``every`` seconds, so a sweep's
    summary can tell a live run from one whose process died (``gan.summarize``: stale)."""

    def __init__(self, run: RunDir, every: float = 10.0):
        self.run, self.every, self.last = run, every, time.time()

    def beat(self, step: int) -> None:
        now = time.time()
        if now - self.last >= self.every:
            self.run.write_status(Status.RUNNING, step=step, heartbeat=now)
            self.last = now


def closing_summary(run: RunDir, final: dict[str, Any], seconds: float | None) -> None:
    """Where the run went, what it ended at (its headline numbers), and how to look at it."""
    took = f" in {seconds / 60:.1f} min" if seconds is not None else " (before)"
    numbers = "  ".join(f"{k} {final[k]:.4g}" for k in M.SUMMARY if isinstance(final.get(k), (int, float)))
    shown = shlex.quote(os.path.relpath(run.path) if run.path.resolve().is_relative_to(Path.cwd()) else str(run.path))
    settled = {True: "converged (no trend", False: "NOT converged (a trend", None: "too few evaluations to tell a trend"}
    trend = settled[final.get("converged")] + (f" in {' or '.join(M.CONVERGENCE)} over the headline window)"
                                               if final.get("converged") is not None else "")
    text = (f"finished {shown} at step {final['step']}{took}\n  {M.describe(final)}; {trend}\n  {numbers}\n"
            f"  tensorboard --logdir {shown}")
    log.info("%s", text)  # Hydra's logging shows it on the console and keeps it in train.log


def resume_hint(run: RunDir) -> str:
    """What continues this run: the command that started it (``$GAN_COMMAND``, set by train.py)."""
    command = os.environ.get(COMMAND_ENV)
    if command:
        return f"rerun `{command}` to resume it from there"
    return f"rerun the same command (run_dir={run.path}) to resume it from there"

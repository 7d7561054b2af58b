"""A run's life around the training loop, and the one writer of its ``status.json``.

* ``accept(cfg, run)``: every check that can refuse a command (config values, data, the resume
  policy); raises ``UserError`` and writes nothing. ``train.py``'s Hydra callback calls it before
  Hydra creates a folder; the sweeper calls it for every job before the first starts.
* ``Replica``: one seed of a job and the run directory it writes; ``open_run`` starts its records.
* While it trains: ``Progress`` (a bar on a terminal, occasional lines elsewhere), ``Heartbeat``,
  ``mark_diverged``, ``host_signal_status`` (a scheduler's signal handed to its own handler).
* How it ends: ``recorded`` (diverged, interrupted or failed), ``finish`` (final numbers, HParams,
  ``finished``, the closing summary); ``resume_point`` and ``resume_hint`` say what continues it.
"""
from __future__ import annotations

import logging
import os
import shlex
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch
from omegaconf import MISSING, DictConfig, OmegaConf
from tqdm.auto import tqdm

from gan.core.config import flatten
from gan.core.errors import TrainingDiverged, TrainingInterrupted, UserError
from gan.measure import names as N
from gan.model.networks import num_stages
from gan.run import checkpoint as ckpt
from gan.run import dashboard
from gan.run import records as R
from gan.run.logging import RunLogger
from gan.run.naming import CONTINUABLE_KEYS, PATH_KEYS, among
from gan.run.rundir import RunDir, Status
from gan.run.validate import validate

log = logging.getLogger(__name__)

#: Environment variable with the command that started a run (set by train.py): what a stop message
#: tells the user to rerun to continue it.
COMMAND_ENV = "GAN_COMMAND"


def command() -> str:
    """The command that started this process (``$GAN_COMMAND``, else ``python`` + ``sys.argv``)."""
    return os.environ.get(COMMAND_ENV) or shlex.join(["python", *sys.argv])


def note_command(history: Path, overrides: Sequence[str]) -> None:
    """Append a timestamped line with a later command's overrides to ``history`` (``history.txt``):
    a continued run or sweep keeps the record of the command that started it."""
    history.parent.mkdir(parents=True, exist_ok=True)
    with history.open("a") as f:
        f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {shlex.join(overrides)}\n")


# ---------------------------------------------------------------------------------------------
# Before anything is written


def accept(cfg: DictConfig, run: RunDir) -> None:
    """Raise ``UserError`` if the run ``cfg`` in ``run`` cannot start; write nothing either way. A
    folder that holds a run is continued only by a command of the same run: every setting but
    ``gan.run.naming.CONTINUABLE_KEYS`` equal to the run's saved config (``differences``)."""
    validate(cfg)
    if not run.holds_run():
        return
    if not cfg.train.resume:
        raise UserError(f"{run.path} already holds a run; train.resume=false would mix two runs in one record: "
                        f"give this run another directory (run_dir=...) or delete that one")
    saved = saved_config(run)
    changed = differences(saved, cfg) if saved is not None else []
    if changed:
        shown = "; ".join(f"{k}: {a!r} there, {b!r} here" for k, a, b in changed[:4])
        more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
        raise UserError(f"{run.path} holds a run of other settings ({shown}{more}): give this command a folder of "
                        f"its own (hydra.run.dir=DIR, or hydra.sweep.dir=DIR for a sweep) or delete that one")


def saved_config(run: RunDir) -> DictConfig | None:
    """The config a run in ``run`` was started with: its own (``RunDir.config``), or for a packed job
    that has none yet, its first seed's with the job's ``num_seeds``; None when no config is there."""
    if run.has_config():
        return run.config()
    seeds = run.replica_dirs()
    if not seeds:
        return None
    saved = seeds[0].config()
    saved.num_seeds = len(seeds)
    return saved


def differences(saved: DictConfig, cfg: DictConfig) -> list[tuple[str, Any, Any]]:
    """``(key, saved value, value of cfg)`` for every setting in which ``cfg`` is not the run ``saved``
    describes: every leaf of either config but ``CONTINUABLE_KEYS``, paths (``PATH_KEYS``) compared as
    absolute paths, a setting one of them lacks as ``None``."""
    def leaves(c: DictConfig) -> dict[str, Any]:
        values = flatten(OmegaConf.to_container(c, resolve=True, throw_on_missing=False))
        return {k: _absolute(v) if k in PATH_KEYS else v for k, v in values.items()
                if not among(k, CONTINUABLE_KEYS)}

    old, new = leaves(saved), leaves(cfg)
    return [(k, old.get(k), new.get(k)) for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)]


def _absolute(path: Any) -> Any:
    return str(Path(path).expanduser().resolve()) if isinstance(path, str) and path != MISSING else path


def resume_point(job: RunDir, cfg: DictConfig, device: torch.device) -> tuple[dict[str, Any], Path] | None:
    """The newest readable checkpoint to continue from (``train.resume``; ``accept`` has refused a
    fresh start in a folder that holds a run), or None for a fresh start."""
    if not cfg.train.resume:
        return None
    return ckpt.load_latest(job.checkpoint_dir, map_location=device, warn=log.warning)


# ---------------------------------------------------------------------------------------------
# While it trains


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


@dataclass
class Replica:
    """One seed of a job and the ordinary run directory it writes."""

    index: int
    cfg: DictConfig  # the config of the single run with this seed
    run: RunDir
    logger: RunLogger | None = None
    heartbeat: Heartbeat | None = None
    last: dict[str, Any] = field(default_factory=dict)  # the latest evaluation's numbers
    train_stats: dict[str, float] = field(default_factory=dict)  # the latest logged training statistics


def open_run(replica: Replica, step: int, resumed: bool) -> None:
    """Mark the replica's run running at ``step`` and open its records: TensorBoard and JSONL
    (continued past ``step`` when ``resumed``), the config and dashboard layout of a new run, and
    the resolved ``config.yaml`` (what ``gan.analyze`` rebuilds the model from)."""
    r = replica
    r.run.write_status(Status.RUNNING, step=step, heartbeat=time.time())
    r.logger, r.heartbeat = RunLogger(r.run, resume_step=step if resumed else None), Heartbeat(r.run)
    if not resumed:
        r.logger.text("config", f"```\n{OmegaConf.to_yaml(r.cfg)}\n```")
        r.logger.layout(dashboard.layout(r.cfg.image_size, stages=num_stages(r.cfg.image_size),
                                         detail=r.cfg.eval.get("detail", False)))
    r.run.save_config(r.cfg)


def finished_at(replicas: list[Replica], steps: int) -> tuple[int, list[bool]] | None:
    """``(step, diverged per replica)`` when every replica's ``status.json`` says it ended (finished or
    diverged) and the finished ones reached ``steps``: a run that answers without building anything;
    else None."""
    statuses = [r.run.read_status() for r in replicas]
    if not all(s.get("status") in (Status.FINISHED, Status.DIVERGED) for s in statuses):
        return None
    reached = [s.get("step") for s in statuses if s.get("status") == Status.FINISHED]
    if not reached or any(not isinstance(step, int) or step < steps for step in reached):
        return None
    return max(reached), [s.get("status") == Status.DIVERGED for s in statuses]


def mark_diverged(replica: Replica, step: int) -> None:
    """A replica with a NaN/Inf: its records say so and it trains no further."""
    replica.logger.metrics(step, {N.DIVERGED: True})
    replica.run.write_status(Status.DIVERGED, error=f"NaN/Inf in a loss or weight by step {step}")


def host_signal_status(runs: list[RunDir]) -> Callable[[int, str | None], None]:
    """What ``gan.run.signals.act_on_signals`` records around a scheduler's own signal handler:
    ``interrupted`` with the reason before it runs, ``running`` again if it returns."""
    def record(step: int, reason: str | None) -> None:
        for run in runs:
            if reason is None:
                run.write_status(Status.RUNNING, step=step)
            else:
                run.write_status(Status.INTERRUPTED, step=step, error=reason)
    return record


class Progress:
    """Training progress: a tqdm bar when stderr is a terminal; otherwise (a log file, a batch job) a
    log line every ``share`` of the steps, with the speed and the time left. Off: nothing."""

    def __init__(self, name: str, start: int, total: int, enabled: bool = True, share: float = 0.05):
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


# ---------------------------------------------------------------------------------------------
# How it ends


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
    except SystemExit:  # a host's signal handler ended the process; host_signal_status wrote the status
        raise
    except BaseException as e:
        _set(runs, Status.FAILED, error=f"{type(e).__name__}: {e}")
        raise


def _set(runs: list[RunDir], status: Status, **info: Any) -> None:
    for run in runs:
        run.write_status(status, **info)


def finish(job: RunDir, cfg: DictConfig, replicas: list[Replica], step: int, diverged: list[bool],
           seconds: float | None) -> dict[str, Any]:
    """Each replica's final numbers (HParams, ``finished``, closing summary) and the job's: the
    replica's own for one seed; for several, their mean, and each one's under ``replicas``."""
    finals = []
    window, generator = float(cfg.eval.headline_window), str(cfg.eval.generator)
    summary = N.of_generator(N.SUMMARY, generator)
    for r in replicas:
        if diverged[r.index]:
            continue
        records = r.run.read_metrics()
        last = next((x for x in reversed(records) if R.is_evaluation(x)), {})
        final = {"step": step, **r.train_stats, **R.run_headline(records, window),
                 "converged": R.converged(records, window, generator), **R.last_values(last)}
        if r.logger is not None:  # trained now (not found finished)
            r.logger.hparams(dashboard.hparams(r.cfg), {k: final[k] for k in summary if k in final}, step=step)
            r.logger.close()
            r.run.write_status(Status.FINISHED, step=step, converged=final["converged"])
        closing_summary(r.run, final, seconds, generator)
        finals.append(final)
    if len(replicas) == 1:
        return finals[0]
    keys = set.intersection(*(set(f) for f in finals))
    mean = {k: sum(f[k] for f in finals) / len(finals) for k in keys if isinstance(finals[0][k], (int, float))}
    return {**mean, "step": step, "replicas": finals}


def closing_summary(run: RunDir, final: dict[str, Any], seconds: float | None, generator: str = "raw") -> None:
    """Where the run went, what it ended at (its headline numbers), and how to look at it."""
    took = f" in {seconds / 60:.1f} min" if seconds is not None else " (before)"
    numbers = "  ".join(f"{k} {final[k]:.4g}" for k in N.of_generator(N.SUMMARY, generator)
                        if isinstance(final.get(k), (int, float)))
    shown = shlex.quote(os.path.relpath(run.path) if run.path.resolve().is_relative_to(Path.cwd()) else str(run.path))
    settled = {True: "converged (no trend", False: "NOT converged (a trend", None: "too few evaluations to tell a trend"}
    trend = settled[final.get("converged")] + (f" in {' or '.join(N.of_generator(N.CONVERGENCE, generator))} over the "
                                               "headline window)" if final.get("converged") is not None else "")
    text = (f"finished {shown} at step {final['step']}{took}\n  {R.describe(final, generator=generator)}; {trend}\n"
            f"  {numbers}\n"
            f"  tensorboard --logdir {shown}")
    log.info("%s", text)  # Hydra's logging shows it on the console and keeps it in train.log


def resume_hint(run: RunDir) -> str:
    """What continues this run: the command that started it (``$GAN_COMMAND``, set by train.py)."""
    if os.environ.get(COMMAND_ENV):
        return f"rerun `{os.environ[COMMAND_ENV]}` to resume it from there"
    return f"rerun the same command (run_dir={run.path}) to resume it from there"

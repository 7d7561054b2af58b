"""What a sweep needs beyond Hydra's basic sweeper: readable job names, every job checked before any
starts, and a one-line report of the jobs that failed. Used by the ``gan`` sweeper
(``hydra_plugins/gan_sweeper``), the default of ``conf/train.yaml``.

* A job directory is named by what varies in the sweep, readable first (``gan.run.naming.job_name``):
  ``3_upsampler=resize_nearest,seed=1``; constant overrides stay in ``.hydra/overrides.yaml``.
* The sweep directory is resolved once, from the command's overrides (``multirun/quick``), so the
  same command finds the same jobs again: rerunning an interrupted sweep resumes it.
* ``hydra.sweeper.pack_seeds=true``: jobs that differ only in consecutive seeds become one job
  with ``num_seeds`` (``0_upsampler=transposed,seeds=0-3``): one process trains all of them per step.
"""
from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import joblib
from omegaconf import OmegaConf, open_dict

from gan.core.config import override_key, override_value, value_of
from gan.core.errors import UserError, exit_code
from gan.run import lifecycle
from gan.run.naming import job_name
from gan.run.rundir import RunDir


def quote(value: str) -> str:
    """A Hydra override value as a quoted string (any characters, commas and '=' included)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class Job:
    """One job of a sweep: its number and overrides, and the name of its directory."""

    num: int
    overrides: tuple[str, ...]
    name: str

    def with_dirs(self, sweep_dir: str) -> list[str]:
        """The job's overrides plus the pinned sweep directory and its own subdirectory; a job whose
        folder already holds a run keeps the ``.hydra/`` record of the command that started it."""
        keep = ["hydra.output_subdir=null"] if RunDir.job(sweep_dir, self.name).holds_run() else []
        return [*self.overrides, f"hydra.sweep.dir={quote(sweep_dir)}", f"hydra.sweep.subdir={quote(self.name)}", *keep]


def swept_keys(jobs: Sequence[Sequence[str]]) -> list[str]:
    """Keys whose value differs between jobs, in the order of the first job's overrides."""
    values: dict[str, set[str]] = {}
    for job in jobs:
        for o in job:
            values.setdefault(override_key(o), set()).add(override_value(o))
    return [k for k, v in values.items() if len(v) > 1]


def pack_seeds(jobs: Sequence[Sequence[str]]) -> list[list[str]]:
    """Jobs that differ only in their seed, one job per run of consecutive seeds: ``seed=S
    num_seeds=K`` trains S .. S+K-1 in one process. Order kept by first appearance."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for job in jobs:
        rest = tuple(o for o in job if override_key(o) not in ("seed", "num_seeds"))
        if int(value_of(job, "num_seeds", "1")) > 1:  # already packed by hand
            groups.setdefault(tuple(job), [])
            continue
        groups.setdefault(rest, []).append(int(value_of(job, "seed", "0")))
    out = []
    for rest, seeds in groups.items():
        if not seeds:
            out.append(list(rest))
            continue
        seeds = sorted(set(seeds))
        start = prev = seeds[0]
        for s in [*seeds[1:], None]:
            if s is not None and s == prev + 1:
                prev = s
                continue
            out.append([*rest, f"seed={start}"] + ([f"num_seeds={prev - start + 1}"] if prev > start else []))
            if s is not None:
                start = prev = s
    return out


def plan(jobs: Sequence[Sequence[str]], pack: bool = False) -> list[Job]:
    jobs = pack_seeds(jobs) if pack else [list(j) for j in jobs]
    swept = swept_keys(jobs)
    return [Job(i, tuple(job), job_name(i, job, swept)) for i, job in enumerate(jobs)]


def failure_report(job: Job, error: BaseException) -> tuple[str, int]:
    """One line for a failed job and the exit code its failure has in a single run (1 for a bug)."""
    code = exit_code(error)
    return f"job {job.name}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}", code or 1


def validation_error(job: Job, cfg: Any) -> str | None:
    """Why a composed job config (with its ``hydra`` node) cannot start, in one line, or None."""
    task = cfg.copy()
    with open_dict(task):
        del task["hydra"]
    try:
        lifecycle.accept(task, RunDir.of(cfg))
    except UserError as e:
        return f"job {job.name}: {e}"
    return None


def record_sweep(sweep_dir: Path, config: Any) -> None:
    """``multirun.yaml`` in a new sweep folder; a sweep that continues keeps the record of the
    command that started it, and the overrides of each later one go to ``history.txt``."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    record = sweep_dir / "multirun.yaml"
    if not record.exists():
        OmegaConf.save(config, record)
        return
    with (sweep_dir / "history.txt").open("a") as f:
        f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {shlex.join(config.hydra.overrides.task)}\n")


def workers(launcher: Any) -> int | None:
    """How many jobs a launcher runs at once (joblib's ``n_jobs``; -1: every core; Hydra's basic
    launcher, one after another in this process: 1), None for one that takes any number. A sweep
    launches that many at a time, so that after a stop signal no further job starts."""
    n = launcher.get("n_jobs") if hasattr(launcher, "get") else None
    if n is None:
        target = str(launcher.get("_target_", "")) if hasattr(launcher, "get") else ""
        return 1 if target.endswith("BasicLauncher") else None
    return joblib.cpu_count() + 1 + n if n < 0 else int(n)


def interrupted_line(total: int, stopped: Sequence[Job], sweep_dir: str) -> str:
    """The one line a stopped sweep ends with: what was saved and the command that continues it."""
    return (f"interrupted: {len(stopped)} running job(s) saved a checkpoint ({', '.join(j.name for j in stopped)}); "
            f"rerun `{lifecycle.command()}` to resume the sweep in {sweep_dir} (finished jobs are skipped)")

"""What a sweep needs beyond Hydra's basic sweeper: readable job names, every job checked before any
starts, and a one-line report of the jobs that failed. Used by the ``gan`` sweeper
(``hydra_plugins/gan_sweeper``), the default of ``conf/train.yaml``.

* A job directory is named by what varies in the sweep, readable first:
  ``3_upsampler=resize_nearest,seed=1``; constant overrides stay in ``.hydra/overrides.yaml``.
* The sweep directory is resolved once, from the command's overrides (``multirun/quick``), so the
  same command finds the same jobs again: rerunning an interrupted sweep resumes it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from gan.config import override_key, short_name


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
        """The job's overrides plus the pinned sweep directory and its own subdirectory."""
        return [*self.overrides, f"hydra.sweep.dir={quote(sweep_dir)}", f"hydra.sweep.subdir={quote(self.name)}"]


def swept_keys(jobs: Sequence[Sequence[str]]) -> list[str]:
    """Keys whose value differs between jobs, in the order of the first job's overrides."""
    values: dict[str, set[str]] = {}
    for job in jobs:
        for o in job:
            values.setdefault(override_key(o), set()).add(o.split("=", 1)[1] if "=" in o else "")
    return [k for k, v in values.items() if len(v) > 1]


def job_name(num: int, overrides: Sequence[str], swept: Sequence[str]) -> str:
    """``3_upsampler=resize_nearest,seed=1``: the job number, then the swept overrides; shortened
    with a hash after them only if it would be too long for a folder name."""
    kept = [o.lstrip("+") for o in overrides if override_key(o) in swept]
    return short_name(",".join([str(num), *kept]).replace(",", "_", 1), limit=120)


def plan(jobs: Sequence[Sequence[str]]) -> list[Job]:
    swept = swept_keys(jobs)
    return [Job(i, tuple(job), job_name(i, job, swept)) for i, job in enumerate(jobs)]


def failure_report(job: Job, error: BaseException) -> tuple[str, int]:
    """One line for a failed job and the exit code its failure has in a single run (1 for a bug)."""
    from gan.errors import exit_code

    code = exit_code(error)
    return f"job {job.name}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}", code or 1


def validation_error(job: Job, cfg: Any) -> str | None:
    """The one-line config problem of a composed job config (with its ``hydra`` node), or None."""
    from omegaconf import open_dict

    from gan.errors import ConfigError
    from gan.validate import validate

    task = cfg.copy()
    with open_dict(task):
        del task["hydra"]
    try:
        validate(task)
    except ConfigError as e:
        return f"job {job.name}: {e}"
    return None

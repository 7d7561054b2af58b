"""A sweep's runs read back: each run's records, status and failure (``Job``), the folders they come from, and
the one way runs are grouped (by the settings that vary, minus the seed)."""
from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Callable, Mapping

from omegaconf import OmegaConf

from gan.core.config import flatten, load_preset
from gan.measure import metrics as M
from gan.measure import names as N
from gan.run import records as R
from gan.run.rundir import Liveness, RunDir, Status
from gan.study.failures import DEFAULT_RULE, failure
from gan.study.stats import estimate

#: Keys that never define a group: the seed varies within a group; paths differ per job.
IGNORED_KEYS = ("seed", "run_dir", "train.progress", "num_seeds")


class SummaryError(ValueError):
    """Nothing to summarise at the given path."""


@dataclass
class Job:
    path: Path
    config: dict[str, Any]
    status: Liveness
    records: list[dict[str, Any]] = field(default_factory=list)

    last_only: bool = False  # the last evaluation instead of the mean over the headline window
    rule: str = DEFAULT_RULE  # the failure rule's version (gan.study.failures.RULES)

    @property
    def finished(self) -> bool:
        return self.status.status == Status.FINISHED

    @property
    def last_record(self) -> dict[str, Any]:
        """The last evaluation record (values as written: numbers, or null for a non-finite one)."""
        last = next((r for r in reversed(self.records) if R.is_evaluation(r)), {})
        return {k: v for k, v in last.items() if k not in ("step", N.DIVERGED)}

    @property
    def first_evaluation(self) -> dict[str, Any]:
        """The evaluation record at step 0 (before any training), or {}."""
        return next((r for r in self.records if r.get("step") == 0 and R.is_evaluation(r)), {})

    @property
    def numbers(self) -> dict[str, float]:
        """Every metric of the last record: the run's headline value (``gan.run.records.run_headline``),
        NaN where it has no finite one (computed once per window)."""
        cache = self.__dict__.setdefault("_numbers", {})
        if self.window not in cache:
            headline = R.run_headline(self.records, self.window)
            cache[self.window] = {k: headline.get(k, math.nan) for k, v in self.last_record.items()
                                  if not isinstance(v, bool)}
        return cache[self.window]

    @cached_property
    def headline_window(self) -> float:
        """``eval.headline_window`` of the run's config (the default preset's where it lacks one)."""
        window = self.config.get("eval.headline_window")
        return default_window() if window is None else float(window)

    @property
    def window(self) -> float:
        """The window the run's numbers average over: its headline window, or 0 with ``--last``."""
        return 0.0 if self.last_only else self.headline_window

    @cached_property
    def generator(self) -> str:
        """``eval.generator`` of the run's config: whose numbers are its headline (raw or ema)."""
        return str(self.config.get("eval.generator", "raw"))

    @cached_property
    def plateaus(self) -> list[R.Plateau]:
        """``gan.run.records.plateaus`` over the run's headline window: computed once per job (a
        least-squares fit per metric), read per group, comparison and movement table."""
        return R.plateaus(self.records, self.headline_window, self.generator)

    def trend(self, metric: str) -> R.Plateau | None:
        """The change of ``metric`` over the run's headline window (``gan.run.records.plateau``), cached."""
        cache = self.__dict__.setdefault("_trends", {})
        if metric not in cache:
            cache[metric] = R.plateau(self.records, self.headline_window, metric)
        return cache[metric]

    def movement(self, metric: str) -> float:
        """How far ``metric`` may still move in one more headline window: the larger end of the 95%
        interval of its change over the last one, for a run with a trend in it; else 0."""
        p = self.trend(metric)
        return max(abs(p.low), abs(p.high)) if p is not None and not p.flat else 0.0

    @property
    def converged(self) -> bool | None:
        """``gan.run.records.converged``: no trend in any of ``plateaus`` (None: too few evaluations)."""
        return R.all_flat(self.plateaus)

    def failure(self, generator: str | None = None) -> str | None:
        """Why the run failed by the rule of ``gan.study.failures`` for ``generator`` (default: its own), or None."""
        generator = generator or self.generator
        cache = self.__dict__.setdefault("_failures", {})
        if generator not in cache:
            cache[generator] = failure(self.records, self.headline_window, generator,
                                       diverged=self.status.status == Status.DIVERGED, rule=self.rule)
        return cache[generator]

    @property
    def ended(self) -> bool:
        """Finished or diverged: a run that counts in a group's failure rate."""
        return self.status.status in (Status.FINISHED, Status.DIVERGED)

    def usable(self, generator: str | None = None) -> bool:
        """Finished and not failed (by ``generator``'s numbers): a run whose numbers enter the statistics."""
        return self.finished and self.failure(generator) is None

    @property
    def final(self) -> dict[str, float]:
        """The finite headline numbers."""
        return {k: v for k, v in self.numbers.items() if math.isfinite(v)}


@cache
def default_window() -> float:
    """``eval.headline_window`` of the default eval preset (for records whose config lacks it)."""
    return float(load_preset("eval", "default").headline_window)


def find_jobs(sweep_dir: Path) -> list[Job]:
    """Every job directory under ``sweep_dir`` (or ``sweep_dir`` itself if it is one)."""
    jobs = []
    for run in RunDir.find(sweep_dir):
        try:
            config = flatten(OmegaConf.to_container(run.config(), resolve=False))
            config |= {f"choice.{k}": v for k, v in run.hydra_choices().items()}
        except Exception as e:  # noqa: BLE001 - a broken config is reported, not fatal
            jobs.append(Job(run.path, {}, Liveness(Status.UNREADABLE, type(e).__name__)))
            continue
        jobs.append(Job(run.path, config, run.liveness(), run.read_metrics()))
    return jobs


def load_jobs(sweep_dirs: list[Path]) -> list[Job]:
    """The jobs of one or several sweep folders (seeds added in a second folder join their groups);
    ``SummaryError`` for a missing or empty folder or a run found twice (``check_distinct``)."""
    jobs = []
    for sweep_dir in sweep_dirs:
        if not sweep_dir.is_dir():
            raise SummaryError(f"{sweep_dir}: no such folder")
        found = find_jobs(sweep_dir)
        if not found:
            raise SummaryError(f"{sweep_dir}: no job directories (no config.yaml or .hydra/config.yaml below it)")
        jobs += found
    check_distinct(jobs)
    return jobs


def check_distinct(jobs: list[Job]) -> None:
    """Raise ``SummaryError`` when two runs have the same settings (seed included): one seed counted
    twice, e.g. a seed added again in a second sweep folder."""
    seen: dict[str, Path] = {}
    for j in jobs:
        if not j.config:
            continue
        key = repr(sorted((k, str(v)) for k, v in j.config.items() if k != "run_dir"))
        if key in seen:
            raise SummaryError(f"{seen[key]} and {j.path} are the same run (the same settings and seed); "
                               "summarize each run once")
        seen[key] = j.path


def varying_keys(jobs: list[Job]) -> list[str]:
    """Config keys whose values differ between jobs, minus the ignored ones and minus the keys of a
    config group that its varying choice already determines (``upsampler.kernel_size`` is implied
    by ``choice.upsampler`` unless it varies within one choice)."""
    keys = sorted({k for j in jobs for k in j.config})
    keys = [k for k in keys if k not in IGNORED_KEYS and len({str(j.config.get(k)) for j in jobs}) > 1]
    choices = [k for k in keys if k.startswith("choice.")]

    def determined(key: str, choice: str) -> bool:
        seen: dict[str, str] = {}
        return all(seen.setdefault(str(j.config.get(choice)), str(j.config.get(key))) == str(j.config.get(key))
                   for j in jobs)

    return [k for k in keys if not any(k.startswith(c[len("choice."):] + ".") and determined(k, c) for c in choices)]


def entering(done: list[Job], metric: str) -> tuple[list[Job], list[str]]:
    """The finished jobs whose ``metric`` enters its statistics, and the reasons for those whose
    does not (``"3_seed=2: checkerboard/p2 non-finite"``)."""
    used, excluded = [], []
    for j in done:
        if metric not in j.numbers:
            continue
        if math.isfinite(j.numbers[metric]):
            used.append(j)
        else:
            excluded.append(f"{j.path.name}: {metric} non-finite")
    return used, excluded


def metric_values(done: list[Job], metric: str) -> tuple[list[float], list[str]]:
    """The values of ``metric`` over the jobs ``entering`` its statistics, and the reasons for the rest."""
    used, excluded = entering(done, metric)
    return [j.numbers[metric] for j in used], excluded


def upsampler_key(keys: list[str]) -> str | None:
    """The varying key that names the upsampler (the groups a comparison's reference is found by)."""
    return next((k for k in keys if k in ("choice.upsampler", "upsampler._target_")), None)


def group_label(values: Mapping[str, Any], keys: list[str]) -> str:
    """A group's label: its values of the varying ``keys`` (``transposed, 0.0002``), from a run's config
    or a summary row; the one label of a group in tables and figures."""
    return ", ".join(str(values.get(k)) for k in keys)


def groups(keys: list[str], jobs: list[Job], keep: Callable[[Job], bool] = lambda j: True) -> dict[str, list[Job]]:
    """The runs that ``keep`` keeps, by group (``group_label``), in the order of the labels: the one
    way runs are grouped here."""
    out: dict[str, list[Job]] = defaultdict(list)
    for j in jobs:
        if keep(j):
            out[group_label(j.config, keys)].append(j)
    return dict(sorted(out.items()))


def grouped(keys: list[str], jobs: list[Job], generator: str | None = None) -> dict[str, list[Job]]:
    """The runs that did not fail (by ``generator``'s numbers; default: each run's own), by group."""
    return groups(keys, jobs, lambda j: j.usable(generator))


def last_step(jobs: list[Job]) -> int:
    return max((r["step"] for j in jobs for r in j.records if R.is_evaluation(r)), default=0)


def common_generator(jobs: list[Job]) -> str:
    """The ``eval.generator`` of the finished runs (``raw`` unless all say ``ema``)."""
    found = {j.generator for j in jobs if j.finished}
    return found.pop() if len(found) == 1 else "raw"


#: Where ``progress_table`` and the curves report the headline: shares of the training steps.
PROGRESS = (0.25, 0.5, 1.0)


def curve(members: list[Job], metric: str) -> tuple | None:
    """(steps, mean, low, high, n) of ``metric`` over the seeds in ``members``, at the steps every one
    of them evaluated (``gan.study.stats.estimate``: geometric for positive quantities)."""
    runs = [{r["step"]: r[metric] for r in j.records if isinstance(r.get(metric), (int, float))} for j in members]
    runs = [c for c in runs if c]
    if not runs:
        return None
    steps = sorted(set.intersection(*(set(c) for c in runs)))
    info = M.find(metric)
    est = [estimate([c[t] for c in runs], positive=bool(info and info.positive)) for t in steps]
    return steps, [e.center for e in est], [e.low for e in est], [e.high for e in est], len(runs)


def _value(v: Any) -> float:
    """A record's number as a float, NaN for null (a non-finite value) or a missing one."""
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def stage_depth_names(jobs: list[Job], generator: str = "raw") -> list[tuple[int, int]]:
    """The (stage, period) pairs whose total depth the runs logged (``stageI/checkerboard_depth/pP``)."""
    logged = {k for j in jobs for r in j.records[:1] for k in r}
    found = {(int(m.group(1)), int(m.group(2))) for k in logged
             if (m := re.fullmatch(re.escape(N.GENERATORS[generator]) + r"stage(\d+)/" + re.escape(N.DEPTH).replace(
                 r"\{p\}", r"(\d+)"), k))}
    return sorted(found)

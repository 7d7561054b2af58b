"""``python -m gan.summarize SWEEP_DIR [--out DIR] [--reference NAME]``: one table over a sweep, with
confidence intervals, and a comparison that says which differences are settled.

Reads every run directory under SWEEP_DIR (any folder holding ``config.yaml`` or
``.hydra/config.yaml``; the seeds of a packed job each have their own), takes each run's headline
numbers (the mean over the evaluations in the last ``eval.headline_window`` of its steps; ``--last``:
the last evaluation), groups the runs by their configuration minus the seed, and writes
``summary.csv``, ``summary.md`` (per metric: the mean over seeds with its 95% t-interval; for
positive quantities such as CE, SWD and spectral distance the geometric mean with the interval on
the log scale, so the CE and excess-dB columns come from the same aggregate), ``summary_bars.png``
and ``summary_curves.png`` (the compared metrics and SWD vs step, mean over seeds with a 95% band).
Each group says how many of its runs converged (no trend in SWD or the headline over the headline
window); a lower or higher difference that the runs' remaining movement could undo is "undecided
(still moving)" (``gan.stats.settle``).
The headline at 25%, 50% and 100% of training is tabled, and so is how far each run that has not
converged still moves (the change over the window against the group's spread over seeds).
Jobs that failed, diverged or are still running are listed with their status, never dropped; a
non-finite value left out of a mean is listed with its reason. ``comparison.csv`` and the comparison in
``summary.md`` and ``summary_comparison.png``: every group against ``--reference`` (default:
``transposed``) on the calibrated artifact metrics, with Welch's 95% interval of the difference,
Holm-adjusted p-values, a verdict (lower, higher, not settled) and, where not settled, the seeds
per group that the observed spread would need.
"""
from __future__ import annotations

import argparse
import csv
import math
import re
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Callable

from omegaconf import OmegaConf

from gan import metrics as M
from gan import names as N
from gan import records as R
from gan.config import flatten, load_preset
from gan.errors import report
from gan.failures import DEFAULT_RULE, RULES, failure
from gan.plots import comparison_figure, generator_stages_figure, save_figure, summary_bars, training_curves
from gan.rundir import Liveness, RunDir, Status
from gan.stats import STILL_MOVING, Comparison, Estimate, compare, estimate, rate, rates_differ, settle

#: Keys that never define a group: the seed varies within a group; paths differ per job.
IGNORED_KEYS = ("seed", "run_dir", "train.progress", "num_seeds")

#: A group's headline is precise enough when its 95% half-width over seeds is at most
#: max(PRECISION_POINTS, PRECISION_SHARE x its mean).
PRECISION_POINTS, PRECISION_SHARE = 0.005, 0.25


class SummaryError(ValueError):
    """Nothing to summarise at the given path."""


@dataclass
class Job:
    path: Path
    config: dict[str, Any]
    status: Liveness
    records: list[dict[str, Any]] = field(default_factory=list)

    last_only: bool = False  # the last evaluation instead of the mean over the headline window
    rule: str = DEFAULT_RULE  # the failure rule's version (gan.failures.RULES)

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
        """Every metric of the last record: the run's headline value (``gan.records.run_headline``),
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
        """``gan.records.plateaus`` over the run's headline window: computed once per job (a
        least-squares fit per metric), read per group, comparison and movement table."""
        return R.plateaus(self.records, self.headline_window, self.generator)

    def trend(self, metric: str) -> R.Plateau | None:
        """The change of ``metric`` over the run's headline window (``gan.records.plateau``), cached."""
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
        """``gan.records.converged``: no trend in any of ``plateaus`` (None: too few evaluations)."""
        return R.all_flat(self.plateaus)

    def failure(self, generator: str | None = None) -> str | None:
        """Why the run failed by the rule of ``gan.failures`` for ``generator`` (default: its own), or None."""
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


def summarize(jobs: list[Job], metrics: list[str] | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows of the summary table: one per group of jobs (unfinished ones listed in it). Per metric:
    its estimate over seeds (``M``, ``M ci_low``, ``M ci_high``), the number of values behind it
    (``M n``) and whether it is a geometric mean (``M scale``: log or linear)."""
    keys = varying_keys(jobs) or ["upsampler._target_"]
    finished = [j for j in jobs if j.finished]
    all_metrics = metrics or sorted({k for j in finished for k in j.last_record})
    # a metric no run has a finite value of (a period an image size has no room for) is not a number here
    all_metrics = [m for m in all_metrics if any(math.isfinite(j.numbers.get(m, math.nan)) for j in finished)]
    rows = []
    for members in groups(keys, jobs).values():
        done = [j for j in members if j.usable()]
        row: dict[str, Any] = {k: str(members[0].config.get(k)) for k in keys}
        row["n"] = len(done)
        row["failed"] = "; ".join(f"{j.path.name}: {j.failure()}" for j in members if j.ended and j.failure())
        row["seeds"] = " ".join(sorted(str(j.config.get("seed")) for j in done))
        others = sorted(f"{j.path.name}: {j.status}" for j in members if not j.finished)
        flags = [j.converged for j in done]
        row["converged"] = f"{sum(f is True for f in flags)}/{len(done)}" + \
            (f" ({sum(f is None for f in flags)} too short to tell)" if any(f is None for f in flags) else "")
        row["not finished"] = "; ".join(others)
        excluded_all = []
        for m in all_metrics:
            info = M.find(m)
            values, excluded = metric_values(done, m)
            e = estimate(values, positive=bool(info and info.positive))
            row[m], row[f"{m} ci_low"], row[f"{m} ci_high"] = e.center, e.low, e.high
            row[f"{m} n"], row[f"{m} scale"] = e.n, "log" if e.log else "linear"
            excluded_all += excluded
        row["excluded"] = "; ".join(excluded_all)
        rows.append(row)
    return keys, rows


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _fmt(row: dict[str, Any], m: str) -> str:
    e = Estimate(row[m], row[f"{m} ci_low"], row[f"{m} ci_high"], row[f"{m} n"], row[f"{m} scale"] == "log")
    text = estimate_text(m, e)
    return text if e.n == row["n"] or text == "n/a" else f"{text} (n={e.n})"


def write_markdown(path: Path, keys: list[str], rows: list[dict[str, Any]], metrics: list[str],
                   generator: str = "raw") -> None:
    head = [*(k.removeprefix("choice.") for k in keys), "n", "converged", *metrics, "failed", "not finished", "excluded"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [str(r[k]) for k in keys] + [str(r["n"]), r["converged"]]
        cells += [_fmt(r, m) for m in metrics]
        cells += [r["failed"] or "", r["not finished"] or "", r["excluded"] or ""]
        lines.append("| " + " | ".join(cells) + " |")
    note = ("\nEach run's numbers: the mean over its evaluations in the last part of training (eval.headline_window; "
            "--last: its last evaluation). n = finished seeds that did not fail (gan.failures; failed runs are listed, "
            "with why, and counted in the failure table; a metric with fewer values says so). Positive "
            "quantities (CE, SWD, spectral distance): geometric mean over seeds [95% t-interval on the log "
            "scale]; dB and other differences: mean ± half-width of the 95% t-interval (scipy.stats). The "
            "excess in dB is the mean of per-seed dB, i.e. the same geometric aggregate as its CE column. "
            "Depths: a percentage of the images' contrast. converged: runs in which neither "
            f"{' nor '.join(N.of_generator(N.CONVERGENCE, generator))} shows a trend over the headline window (the "
            "95% interval of its change there holds 0); a ranking is settled only when it survives the movement "
            "the runs still show.\n")
    path.write_text("\n".join(lines) + "\n" + note)


def label_of(row: dict[str, Any], keys: list[str]) -> str:
    return ", ".join(f"{k.removeprefix('choice.')}={row[k]}" for k in keys)


def plot_bars(path: Path, keys: list[str], rows: list[dict[str, Any]], metrics: list[str]) -> None:
    rows = [r for r in rows if r["n"] > 0]
    fig = summary_bars([label_of(r, keys) for r in rows], metrics,
                       {m: [r[m] for r in rows] for m in metrics},
                       {m: [r[f"{m} ci_low"] for r in rows] for m in metrics},
                       {m: [r[f"{m} ci_high"] for r in rows] for m in metrics},
                       {m: all(r[f"{m} scale"] == "log" for r in rows) for m in metrics})
    save_figure(fig, path, dpi=110)


#: Where ``progress_table`` and the curves report the headline: shares of the training steps.
PROGRESS = (0.25, 0.5, 1.0)


def curve(members: list[Job], metric: str) -> tuple | None:
    """(steps, mean, low, high, n) of ``metric`` over the seeds in ``members``, at the steps every one
    of them evaluated (``gan.stats.estimate``: geometric for positive quantities)."""
    runs = [{r["step"]: r[metric] for r in j.records if isinstance(r.get(metric), (int, float))} for j in members]
    runs = [c for c in runs if c]
    if not runs:
        return None
    steps = sorted(set.intersection(*(set(c) for c in runs)))
    info = M.find(metric)
    est = [estimate([c[t] for c in runs], positive=bool(info and info.positive)) for t in steps]
    return steps, [e.center for e in est], [e.low for e in est], [e.high for e in est], len(runs)


def upsampler_key(keys: list[str]) -> str | None:
    """The varying key that names the upsampler (the groups a comparison's reference is found by)."""
    return next((k for k in keys if k in ("choice.upsampler", "upsampler._target_")), None)


def group_label(job: Job, keys: list[str]) -> str:
    """A run's group: its values of the varying ``keys`` (``transposed, 0.0002``)."""
    return ", ".join(str(job.config.get(k)) for k in keys)


def groups(keys: list[str], jobs: list[Job], keep: Callable[[Job], bool] = lambda j: True) -> dict[str, list[Job]]:
    """The runs that ``keep`` keeps, by group (``group_label``), in the order of the labels: the one
    way runs are grouped here."""
    out: dict[str, list[Job]] = defaultdict(list)
    for j in jobs:
        if keep(j):
            out[group_label(j, keys)].append(j)
    return dict(sorted(out.items()))


def grouped(keys: list[str], jobs: list[Job], generator: str | None = None) -> dict[str, list[Job]]:
    """The runs that did not fail (by ``generator``'s numbers; default: each run's own), by group."""
    return groups(keys, jobs, lambda j: j.usable(generator))


def last_step(jobs: list[Job]) -> int:
    return max((r["step"] for j in jobs for r in j.records if R.is_evaluation(r)), default=0)


def plot_curves(path: Path, keys: list[str], jobs: list[Job], metrics: tuple[str, ...],
                fallback: tuple[str, ...] = N.SUMMARY) -> None:
    """Each metric against the training step per group (mean over seeds, 95% band), the points of
    the progress table marked, depths in % on a symmetric log axis, the headline window zoomed; the
    first two logged ``fallback`` metrics if none of ``metrics`` was logged."""
    groups = grouped(keys, jobs)
    logged = {k for j in jobs for r in j.records for k in r}
    metrics = tuple(m for m in metrics if m in logged) or tuple(m for m in fallback if m in logged)[:2]
    curves = {m: {label: c for label, members in groups.items() if (c := curve(members, m))} for m in metrics}
    curves = {m: c for m, c in curves.items() if c}
    if curves:
        end = last_step(jobs)
        window = max((j.headline_window for j in jobs), default=0.0)
        percent = [m for m in curves if (info := M.find(m)) is not None and info.percent]
        save_figure(training_curves(curves, [round(s * end) for s in PROGRESS], percent=percent,
                                    window=(end * (1 - window), end) if window > 0 else None), path, dpi=110)


def progress_table(keys: list[str], jobs: list[Job], metric: str) -> str:
    """The headline of each group as if training had stopped at each of ``PROGRESS`` (each run's
    records up to that step, its headline window scaled with it): mean ± 95% half-width over seeds."""
    end = last_step(jobs)
    if end == 0:
        return ""
    head = f"| group | {' | '.join(f'{round(100 * s)}% (step {round(s * end)})' for s in PROGRESS)} |"
    lines = [f"`{metric}` at points of training (each run's headline up to that step):", "", head,
             "|---" * (len(PROGRESS) + 1) + "|"]
    for label, members in grouped(keys, jobs).items():
        cells = []
        for share in PROGRESS:
            values = [R.run_headline([r for r in j.records if r.get("step", 0) <= share * end], j.window).get(metric)
                      for j in members]
            cells.append(_estimate_text(metric, [v for v in values if v is not None]))
        lines.append(f"| {label} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def _value(v: Any) -> float:
    """A record's number as a float, NaN for null (a non-finite value) or a missing one."""
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def common_generator(jobs: list[Job]) -> str:
    """The ``eval.generator`` of the finished runs (``raw`` unless all say ``ema``)."""
    found = {j.generator for j in jobs if j.finished}
    return found.pop() if len(found) == 1 else "raw"


def generators_table(keys: list[str], jobs: list[Job]) -> str:
    """The trained generator beside its weight average, per group (runs that logged both, train.ema > 0):
    the headline and SWD (mean ± 95% half-width over seeds) and how many runs converged by each."""
    both = [j for j in jobs if j.finished and N.of_generator(N.HEADLINE, "ema") in j.last_record]
    if not both:
        return ""
    lines = ["The trained generator (raw) and its exponential moving average (ema), per group: the headline, SWD, "
             "and the runs that converged by each one's numbers:", "",
             "| group | depth raw | depth ema | SWD raw | SWD ema | converged raw | converged ema |",
             "|---|---|---|---|---|---|---|"]
    for label, members in grouped(keys, both).items():
        cells = []
        for metric in (N.HEADLINE, N.of_generator(N.HEADLINE, "ema"), N.SWD, N.of_generator(N.SWD, "ema")):
            cells.append(_estimate_text(metric, [j.numbers.get(metric, math.nan) for j in members]))
        for generator in N.GENERATORS:
            flags = [R.converged(j.records, j.headline_window, generator) for j in members]
            cells.append(f"{sum(f is True for f in flags)}/{len(flags)}")
        lines.append(f"| {label} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def units(metric: str) -> tuple[float, str]:
    """How ``metric``'s numbers are shown, (scale, unit): depths (fractions of the contrast) in %."""
    info = M.find(metric)
    return (100.0, "%") if info is not None and info.percent else (1.0, "")


def estimate_text(metric: str, e: Estimate) -> str:
    """The one format of an estimate over seeds: ``12.3% ± 1.5`` (depths, in points of %), ``91.6 ± 12``
    (mean ± 95% half-width) or ``0.21 [0.15, 0.3]`` (a geometric mean and its interval); ``n/a``."""
    if math.isnan(e.center):
        return "n/a"
    scale, unit = units(metric)
    text = f"{scale * e.center:.3g}{unit}"
    if math.isnan(e.low):
        return text
    if e.log and not unit:
        return f"{text} [{e.low:.2g}, {e.high:.2g}]"
    return f"{text} ± {scale * e.half_width:.2g}"


def _estimate_text(metric: str, values: list[float]) -> str:
    """``estimate_text`` of the finite ``values`` (geometric for positive quantities)."""
    info = M.find(metric)
    return estimate_text(metric, estimate([v for v in values if math.isfinite(v)], positive=bool(info and info.positive)))


def stage_depth_names(jobs: list[Job], generator: str = "raw") -> list[tuple[int, int]]:
    """The (stage, period) pairs whose total depth the runs logged (``stageI/checkerboard_depth/pP``)."""
    logged = {k for j in jobs for r in j.records[:1] for k in r}
    found = {(int(m.group(1)), int(m.group(2))) for k in logged
             if (m := re.fullmatch(re.escape(N.GENERATORS[generator]) + r"stage(\d+)/" + re.escape(N.DEPTH).replace(
                 r"\{p\}", r"(\d+)"), k))}
    return sorted(found)


def generator_stage_tables(keys: list[str], jobs: list[Job], generator: str = "raw") -> str:
    """Per group, the depth of each generator stage's output at step 0 and at the end (the headline
    window): at P = 2 (what that stage's own x2 leaves) and at the stage's whole upsampling factor
    (everything upsampled so far: a pattern born earlier is at a longer period)."""
    pairs = stage_depth_names(jobs, generator)
    stages = sorted({s for s, _ in pairs})
    if not stages:
        return ""
    out = []
    for title, period_of in (("P = 2 (the stage's own x2)", lambda s: 2),
                             ("P = 2^(stage + 1) (every x2 so far)", lambda s: 2 ** (s + 1))):
        columns = [(s, period_of(s)) for s in stages if (s, period_of(s)) in pairs]
        if title.startswith("P = 2^") and all(p == 2 for _, p in columns[1:]):
            continue
        lines = [f"Depth of each generator stage's output, {title}: at step 0 → at the end (headline window), "
                 "mean ± 95% half-width over seeds:", "",
                 "| group | " + " | ".join(f"stage {s} (P={p})" for s, p in columns) + " |",
                 "|---|" + "---|" * len(columns)]
        for label, members in grouped(keys, jobs).items():
            cells = []
            for s, p in columns:
                name = N.of_generator(N.stage_name(s, N.DEPTH.format(p=p)), generator)
                first = [_value(j.first_evaluation.get(name)) for j in members]
                end = [j.numbers.get(name, math.nan) for j in members]
                cells.append(f"{_estimate_text(name, first)} → {_estimate_text(name, end)}")
            lines.append(f"| {label} | {' | '.join(cells)} |")
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)


def plot_generator_stages(path: Path, keys: list[str], jobs: list[Job], generator: str = "raw") -> None:
    """Each group's depth of every generator stage against the training step (mean over seeds)."""
    pairs = stage_depth_names(jobs, generator)
    if not pairs:
        return
    groups = grouped(keys, jobs)
    curves = {label: {(s, p): c for s, p in pairs
                      if (c := curve(members, N.of_generator(N.stage_name(s, N.DEPTH.format(p=p)), generator)))}
              for label, members in groups.items()}
    save_figure(generator_stages_figure(curves), path, dpi=110)


def movement_table(keys: list[str], jobs: list[Job]) -> str:
    """How far the runs that have not converged still move: per trending metric of ``CONVERGENCE``,
    its change over the headline window with the 95% interval, beside the spread (SD) of the
    group's headline over its seeds. Empty when every run converged."""
    lines = []
    for members in grouped(keys, jobs).values():
        spreads: dict[str, str] = {}  # per metric, the group's seed SD: computed once, where a trend needs it
        for j in members:
            for p in (p for p in j.plateaus if not p.flat):
                info = M.find(p.metric)
                scale, unit = (100, " pts") if info is not None and info.percent else (1, "")
                if p.metric not in spreads:
                    values = [v for m in members if math.isfinite(v := m.numbers.get(p.metric, math.nan))]
                    spreads[p.metric] = f"{scale * statistics.stdev(values):.3g}{unit}" if len(values) > 1 else "n/a"
                spread = spreads[p.metric]
                lines.append(f"| {j.path.name} | {p.metric} | {scale * p.change:+.3g}{unit} | "
                             f"[{scale * p.low:.3g}, {scale * p.high:.3g}] | {p.n} | {spread} |")
    if not lines:
        return ""
    head = ["Runs that have not converged: the change of each trending metric over the headline window (slope x "
            "window, 95% interval), against the standard deviation of the group's headline over its seeds "
            "(depths in points of %):", "",
            "| run | metric | change | 95% interval | evaluations | seed SD |", "|---|---|---|---|---|---|"]
    return "\n".join(head + lines) + "\n"


def comparisons(keys: list[str], jobs: list[Job], reference: str, metrics: list[str],
                margin: float | None = None, generator: str | None = None) -> list[Comparison]:
    """Every group against the group whose upsampler is ``reference`` (and whose other varying keys
    match), per metric, Holm-adjusted per metric; empty when no group has that upsampler. A
    difference is settled when its Holm-adjusted p is below 0.05 and its rank interval stays clear
    of 0 after every run moves toward the other group by as much as it still moves
    (``Job.movement`` over one more window; ``gan.stats.settle``).
    ``margin``: the depths' equivalence margin (None: each metric's own, ``Metric.margin``)."""
    lead = upsampler_key(keys)
    rest = [k for k in keys if k != lead]
    members = grouped(keys, jobs, generator)

    def setting(label: str, key: str) -> str:
        return str(members[label][0].config.get(key))

    out = []
    for context in sorted({tuple(setting(g, k) for k in rest) for g in members}):
        labels = [g for g in members if tuple(setting(g, k) for k in rest) == context]
        base = next((g for g in labels if lead and setting(g, lead) == reference), None)
        if base is None:
            continue
        for m in metrics:
            info = M.find(m)
            runs = {g: r for g in labels if (r := entering(members[g], m)[0])}
            if base not in runs:
                continue
            own = math.nan if info is None else margin if margin is not None and info.percent else info.margin
            values = {g: [j.numbers[m] for j in r] for g, r in runs.items()}
            moves = {g: [j.movement(m) for j in r] for g, r in runs.items()}
            out += [settle(c, values[c.group], values[base], moves[c.group], moves[base])
                    for c in compare(values, base, m, own)]
    return out


def write_comparison(out: Path, rows: list[Comparison], name: str = "comparison") -> str:
    """``NAME.csv`` and the Markdown table of the comparisons (returned)."""
    with (out / f"{name}.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].__dict__))
        w.writeheader()
        w.writerows(r.__dict__ for r in rows)
    lines = [f"Against `{rows[0].reference}`, on the runs that did not fail (group - reference; depths in points "
             "of %). Verdict from the rank test chosen before the study (a few wild runs cannot drive it): the "
             "Hodges-Lehmann shift with its Mann-Whitney 95% interval, p Holm-adjusted over the groups per metric: "
             "lower or higher below 0.05 and surviving the movement the runs still show (each run moved toward "
             "the other group by its own change over one more headline window, the interval taken again by ranks; "
             "movement: how far that moves the shift); else equivalent when "
             "the 90% interval lies within the margin (two one-sided tests); else undecided, with the seeds per "
             "group either verdict would need at the spread seen (still moving: the seeds with which the moved "
             "interval clears 0, or longer training where the moved shift itself reaches 0). Beside it, the "
             "difference of means with Welch's 95% interval:", "",
             "| group | metric | n | shift (HL) | 95% interval | 90% interval | p (Holm) | margin | movement | "
             "verdict | seeds needed | mean difference | Welch 95% |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        need = ("longer training" if r.verdict == STILL_MOVING else "") if r.seeds_needed is None else \
            "> 1000" if r.seeds_needed > 1000 else str(r.seeds_needed)
        k, _ = units(r.metric)
        margin = f"±{k * r.margin:.3g}" if math.isfinite(r.margin) else "-"
        lines.append(f"| {r.group} | {r.metric} | {r.n} vs {r.n_reference} | {k * r.shift:+.3g} | "
                     f"[{k * r.shift_low:.3g}, {k * r.shift_high:.3g}] | "
                     f"[{k * r.equivalence_low:.3g}, {k * r.equivalence_high:.3g}] | {r.p_holm:.2g} | {margin} | "
                     f"{k * r.movement:.2g} | {r.verdict} | {need} | {k * r.difference:+.3g} | "
                     f"[{k * r.low:.3g}, {k * r.high:.3g}] |")
    return "\n".join(lines) + "\n"


def failures_table(keys: list[str], jobs: list[Job], reference: str, generator: str = "raw") -> str:
    """Per group: the runs that failed by ``gan.failures``' rule (of those that ended), the rate with
    its exact 95% interval, Fisher's exact test against ``reference``'s rate, and each failed run
    with why and its headline depth (so nothing is hidden)."""
    ended = groups(keys, jobs, lambda j: j.ended)
    if not ended:
        return ""
    rates = {label: rate(sum(j.failure(generator) is not None for j in members), len(members))
             for label, members in ended.items()}
    lead = upsampler_key(keys)
    base = next((label for label, members in ended.items()
                 if lead and str(members[0].config.get(lead)) == reference), None)
    headline = N.of_generator(N.HEADLINE, generator)
    rules = sorted({j.rule for j in jobs})
    lines = [f"Failed runs (rule of gan.failures, {'; '.join(RULES[r] for r in rules)}), {generator} generator: the "
             f"rate with its exact 95% interval, Fisher's exact test against `{reference}`, and each failed run "
             f"with its headline ({headline}):", "",
             "| group | failed | rate [95%] | p vs reference | failed runs |", "|---|---|---|---|---|"]
    for label, members in ended.items():
        r = rates[label]
        p = rates_differ(r, rates[base]) if base is not None and label != base else math.nan
        failed = "; ".join(f"{j.path.name}: {j.failure(generator)}, "
                           f"{estimate_text(headline, estimate([j.numbers.get(headline, math.nan)]))}"
                           for j in members if j.failure(generator))
        lines.append(f"| {label} | {r.k}/{r.n} | {100 * r.rate:.0f}% [{100 * r.low:.0f}, {100 * r.high:.0f}] | "
                     f"{'' if math.isnan(p) else f'{p:.2g}'} | {failed} |")
    return "\n".join(lines) + "\n"


def precision_table(keys: list[str], jobs: list[Job], generator: str = "raw") -> str:
    """Per group, the headline's 95% half-width over the seeds that did not fail against the target
    max(``PRECISION_POINTS``, ``PRECISION_SHARE`` x mean), and the seeds the target needs if the
    spread stays as seen (half-widths shrink as 1 / sqrt(n))."""
    metric = N.of_generator(N.HEADLINE, generator)
    lines = [f"Precision of `{metric}` on the runs that did not fail: 95% half-width over seeds against the target "
             f"max({100 * PRECISION_POINTS:g} points, {100 * PRECISION_SHARE:g}% of the mean):", "",
             "| group | n | mean ± half-width | target | met | seeds for the target |", "|---|---|---|---|---|---|"]
    found = False
    for label, members in grouped(keys, jobs, generator).items():
        e = estimate(metric_values(members, metric)[0])
        if e.n < 2 or not math.isfinite(e.half_width):
            continue
        found = True
        target = max(PRECISION_POINTS, PRECISION_SHARE * abs(e.center))
        need = e.n if e.half_width <= target else math.ceil(e.n * (e.half_width / target) ** 2)
        lines.append(f"| {label} | {e.n} | {estimate_text(metric, e)} | {units(metric)[0] * target:.2g} | "
                     f"{'yes' if e.half_width <= target else 'no'} | {need} |")
    return "\n".join(lines) + "\n" if found else ""


def plot_comparison(path: Path, rows: list[Comparison]) -> None:
    save_figure(comparison_figure(rows), path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gan.summarize", description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep_dir", type=Path, nargs="+",
                    help="sweep folder(s): runs of several (seeds added to some groups by a later sweep) are one table")
    ap.add_argument("--out", type=Path, help="output folder (default: the first SWEEP_DIR)")
    ap.add_argument("--metrics", nargs="*", help="metrics in summary.md and the bar chart")
    ap.add_argument("--reference", default="transposed", help="the upsampler every other is compared with")
    ap.add_argument("--compare", nargs="*", help="metrics of the comparison (default: the depths of the runs' "
                    "eval.generator, gan.names.COMPARED)")
    ap.add_argument("--margin", type=float, help="equivalence margin of the depths, a fraction of contrast (default: "
                    f"{M.DEPTH_MARGIN}; a detector's AUC: {M.AUC_MARGIN})")
    ap.add_argument("--last", action="store_true", help="the last evaluation of each run, not the headline window")
    ap.add_argument("--rule", choices=list(RULES), default=DEFAULT_RULE,
                    help=f"the failure rule (gan.failures.RULES; default {DEFAULT_RULE}): v1, the exploratory study's, or v2, "
                    "the confirmatory protocol's")
    ap.add_argument("--generator", choices=list(N.GENERATORS),
                    help="whose numbers are the headline: raw or ema (default: the runs' eval.generator)")
    args = ap.parse_args(argv)
    try:
        jobs = load_jobs(args.sweep_dir)
        for j in jobs:
            j.last_only, j.rule = args.last, args.rule
            if args.generator:
                j.generator = args.generator
        keys, rows = summarize(jobs)
        out = args.out or args.sweep_dir[0]
        out.mkdir(parents=True, exist_ok=True)
        generator = common_generator(jobs)
        available = [m for m in rows[0] if m in {k for j in jobs for k in j.final}]
        shown = args.metrics or [m for m in N.of_generator(N.SUMMARY, generator) if m in available]
        compare_names = args.compare or list(N.of_generator(N.COMPARED, generator))
        write_csv(out / "summary.csv", rows)
        write_markdown(out / "summary.md", keys, rows, shown, generator)
        compared = comparisons(keys, jobs, args.reference, [m for m in compare_names if m in available], args.margin,
                               generator)
        sections = [failures_table(keys, jobs, args.reference, generator), precision_table(keys, jobs, generator),
                    write_comparison(out, compared) if compared else ""]
        other = "ema" if generator == "raw" else "raw"
        if not args.compare and N.of_generator(N.HEADLINE, other) in {k for j in jobs for k in j.final}:
            names = [m for m in N.of_generator(N.COMPARED, other) if m in {k for j in jobs for k in j.final}]
            beside = comparisons(keys, jobs, args.reference, names, args.margin, other)
            sections += [f"### The {other} generator, side by side\n", failures_table(keys, jobs, args.reference, other),
                         precision_table(keys, jobs, other),
                         write_comparison(out, beside, f"comparison_{other}") if beside else ""]
        sections += [generators_table(keys, jobs),
                    progress_table(keys, jobs, N.of_generator(N.HEADLINE, generator))
                    if N.of_generator(N.HEADLINE, generator) in available else "",
                    movement_table(keys, jobs), generator_stage_tables(keys, jobs, generator)]
        with (out / "summary.md").open("a") as f:
            f.writelines("\n" + section for section in sections if section)
        if compared:
            plot_comparison(out / "summary_comparison.png", compared)
        if any(r["n"] > 0 for r in rows) and shown:
            plot_bars(out / "summary_bars.png", keys, rows, shown)
            plot_curves(out / "summary_curves.png", keys, jobs, N.of_generator(N.COMPARED + (N.SWD,), generator),
                        N.of_generator(N.SUMMARY, generator))
            plot_generator_stages(out / "summary_stages.png", keys, jobs, generator)
        print((out / "summary.md").read_text())
        unfinished = [j for j in jobs if not j.finished]
        print(f"{len(jobs)} run(s): {len(jobs) - len(unfinished)} finished, {len(unfinished)} not "
              f"({', '.join(sorted({str(j.status) for j in unfinished})) or '-'}); wrote {out}/summary.*")
    except SummaryError as e:
        return report(e)
    return 0


if __name__ == "__main__":
    sys.exit(main())

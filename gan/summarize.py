"""``python -m gan.summarize SWEEP_DIR [--out DIR]``: one table over a sweep, with confidence intervals.

Reads every job directory under SWEEP_DIR (any folder holding ``config.yaml`` or
``.hydra/config.yaml``), groups the jobs by their configuration minus the seed, and writes
``summary.csv``, ``summary.md`` (per metric: the mean over seeds with its 95% t-interval; for
positive quantities such as CE, SWD and spectral distance the geometric mean with the interval on
the log scale, so the CE and excess-dB columns come from the same aggregate), ``summary_bars.png``
and ``summary_curves.png`` (checkerboard excess vs step, mean with a min-max band over seeds).
Jobs that failed, diverged or are still running are listed with their status, never dropped; a
non-finite value left out of a mean is listed with its reason.
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf
from scipy import stats

from gan import metrics as M
from gan.config import flatten
from gan.rundir import RunDir
from gan.stats import estimate

#: Keys that never define a group: the seed varies within a group; paths differ per job.
IGNORED_KEYS = ("seed", "run_dir", "train.progress")


class SummaryError(ValueError):
    """Nothing to summarise at the given path."""


@dataclass
class Job:
    path: Path
    config: dict[str, Any]
    status: str
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def last_record(self) -> dict[str, Any]:
        """The last evaluation record (values as written: numbers, or null for a non-finite one)."""
        last = next((r for r in reversed(self.records) if M.CE.format(p=2) in r), {})
        return {k: v for k, v in last.items() if k not in ("step", "diverged")}

    @property
    def final(self) -> dict[str, float]:
        """Finite numeric metrics of the last evaluation record."""
        return {k: v for k, v in ((k, _number(v)) for k, v in self.last_record.items()) if math.isfinite(v)}


def _number(v: Any) -> float:
    """A record's value as a float; NaN for null, text ("-inf" from older versions) and booleans."""
    if isinstance(v, bool) or v is None:
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def find_jobs(sweep_dir: Path) -> list[Job]:
    """Every job directory under ``sweep_dir`` (or ``sweep_dir`` itself if it is one)."""
    jobs = []
    for run in RunDir.find(sweep_dir):
        try:
            config = flatten(OmegaConf.to_container(run.config(), resolve=False))
            config |= {f"choice.{k}": v for k, v in run.hydra_choices().items()}
        except Exception as e:  # noqa: BLE001 - a broken config is reported, not fatal
            jobs.append(Job(run.path, {}, f"unreadable config ({type(e).__name__})"))
            continue
        status = run.liveness()
        records = run.read_metrics()
        if status == "unknown":
            status = "not started" if not records else "unknown (no status.json)"
        jobs.append(Job(run.path, config, status, records))
    return jobs


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


def metric_values(done: list[Job], metric: str) -> tuple[list[float], list[str]]:
    """The values of ``metric`` over finished jobs that enter its statistics, and the reasons for
    those that do not (``"3_seed=2: checkerboard/p2 non-finite"``)."""
    used, excluded = [], []
    for j in done:
        record = j.last_record
        if metric not in record:
            continue
        v = _number(record[metric])
        if math.isfinite(v):
            used.append(v)
        else:
            excluded.append(f"{j.path.name}: {metric} non-finite")
    return used, excluded


def summarize(jobs: list[Job], metrics: list[str] | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows of the summary table: one per group of jobs (unfinished ones listed in it). Per metric:
    its estimate over seeds (``M``, ``M ci_low``, ``M ci_high``), the number of values behind it
    (``M n``) and whether it is a geometric mean (``M scale``: log or linear)."""
    keys = varying_keys(jobs) or ["upsampler._target_"]
    groups: dict[tuple, list[Job]] = defaultdict(list)
    for j in jobs:
        groups[tuple(str(j.config.get(k)) for k in keys)].append(j)
    finished = [j for j in jobs if j.status == "finished"]
    all_metrics = metrics or sorted({k for j in finished for k in j.last_record})
    rows = []
    for label, members in sorted(groups.items()):
        done = [j for j in members if j.status == "finished"]
        row: dict[str, Any] = dict(zip(keys, label))
        row["n"] = len(done)
        row["seeds"] = " ".join(sorted(str(j.config.get("seed")) for j in done))
        others = sorted(f"{j.path.name}: {j.status}" for j in members if j.status != "finished")
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
    mean, lo, hi, n = row[m], row[f"{m} ci_low"], row[f"{m} ci_high"], row[f"{m} n"]
    if math.isnan(mean):
        return "n/a"
    if math.isnan(lo):
        text = f"{mean:.4g}"
    elif row[f"{m} scale"] == "log":
        text = f"{mean:.4g} [{lo:.2g}, {hi:.2g}]"
    else:
        text = f"{mean:.4g} ± {(hi - lo) / 2:.2g}"
    return text if n == row["n"] else f"{text} (n={n})"


def write_markdown(path: Path, keys: list[str], rows: list[dict[str, Any]], metrics: list[str]) -> None:
    head = [*(k.removeprefix("choice.") for k in keys), "n", *metrics, "not finished", "excluded"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [str(r[k]) for k in keys] + [str(r["n"])]
        cells += [_fmt(r, m) for m in metrics]
        cells += [r["not finished"] or "", r["excluded"] or ""]
        lines.append("| " + " | ".join(cells) + " |")
    note = ("\nn = finished seeds (a metric with fewer values says so). Positive quantities (CE, SWD, spectral "
            "distance): geometric mean over seeds [95% t-interval on the log scale]; dB and other differences: "
            "mean ± half-width of the 95% t-interval (scipy.stats). The excess in dB is the mean of per-seed dB, "
            "i.e. the same geometric aggregate as its CE column.\n")
    path.write_text("\n".join(lines) + "\n" + note)


def label_of(row: dict[str, Any], keys: list[str]) -> str:
    return ", ".join(f"{k.removeprefix('choice.')}={row[k]}" for k in keys)


def plot_bars(path: Path, keys: list[str], rows: list[dict[str, Any]], metrics: list[str]) -> None:
    from gan.plots import save_figure, summary_bars

    rows = [r for r in rows if r["n"] > 0]
    fig = summary_bars([label_of(r, keys) for r in rows], metrics,
                       {m: [r[m] for r in rows] for m in metrics},
                       {m: [r[f"{m} ci_low"] for r in rows] for m in metrics},
                       {m: [r[f"{m} ci_high"] for r in rows] for m in metrics},
                       {m: all(r[f"{m} scale"] == "log" for r in rows) for m in metrics})
    save_figure(fig, path, dpi=110)


def plot_curves(path: Path, keys: list[str], jobs: list[Job], metric: str = M.HEADLINE) -> None:
    from gan.plots import save_figure, summary_curves

    groups: dict[str, list[Job]] = defaultdict(list)
    for j in jobs:
        if any(metric in r for r in j.records):
            groups[", ".join(str(j.config.get(k)) for k in keys)].append(j)
    curves = {}
    for label, members in sorted(groups.items()):
        runs = [{r["step"]: r[metric] for r in j.records if isinstance(r.get(metric), (int, float))} for j in members]
        steps = sorted(set.intersection(*(set(c) for c in runs)))
        if steps:
            curves[label] = (steps, np.array([[c[s] for s in steps] for c in runs]))
    save_figure(summary_curves(curves, metric), path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gan.summarize", description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep_dir", type=Path)
    ap.add_argument("--out", type=Path, help="output folder (default: SWEEP_DIR)")
    ap.add_argument("--metrics", nargs="*", help="metrics in summary.md and the bar chart")
    args = ap.parse_args(argv)
    try:
        if not args.sweep_dir.is_dir():
            raise SummaryError(f"{args.sweep_dir}: no such folder")
        jobs = find_jobs(args.sweep_dir)
        if not jobs:
            raise SummaryError(f"{args.sweep_dir}: no job directories (no config.yaml or .hydra/config.yaml below it)")
        keys, rows = summarize(jobs)
        out = args.out or args.sweep_dir
        out.mkdir(parents=True, exist_ok=True)
        available = [m for m in rows[0] if m in {k for j in jobs for k in j.final}]
        shown = args.metrics or [m for m in M.SUMMARY if m in available]
        write_csv(out / "summary.csv", rows)
        write_markdown(out / "summary.md", keys, rows, shown)
        if any(r["n"] > 0 for r in rows) and shown:
            plot_bars(out / "summary_bars.png", keys, rows, shown)
            plot_curves(out / "summary_curves.png", keys, jobs)
        print((out / "summary.md").read_text())
        unfinished = [j for j in jobs if j.status != "finished"]
        print(f"{len(jobs)} job(s): {len(jobs) - len(unfinished)} finished, {len(unfinished)} not "
              f"({', '.join(sorted({j.status for j in unfinished})) or '-'}); wrote {out}/summary.*")
    except SummaryError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

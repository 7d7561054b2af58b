"""The summary's tables: one row per group with estimates over seeds, and the tables of failures, precision,
progress, movement, generator stages and the averaged generator; the one format of an estimate."""
from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path
from typing import Any

from gan.measure import metrics as M
from gan.measure import names as N
from gan.run import records as R
from gan.study.failures import RULES
from gan.study.jobs import (PROGRESS, Job, _value, grouped, groups, last_step, metric_values, stage_depth_names,
                            upsampler_key, varying_keys)
from gan.study.stats import Estimate, estimate, rate, rates_differ

#: A group's headline is precise enough when its 95% half-width over seeds is at most
#: max(PRECISION_POINTS, PRECISION_SHARE x its mean).
PRECISION_POINTS, PRECISION_SHARE = 0.005, 0.25


def summary_rows(jobs: list[Job], metrics: list[str] | None = None) -> tuple[list[str], list[dict[str, Any]]]:
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
            "--last: its last evaluation). n = finished seeds that did not fail (gan.study.failures; failed runs are listed, "
            "with why, and counted in the failure table; a metric with fewer values says so). Positive "
            "quantities (CE, SWD, spectral distance): geometric mean over seeds [95% t-interval on the log "
            "scale]; dB and other differences: mean ± half-width of the 95% t-interval (scipy.stats). The "
            "excess in dB is the mean of per-seed dB, i.e. the same geometric aggregate as its CE column. "
            "Depths: a percentage of the images' contrast. converged: runs in which neither "
            f"{' nor '.join(N.of_generator(N.CONVERGENCE, generator))} shows a trend over the headline window (the "
            "95% interval of its change there holds 0); a ranking is settled only when it survives the movement "
            "the runs still show.\n")
    path.write_text("\n".join(lines) + "\n" + note)


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


def estimate_text(metric: str, e: Estimate) -> str:
    """The one format of an estimate over seeds: ``12.3% ± 1.5`` (depths, in points of %), ``91.6 ± 12``
    (mean ± 95% half-width) or ``0.21 [0.15, 0.3]`` (a geometric mean and its interval); ``n/a``."""
    if math.isnan(e.center):
        return "n/a"
    scale, unit = M.units(metric)
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


def movement_table(keys: list[str], jobs: list[Job]) -> str:
    """How far the runs that have not converged still move: per trending metric of ``CONVERGENCE``,
    its change over the headline window with the 95% interval, beside the spread (SD) of the
    group's headline over its seeds. Empty when every run converged."""
    lines = []
    for members in grouped(keys, jobs).values():
        spreads: dict[str, str] = {}  # per metric, the group's seed SD: computed once, where a trend needs it
        for j in members:
            for p in (p for p in j.plateaus if not p.flat):
                scale, unit = M.units(p.metric)
                unit = " pts" if unit else ""
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


def failures_table(keys: list[str], jobs: list[Job], reference: str, generator: str = "raw") -> str:
    """Per group: the runs that failed by ``gan.study.failures``' rule (of those that ended), the rate with
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
    lines = [f"Failed runs (rule of gan.study.failures, {'; '.join(RULES[r] for r in rules)}), {generator} generator: the "
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
             f"max({M.number_text(metric, PRECISION_POINTS, 'g', ' points')}, {100 * PRECISION_SHARE:g}% of the mean):", "",
             "| group | n | mean ± half-width | target | met | seeds for the target |", "|---|---|---|---|---|---|"]
    found = False
    for label, members in grouped(keys, jobs, generator).items():
        e = estimate(metric_values(members, metric)[0])
        if e.n < 2 or not math.isfinite(e.half_width):
            continue
        found = True
        target = max(PRECISION_POINTS, PRECISION_SHARE * abs(e.center))
        need = e.n if e.half_width <= target else math.ceil(e.n * (e.half_width / target) ** 2)
        lines.append(f"| {label} | {e.n} | {estimate_text(metric, e)} | {M.units(metric)[0] * target:.2g} | "
                     f"{'yes' if e.half_width <= target else 'no'} | {need} |")
    return "\n".join(lines) + "\n" if found else ""

"""Every group against the reference: rank-based verdicts that survive the runs' movement, equivalence within
the margin, and the comparison table."""
from __future__ import annotations

import csv
import math
from pathlib import Path

from gan.measure import metrics as M
from gan.study.jobs import Job, entering, grouped, upsampler_key
from gan.study.stats import STILL_MOVING, Comparison, compare, settle


def comparisons(keys: list[str], jobs: list[Job], reference: str, metrics: list[str],
                margin: float | None = None, generator: str | None = None) -> list[Comparison]:
    """Every group against the group whose upsampler is ``reference`` (and whose other varying keys
    match), per metric, Holm-adjusted per metric; empty when no group has that upsampler. A
    difference is settled when its Holm-adjusted p is below 0.05 and its rank interval stays clear
    of 0 after every run moves toward the other group by as much as it still moves
    (``Job.movement`` over one more window; ``gan.study.stats.settle``).
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
        k, _ = M.units(r.metric)
        margin = f"±{k * r.margin:.3g}" if math.isfinite(r.margin) else "-"
        lines.append(f"| {r.group} | {r.metric} | {r.n} vs {r.n_reference} | {k * r.shift:+.3g} | "
                     f"[{k * r.shift_low:.3g}, {k * r.shift_high:.3g}] | "
                     f"[{k * r.equivalence_low:.3g}, {k * r.equivalence_high:.3g}] | {r.p_holm:.2g} | {margin} | "
                     f"{k * r.movement:.2g} | {r.verdict} | {need} | {k * r.difference:+.3g} | "
                     f"[{k * r.low:.3g}, {k * r.high:.3g}] |")
    return "\n".join(lines) + "\n"

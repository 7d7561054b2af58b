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
(still moving)" (``gan.study.stats.settle``).
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
import sys
from pathlib import Path

from gan.core.errors import report
from gan.measure import metrics as M
from gan.measure import names as N
from gan.study.failures import DEFAULT_RULE, RULES
from gan.study.figures import plot_bars, plot_comparison, plot_curves, plot_generator_stages
from gan.study.jobs import SummaryError, common_generator, load_jobs
from gan.study.tables import (failures_table, generator_stage_tables, generators_table, movement_table, precision_table,
                              progress_table, summary_rows, write_csv, write_markdown)
from gan.study.verdicts import comparisons, write_comparison


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gan.summarize", description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep_dir", type=Path, nargs="+",
                    help="sweep folder(s): runs of several (seeds added to some groups by a later sweep) are one table")
    ap.add_argument("--out", type=Path, help="output folder (default: the first SWEEP_DIR)")
    ap.add_argument("--metrics", nargs="*", help="metrics in summary.md and the bar chart")
    ap.add_argument("--reference", default="transposed", help="the upsampler every other is compared with")
    ap.add_argument("--compare", nargs="*", help="metrics of the comparison (default: the depths of the runs' "
                    "eval.generator, gan.measure.names.COMPARED)")
    ap.add_argument("--margin", type=float, help="equivalence margin of the depths, a fraction of contrast (default: "
                    f"{M.DEPTH_MARGIN}; a detector's AUC: {M.AUC_MARGIN})")
    ap.add_argument("--last", action="store_true", help="the last evaluation of each run, not the headline window")
    ap.add_argument("--rule", choices=list(RULES), default=DEFAULT_RULE,
                    help=f"the failure rule (gan.study.failures.RULES; default {DEFAULT_RULE}): v1, the exploratory "
                    "study's, or v2, "
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
        keys, rows = summary_rows(jobs)
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

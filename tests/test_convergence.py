"""The convergence rule (a trend over the headline window), the verdicts it gates, and the tables of
``gan.summarize`` that report points of training and how far unconverged runs still move."""
import csv
import json
import math

import numpy as np
import pytest
from omegaconf import OmegaConf

from gan import summarize
from gan.measure import names as N
from gan.run import records as R
from gan.run.rundir import RunDir
from gan.study.jobs import find_jobs
from gan.study.stats import STILL_MOVING
from gan.study.tables import progress_table

STEPS = list(range(0, 301, 30))  # 11 evaluations; a window of 0.5 holds steps 150..300 (6 of them)
WINDOW = 0.5
PALINDROME = [0.5, -0.3, 0.1, 0.1, -0.3, 0.5]  # scatter with a least-squares slope of exactly 0


def evaluations(swd, depth, steps=STEPS):
    """Evaluation records (what makes one: a CE_2 value) with the given SWD and headline per step."""
    return [{"step": s, N.CE.format(p=2): 0.01, N.SWD: swd(s), N.HEADLINE: depth(s)} for s in steps]


def scatter(s):
    """The palindrome over the window, 0 before it: values that vary but have no trend there."""
    return PALINDROME[(s - 150) // 30] if s >= 150 else 0.0


def independent_fit(steps, values):
    """Slope x span and the half-width of its 95% interval, from the normal equations."""
    x, y = np.asarray(steps, float), np.asarray(values, float)
    sxx = ((x - x.mean()) ** 2).sum()
    slope = ((x - x.mean()) * (y - y.mean())).sum() / sxx
    residual = y - y.mean() - slope * (x - x.mean())
    se = math.sqrt((residual ** 2).sum() / (len(x) - 2) / sxx)
    t975 = {4: 2.7764451051977987}[len(x) - 2]  # Student's t, 4 degrees of freedom
    span = x[-1] - x[0]
    return slope * span, t975 * se * span


def test_headline_records_are_the_last_part_of_the_evaluated_steps():
    records = evaluations(lambda s: 1.0, lambda s: 0.0) + [{"step": 310, "loss/g": 1.0}]  # a training line
    records[-2]["diverged"] = True  # step 300: left out, so the last evaluation is at 270
    chosen = [r["step"] for r in R.headline_records(records, WINDOW)]
    assert chosen == [150, 180, 210, 240, 270]  # steps >= 270 / 2
    assert [r["step"] for r in R.headline_records(records, 0.0)] == [270]
    assert 0 not in [r["step"] for r in R.headline_records(records, 1.0)]  # the untrained generator never counts


def test_plateau_measures_the_change_over_the_window():
    rng = np.random.default_rng(0)
    noise = {s: rng.normal(0, 1) for s in STEPS}
    records = evaluations(lambda s: 100 + 0.2 * s + noise[s], lambda s: 0.05)
    p = R.plateau(records, WINDOW, N.SWD)
    window_steps = list(range(150, 301, 30))
    change, half = independent_fit(window_steps, [100 + 0.2 * s + noise[s] for s in window_steps])
    assert p.n == 6 and p.change == pytest.approx(change) and p.high - p.change == pytest.approx(half)
    assert p.low > 0 and not p.flat  # 0.2 per step over 150 steps is 30, against noise of 1
    exact = R.plateau(evaluations(lambda s: 2.0 - 0.001 * s, lambda s: 0.0), WINDOW, N.SWD)
    assert exact.change == pytest.approx(-0.15) and exact.low == pytest.approx(exact.high)  # a line: no doubt


def test_converged_needs_every_convergence_metric_flat():
    flat = evaluations(lambda s: 80 + scatter(s), lambda s: 0.05 + 0.01 * scatter(s))
    assert R.converged(flat, WINDOW) is True
    quality_moves = evaluations(lambda s: 80 + 0.1 * s + scatter(s), lambda s: 0.05 + 0.01 * scatter(s))
    assert R.converged(quality_moves, WINDOW) is False
    depth_moves = evaluations(lambda s: 80 + scatter(s), lambda s: 0.05 + 1e-4 * s + 0.01 * scatter(s))
    assert R.converged(depth_moves, WINDOW) is False
    assert R.converged(flat[-2:], WINDOW) is None  # two evaluations cannot tell a trend


def fake_run(root, name, upsampler, seed, records):
    run = root / name
    run.mkdir(parents=True)
    OmegaConf.save(OmegaConf.create({"seed": seed, "upsampler": {"_target_": upsampler},
                                     "train": {"steps": STEPS[-1]}, "eval": {"headline_window": WINDOW}}),
                   run / "config.yaml")
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    RunDir(run).write_status("finished")
    return run


def test_a_verdict_is_settled_when_it_survives_the_runs_remaining_movement(tmp_path, capsys):
    """Four groups, six seeds each (the fewest with which the rank test settles three comparisons),
    against a reference with a deep pattern: a clear gap with a small
    drift in every seed settles; a drift over the window as large as the gap does not; an SWD that
    still rises in one run (image quality, not the compared depth) counts against convergence but
    not against the verdict on the depth."""
    runs = {"transposed": (0.06, 0.0, 0.0), "blurred": (0.005, 2e-5, 0.0), "drifting": (0.005, 3e-4, 0.0),
            "resized": (0.004, 0.0, 0.06)}  # depth, depth slope in every seed, SWD slope of seed 0 (18 over 300
    # steps: a trend, below the failure rule's 1.3 times the best)
    i = 0
    for group, (depth, drift, rise) in runs.items():
        for seed in range(6):
            fake_run(tmp_path, f"{i}_job", group, seed,
                     evaluations(lambda s, r=rise if seed == 0 else 0.0: 80 + r * s + scatter(s),
                                 lambda s, d=depth + 0.001 * seed, k=drift: d + k * max(s - 150, 0)
                                 + 0.001 * scatter(s)))
            i += 1
    assert summarize.main([str(tmp_path), "--compare", N.HEADLINE]) == 0
    summary = {r["upsampler._target_"]: r for r in csv.DictReader((tmp_path / "summary.csv").open())}
    assert [summary[g]["converged"] for g in runs] == ["6/6", "0/6", "0/6", "5/6"]
    rows = {r["group"]: r for r in csv.DictReader((tmp_path / "comparison.csv").open())}
    assert {g: r["verdict"] for g, r in rows.items()} == {"blurred": "lower", "drifting": STILL_MOVING,
                                                          "resized": "lower"}
    # the drifting group's mean may still rise by each run's change over one more window: the larger end of
    # the 95% interval of 3e-4 x 150 steps (every seed has the same slope and scatter)
    p = R.plateau(find_jobs(tmp_path / "12_job")[0].records, WINDOW, N.HEADLINE)
    assert p.low < 3e-4 * 150 < p.high
    assert float(rows["drifting"]["movement"]) == pytest.approx(p.high, rel=1e-9)
    assert float(rows["resized"]["movement"]) == 0.0 and float(rows["drifting"]["high"]) < 0
    md = (tmp_path / "summary.md").read_text()
    moving = [line for line in md.splitlines() if line.startswith("| 18_job |")]
    assert len(moving) == 1 and N.SWD in moving[0]  # the one trend, of the one run that has it
    change = float(moving[0].split("|")[3])
    assert change == pytest.approx(0.06 * 150)  # the rise over the window, exactly: the scatter has no slope
    assert "| 0_job |" not in md


def test_progress_table_is_the_headline_as_if_training_had_stopped_there(tmp_path):
    for seed, offset in enumerate((0.0, 0.02)):
        fake_run(tmp_path, f"{seed}_job", "transposed", seed,
                 evaluations(lambda s: 80.0, lambda s, o=offset: 0.2 - 5e-4 * s + o))
    jobs = find_jobs(tmp_path)
    table = progress_table(["upsampler._target_"], jobs, N.HEADLINE)
    row = next(line for line in table.splitlines() if line.startswith("| transposed"))
    cells = [c.strip() for c in row.split("|")[2:-1]]
    # at 50% (step 150) each run's window is steps 75..150: 90, 120, 150; the mean over seeds adds 0.01
    at_half = np.mean([0.2 - 5e-4 * s for s in (90, 120, 150)]) + 0.01
    at_end = np.mean([0.2 - 5e-4 * s for s in (150, 180, 210, 240, 270, 300)]) + 0.01
    assert cells[1].startswith(f"{100 * at_half:.3g}%") and cells[2].startswith(f"{100 * at_end:.3g}%")
    assert "(step 75)" in table and "(step 300)" in table

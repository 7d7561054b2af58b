import csv
import json
import math

import numpy as np
import pytest
from omegaconf import OmegaConf

from gan import summarize
from gan.measure import metrics as M
from gan.measure import names as N
from gan.run.logging import RunLogger
from gan.run.rundir import RunDir
from gan.study.jobs import find_jobs
from gan.study.tables import summary_rows


def fake_job(root, name, upsampler, seed, status="finished", ce=0.01, steps=(0, 10)):
    run = root / name
    run.mkdir(parents=True)
    OmegaConf.save(OmegaConf.create({"seed": seed, "upsampler": {"_target_": upsampler, "kernel_size": 4},
                                     "train": {"steps": 10}, "eval": {"headline_window": 0.25}}),
                    run / "config.yaml")
    with (run / "metrics.jsonl").open("w") as f:
        for s in steps:
            f.write(json.dumps({"step": s, "checkerboard/p2": ce * (1 + s), "checkerboard_excess_db/p2": 10 * ce + s,
                                "spectral/distance": 0.1}) + "\n")
    RunDir(run).write_status(status)
    return run


def test_groups_by_all_but_seed_with_intervals(tmp_path):
    for i, (up, seed, ce) in enumerate([("A", 0, 0.010), ("A", 1, 0.012), ("B", 0, 0.020), ("B", 1, 0.026)]):
        fake_job(tmp_path, f"{i}_job", up, seed, ce=ce)
    keys, rows = summary_rows(find_jobs(tmp_path))
    assert keys == ["upsampler._target_"]
    by = {r["upsampler._target_"]: r for r in rows}
    assert by["A"]["n"] == 2 and by["B"]["n"] == 2
    a = by["A"]
    # CE is a positive quantity: geometric mean, t-interval on the log scale (never below zero)
    logs = np.log([0.11, 0.132])
    half = 12.706 * abs(logs[1] - logs[0]) / 2  # t(0.975, df=1) * sem
    assert a["checkerboard/p2"] == pytest.approx(math.exp(logs.mean()))
    assert a["checkerboard/p2 ci_low"] == pytest.approx(math.exp(logs.mean() - half), rel=1e-3)
    assert a["checkerboard/p2 ci_high"] == pytest.approx(math.exp(logs.mean() + half), rel=1e-3)
    assert a["checkerboard/p2 scale"] == "log" and a["checkerboard/p2 n"] == 2
    # an excess in dB is already a log-ratio: arithmetic mean and t-interval
    db = [10 * 0.010 + 10, 10 * 0.012 + 10]
    assert a["checkerboard_excess_db/p2"] == pytest.approx(sum(db) / 2)
    assert (a["checkerboard_excess_db/p2 ci_high"] - a["checkerboard_excess_db/p2 ci_low"]) / 2 == pytest.approx(
        12.706 * abs(db[1] - db[0]) / 2, rel=1e-3)
    assert a["checkerboard_excess_db/p2 scale"] == "linear"


def test_cli_writes_csv_markdown_and_figures_and_lists_unfinished(tmp_path, capsys):
    fake_job(tmp_path, "0", "A", 0)
    fake_job(tmp_path, "1", "A", 1, ce=0.02)
    fake_job(tmp_path, "2", "B", 0, status="diverged", steps=(0,))
    fake_job(tmp_path, "3", "B", 1, status="running", steps=(0,))
    (tmp_path / "4" / ".hydra").mkdir(parents=True)  # a job that died before training wrote anything
    OmegaConf.save(OmegaConf.create({"seed": 0, "upsampler": {"_target_": "C"}}), tmp_path / "4" / ".hydra" / "config.yaml")
    out = tmp_path / "out"
    assert summarize.main([str(tmp_path), "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "summary.csv").open()))
    by = {r["upsampler._target_"]: r for r in rows}
    assert by["A"]["n"] == "2" and by["B"]["n"] == "0" and by["C"]["n"] == "0"
    assert "diverged" in by["B"]["not finished"] and "running" in by["B"]["not finished"]
    assert "not started" in by["C"]["not finished"]
    md = (out / "summary.md").read_text()
    assert "| A |" in md and "±" in md
    assert (out / "summary_bars.png").stat().st_size > 1000 and (out / "summary_curves.png").is_file()
    assert "5 run(s): 2 finished, 3 not" in capsys.readouterr().out


def test_seeds_added_in_a_second_sweep_folder_join_their_groups_and_a_repeated_seed_is_refused(tmp_path, capsys):
    fake_job(tmp_path / "study", "0", "A", 0)
    fake_job(tmp_path / "study", "1", "B", 0, ce=0.02)
    fake_job(tmp_path / "more", "0", "B", 1, ce=0.03)  # a seed added to group B only
    out = tmp_path / "out"
    assert summarize.main([str(tmp_path / "study"), str(tmp_path / "more"), "--out", str(out)]) == 0
    by = {r["upsampler._target_"]: r for r in csv.DictReader((out / "summary.csv").open())}
    assert (by["A"]["n"], by["A"]["seeds"]) == ("1", "0") and (by["B"]["n"], by["B"]["seeds"]) == ("2", "0 1")
    fake_job(tmp_path / "again", "0", "B", 1, ce=0.03)
    assert summarize.main([str(tmp_path / "study"), str(tmp_path / "more"), str(tmp_path / "again")]) == 2
    assert "the same run" in capsys.readouterr().err


def test_empty_or_missing_sweep_is_a_clear_error(tmp_path, capsys):
    assert summarize.main([str(tmp_path)]) == 2
    assert "no job directories" in capsys.readouterr().err
    assert summarize.main([str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_non_finite_values_are_excluded_with_their_reason_and_n_is_per_metric(tmp_path, capsys):
    for seed in range(3):
        fake_job(tmp_path, f"{seed}_job", "A", seed, ce=0.01 * (seed + 1))
    records = [json.loads(x) for x in (tmp_path / "1_job" / "metrics.jsonl").read_text().splitlines()]
    records[-1]["checkerboard_excess_db/p2"] = None  # what a non-finite value is written as
    (tmp_path / "1_job" / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    records = [json.loads(x) for x in (tmp_path / "2_job" / "metrics.jsonl").read_text().splitlines()]
    records[-1]["checkerboard_excess_db/p2"] = "-inf"  # a non-finite value written as text
    (tmp_path / "2_job" / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    _, rows = summary_rows(find_jobs(tmp_path))
    (row,) = rows
    assert row["n"] == 3 and row["checkerboard/p2 n"] == 3
    assert row["checkerboard_excess_db/p2 n"] == 1  # counted per metric, never as n=3 from one value
    assert row["checkerboard_excess_db/p2"] == pytest.approx(10 * 0.01 + 10)
    assert "1_job: checkerboard_excess_db/p2 non-finite" in row["excluded"]
    assert "2_job: checkerboard_excess_db/p2 non-finite" in row["excluded"]
    assert summarize.main([str(tmp_path), "--out", str(tmp_path / "out"), "--metrics", "checkerboard_excess_db/p2"]) == 0
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "(n=1)" in md and "non-finite" in md and "inf" not in md.replace("non-finite", "")


def test_metrics_jsonl_never_holds_inf_strings(tmp_path):
    logger = RunLogger(tmp_path)
    logger.metrics(3, {"a": float("-inf"), "b": float("nan"), "c": 1.5})
    logger.close()
    (record,) = RunDir(tmp_path).read_metrics()
    assert record == {"step": 3, "a": None, "b": None, "c": 1.5}


def test_comparison_table_with_verdicts(tmp_path):
    for i, (up, seed, ce) in enumerate([("transposed", s, 0.020 + 0.0003 * s) for s in range(6)]
                                       + [("resize", s, 0.002 + 0.00003 * s) for s in range(6)]
                                       + [("icnr", s, 0.019 + 0.004 * (s % 2)) for s in range(6)]):
        run = fake_job(tmp_path, f"{i}_job", up, seed, ce=ce)
        hydra = run / ".hydra"
        hydra.mkdir()
        OmegaConf.save(OmegaConf.create({"hydra": {"runtime": {"choices": {"upsampler": up}}}}), hydra / "hydra.yaml")
    assert summarize.main([str(tmp_path), "--compare", "checkerboard_excess_db/p2"]) == 0
    rows = {r["group"]: r for r in csv.DictReader((tmp_path / "comparison.csv").open())}
    assert rows["resize"]["verdict"] == "lower" and float(rows["resize"]["difference"]) < 0
    assert rows["icnr"]["verdict"] == "undecided" and int(rows["icnr"]["seeds_needed"]) > 6
    md = (tmp_path / "summary.md").read_text()
    assert "Against `transposed`" in md and "| resize | checkerboard_excess_db/p2 | 6 vs 6 |" in md
    assert (tmp_path / "summary_comparison.png").stat().st_size > 1000


@pytest.mark.filterwarnings("ignore:Precision loss")  # scipy's Welch test on a group without spread
def test_each_metric_is_judged_within_its_own_margin(tmp_path):
    """A detector that tells every run of two groups apart perfectly (AUC 1 in all) reads them
    equivalent within its AUC margin, not undecided; ``--margin`` changes the depths' margin only."""
    depth = N.HEADLINE
    for i, (up, seed) in enumerate([(u, s) for u in ("transposed", "pixel", "resize") for s in range(6)]):
        run = fake_job(tmp_path, f"{i}_job", up, seed)
        auc = 1.0 if up != "resize" else 0.90 + 0.01 * seed
        value = {"transposed": 0.20, "pixel": 0.201, "resize": 0.02}[up] + 0.002 * seed  # pixel: overlapping ranks
        record = {"checkerboard/p2": 0.01, depth: value, "detect/frank_auc": auc}
        (run / "metrics.jsonl").write_text("".join(json.dumps({"step": s, **record}) + "\n" for s in (0, 10)))
        (run / ".hydra").mkdir()
        OmegaConf.save(OmegaConf.create({"hydra": {"runtime": {"choices": {"upsampler": up}}}}),
                       run / ".hydra" / "hydra.yaml")
    assert summarize.main([str(tmp_path), "--compare", "detect/frank_auc", depth, "--margin", "0.005"]) == 0
    rows = {(r["group"], r["metric"]): r for r in csv.DictReader((tmp_path / "comparison.csv").open())}
    assert rows["pixel", "detect/frank_auc"]["verdict"] == "equivalent"
    assert float(rows["pixel", "detect/frank_auc"]["margin"]) == M.AUC_MARGIN
    assert rows["resize", "detect/frank_auc"]["verdict"] == "lower"
    assert float(rows["pixel", depth]["margin"]) == 0.005  # its shifts span -0.9 to +1.1 points: not within +-0.5
    assert rows["pixel", depth]["verdict"] == "undecided"
    assert summarize.main([str(tmp_path), "--compare", depth]) == 0  # the depths' own margin, 2 points
    rows = {r["group"]: r for r in csv.DictReader((tmp_path / "comparison.csv").open())}
    assert float(rows["pixel"]["margin"]) == M.DEPTH_MARGIN and rows["pixel"]["verdict"] == "equivalent"


def test_headline_is_the_mean_over_the_last_part_of_training(tmp_path):
    run = fake_job(tmp_path, "0_job", "A", 0, steps=(0, 4, 6, 8, 10))  # last evaluation at 10: window from 7.5
    (job,) = find_jobs(tmp_path)
    db = [10 * 0.01 + s for s in (8, 10)]
    assert job.numbers["checkerboard_excess_db/p2"] == pytest.approx(sum(db) / 2)
    ce = [0.01 * (1 + s) for s in (8, 10)]
    assert job.numbers["checkerboard/p2"] == pytest.approx(math.sqrt(ce[0] * ce[1]))  # geometric: as its dB
    job.last_only = True
    assert job.numbers["checkerboard_excess_db/p2"] == pytest.approx(10 * 0.01 + 10)
    assert run.is_dir()

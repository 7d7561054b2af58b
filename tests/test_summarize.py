import csv
import json
import math

import pytest
from omegaconf import OmegaConf

from gan import summarize
from gan.rundir import RunDir


def fake_job(root, name, upsampler, seed, status="finished", ce=0.01, steps=(0, 10)):
    run = root / name
    run.mkdir(parents=True)
    OmegaConf.save(OmegaConf.create({"seed": seed, "upsampler": {"_target_": upsampler, "kernel_size": 4},
                                     "train": {"steps": 10}}), run / "config.yaml")
    with (run / "metrics.jsonl").open("w") as f:
        for s in steps:
            f.write(json.dumps({"step": s, "checkerboard/p2": ce * (1 + s), "checkerboard_excess_db/p2": 10 * ce + s,
                                "spectral/distance": 0.1}) + "\n")
    RunDir(run).write_status(status)
    return run


def test_groups_by_all_but_seed_with_intervals(tmp_path):
    for i, (up, seed, ce) in enumerate([("A", 0, 0.010), ("A", 1, 0.012), ("B", 0, 0.020), ("B", 1, 0.026)]):
        fake_job(tmp_path, f"{i}_job", up, seed, ce=ce)
    keys, rows = summarize.summarize(summarize.find_jobs(tmp_path))
    assert keys == ["upsampler._target_"]
    by = {r["upsampler._target_"]: r for r in rows}
    assert by["A"]["n"] == 2 and by["B"]["n"] == 2
    a = by["A"]
    assert a["checkerboard/p2"] == pytest.approx((0.11 + 0.132) / 2)
    half = (a["checkerboard/p2 ci_high"] - a["checkerboard/p2 ci_low"]) / 2
    assert half == pytest.approx(12.706 * 0.011, rel=1e-3)  # t(0.975, df=1) * sem, sem = |0.132 - 0.11| / 2


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
    assert "5 job(s): 2 finished, 3 not" in capsys.readouterr().out


def test_empty_or_missing_sweep_is_a_clear_error(tmp_path, capsys):
    assert summarize.main([str(tmp_path)]) == 2
    assert "no job directories" in capsys.readouterr().err
    assert summarize.main([str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_mean_ci_edge_cases():
    m, lo, hi = summarize.mean_ci([1.0])
    assert m == 1.0 and math.isnan(lo) and math.isnan(hi)
    assert summarize.mean_ci([2.0, 2.0]) == (2.0, 2.0, 2.0)

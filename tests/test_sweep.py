"""Hydra multirun sweeps, launched as users launch them, then summarised."""
import csv
import math
import subprocess
import sys
from pathlib import Path

import pytest

from gan import summarize
from tests.conftest import TINY, compose_config

ROOT = Path(__file__).resolve().parent.parent
SWEEP = [*TINY, "train.steps=2", "eval.figures=false", "data.num_images=32"]


def multirun(sweep_dir: Path, *overrides: str, timeout: int = 600) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "train.py", "-m", *SWEEP, f"hydra.sweep.dir={sweep_dir}", *overrides]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def summary_rows(sweep_dir: Path) -> dict[str, dict[str, str]]:
    assert summarize.main([str(sweep_dir)]) == 0
    rows = list(csv.DictReader((sweep_dir / "summary.csv").open()))
    return {r["choice.upsampler"]: r for r in rows}


def check_two_by_two(sweep_dir: Path) -> None:
    jobs = sorted(p for p in sweep_dir.iterdir() if p.is_dir() and (p / ".hydra").is_dir())
    assert len(jobs) == 4 and len({p.name for p in jobs}) == 4
    for job in jobs:
        assert (job / "metrics.jsonl").is_file() and (job / "checkpoints" / "last.pt").is_file()
        assert any(f.name.startswith("events.out.tfevents") for f in job.iterdir())
    rows = summary_rows(sweep_dir)
    assert set(rows) == {"transposed", "resize_nearest"}  # grouped by the preset name, not its fields
    for r in rows.values():
        assert r["n"] == "2" and r["seeds"] == "0 1"
        lo, hi = float(r["checkerboard/p2 ci_low"]), float(r["checkerboard/p2 ci_high"])
        assert math.isfinite(lo) and math.isfinite(hi) and lo <= float(r["checkerboard/p2"]) <= hi


def test_basic_launcher_sweep_and_summary(tmp_path):
    out = multirun(tmp_path / "sweep", "upsampler=transposed,resize_nearest", "seed=0,1")
    assert out.returncode == 0, out.stderr[-3000:]
    check_two_by_two(tmp_path / "sweep")


def test_failed_job_is_listed_while_the_others_are_summarised(tmp_path):
    # lr_g=1e38 overflows the generator's weights within two steps: those jobs diverge
    out = multirun(tmp_path / "sweep", "train.lr_g=2e-4,1e38", "seed=0,1")
    assert out.returncode != 0  # Hydra reports the failed jobs at the end
    jobs = sorted((tmp_path / "sweep").iterdir())
    assert len([j for j in jobs if j.is_dir()]) == 4  # every job ran
    assert summarize.main([str(tmp_path / "sweep")]) == 0
    rows = list(csv.DictReader((tmp_path / "sweep" / "summary.csv").open()))
    by = {r["train.lr_g"]: r for r in rows}
    assert by["0.0002"]["n"] == "2"
    assert by["1e+38"]["n"] == "0" and by["1e+38"]["not finished"].count("diverged") == 2


def test_joblib_launcher_runs_jobs_in_parallel(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    out = multirun(tmp_path / "sweep", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                   "upsampler=transposed,resize_nearest", "seed=0,1")
    assert out.returncode == 0, out.stderr[-3000:]
    check_two_by_two(tmp_path / "sweep")


@pytest.mark.slow
def test_submitit_local_launcher(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    out = multirun(tmp_path / "sweep", "hydra/launcher=submitit_local", "upsampler=transposed,resize_nearest",
                   "seed=0,1", timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    check_two_by_two(tmp_path / "sweep")


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml")))
def test_experiment_presets_compose(name):
    cfg = compose_config(f"+experiment={name}")
    assert cfg.train.steps > 0 and cfg.image_size in (32, 64)

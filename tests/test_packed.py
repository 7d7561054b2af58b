"""Several seeds in one job (num_seeds=K): each replica is the run its seed would be alone."""
import json
import math
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gan.measure import names as N
from gan import summarize
from gan.core.config import presets
from gan.model.replicas import replica_state
from gan.run import training
from gan.run.rundir import RunDir
from gan.run.training import train
from gan.study.jobs import find_jobs
from gan.study.tables import summary_rows
from tests.conftest import TINY

ROOT = Path(__file__).resolve().parent.parent
STEPS = ["train.steps=20", "eval.every=10", "train.ckpt_every=10", "eval.figures=false"]
#: Replica k's weights after 20 steps are the single run's within this (docs/reference.md says so).
#: Grouped and dense convolutions round differently; Adam turns a rounding-level gradient difference
#: on a near-zero gradient into up to a step (lr = 2e-4) per step: 1.5e-4 seen after 20 steps
#: (transposed_zoh, last stage; 9 of 12800 weights above 1e-4). Another seed's weights differ by
#: ~1e-2 (the N(0, 0.02) init), so 1e-3 still tells them apart.
REPLICA_ATOL = 1e-3


def checkpoint(path: Path) -> dict:
    return torch.load(path / "checkpoints" / "last.pt", weights_only=True)


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def assert_same_run(single: Path, packed_job: Path, seed: int, k: int, atol: float) -> None:
    """Replica ``k`` (seed ``seed``) of the packed job equals the single run, weights and numbers."""
    alone = checkpoint(single)["G"]
    replica = replica_state(checkpoint(packed_job)["G"], k)
    for name, tensor in alone.items():
        torch.testing.assert_close(replica[name], tensor[0], atol=atol, rtol=1e-3, msg=name)
    a, b = metrics(single), metrics(packed_job / f"seed={seed}")
    assert [r["step"] for r in a] == [r["step"] for r in b]
    for ra, rb in zip(a, b):
        for key, value in ra.items():
            if isinstance(value, float) and "excess_db" not in key:  # dB of tiny ratios magnifies rounding
                assert rb[key] == pytest.approx(value, rel=1e-2, abs=1e-4), (ra["step"], key)


def replica_cases() -> list:
    """Every upsampler in every stage; in the last stage only (the others transposed), one upsampler
    by default and the rest with ``pytest -m slow`` (the same modules, placed differently)."""
    return [pytest.param(u, layers, marks=[pytest.mark.slow] if layers == "last" and u != "resize_nearest" else [])
            for layers in ("all", "last") for u in presets("upsampler")]


@pytest.mark.parametrize("upsampler,layers", replica_cases())
def test_replica_k_is_the_single_run_with_seed_plus_k(tiny_cfg, tmp_path, upsampler, layers):
    overrides = [f"upsampler={upsampler}", f"generator.upsample_layers={layers}", *STEPS,
                 "eval.stages=false", "eval.swd=false"]  # the numbers compared: every spectral one
    train(tiny_cfg(*overrides, "seed=5", "num_seeds=2", run_dir=tmp_path / "packed"))
    train(tiny_cfg(*overrides, "seed=6", run_dir=tmp_path / "alone"))
    assert_same_run(tmp_path / "alone", tmp_path / "packed", seed=6, k=1, atol=REPLICA_ATOL)
    cfg = RunDir(tmp_path / "packed" / "seed=6").config()
    assert cfg.seed == 6 and cfg.num_seeds == 1  # the config of the single run it equals


def test_packed_job_writes_k_ordinary_runs(tiny_cfg, tmp_path):
    job = tmp_path / "job"
    final = train(tiny_cfg("seed=3", "num_seeds=3", *STEPS, run_dir=job))
    runs = RunDir.find(job)
    assert [r.name for r in runs] == ["seed=3", "seed=4", "seed=5"]  # the job folder itself is not a run
    for r in runs:
        assert r.read_status()["status"] == "finished" and r.config_file.is_file()
        assert any(f.name.startswith("events.out.tfevents") for f in r.path.iterdir())
        assert (r.path / "samples" / "step_0000020.png").is_file()
    assert not (job / "seed=3" / "checkpoints").exists() and (job / "checkpoints" / "last.pt").is_file()
    assert len(final["replicas"]) == 3 and math.isfinite(final[N.HEADLINE])
    assert final[N.HEADLINE] == pytest.approx(
        sum(f[N.HEADLINE] for f in final["replicas"]) / 3)
    assert summarize.main([str(job)]) == 0
    (row,) = summary_rows(find_jobs(job))[1]
    assert row["n"] == 3 and row["seeds"] == "3 4 5"
    out = subprocess.run([sys.executable, "-m", "gan.analyze", str(job / "seed=4"), "--reference", "deadleaves",
                          "--num-samples", "16", "--out", str(tmp_path / "an")], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


def test_a_diverging_replica_is_frozen_and_the_others_finish(tiny_cfg, tmp_path, monkeypatch):
    job = tmp_path / "job"
    real_step = training.train_step

    def poisoned_step(state, *args):  # replica 1 gets a NaN weight after step 7
        stats = real_step(state, *args)
        if state.step == 7:
            with torch.no_grad():
                next(state.G.parameters())[1].view(-1)[0] = float("nan")
        return stats
    monkeypatch.setattr(training, "train_step", poisoned_step)
    final = train(tiny_cfg("num_seeds=3", *STEPS, "train.log_every=5", run_dir=job))
    status = {r.name: r.read_status()["status"] for r in RunDir.find(job)}
    assert status == {"seed=0": "finished", "seed=1": "diverged", "seed=2": "finished"}
    assert metrics(job / "seed=1")[-1] == {"step": 10, "diverged": True}
    assert len(final["replicas"]) == 2
    saved = checkpoint(job)
    assert saved["diverged"] == [False, True, False]
    assert all(torch.isfinite(v).all() for v in saved["G"].values() if v.is_floating_point())  # frozen, not NaN


LONG = [*TINY, "num_seeds=2", "train.steps=120", "train.ckpt_every=5", "eval.every=40", "eval.figures=false",
        "deterministic=true"]


@pytest.mark.slow  # the single run's SIGKILL test (test_reliability) runs by default
def test_sigkill_then_resume_of_a_packed_job_is_bit_identical(tmp_path):
    def run(job: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "train.py", *LONG, f"hydra.run.dir={job}"], cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
    assert run(tmp_path / "ref").returncode == 0
    job = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "train.py", *LONG, f"hydra.run.dir={job}"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not (job / "checkpoints" / "step_0000030.pt").exists():
        assert proc.poll() is None, "the job ended early"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 25 <= checkpoint(job)["step"] < 120
    done = run(job)
    assert done.returncode == 0, done.stderr[-2000:]
    a, b = checkpoint(tmp_path / "ref"), checkpoint(job)
    for net in ("G", "D"):
        assert all(torch.equal(a[net][k], b[net][k]) for k in a[net])
    for seed in ("seed=0", "seed=1"):
        assert (job / seed / "metrics.jsonl").read_text() == (tmp_path / "ref" / seed / "metrics.jsonl").read_text()

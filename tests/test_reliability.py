"""Interruption, divergence and corrupt checkpoints lose no finished work."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gan import checkpoint as ckpt
from gan.logging import read_status
from gan import training
from gan.training import TrainingDiverged, train
from tests.conftest import TINY

ROOT = Path(__file__).resolve().parent.parent
LONG = [*TINY, "train.steps=60", "train.ckpt_every=5", "eval.every=20", "eval.figures=false", "deterministic=true"]


def start(run_dir: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "train.py", *LONG, f"hydra.run.dir={run_dir}", *extra], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, f"run ended early: {proc.stderr.read()[-2000:]}"
        assert time.time() - t0 < timeout, f"{path} did not appear"
        time.sleep(0.05)


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["G"]


def test_sigkill_then_resume_is_bit_identical(tmp_path):
    ref = subprocess.run([sys.executable, "train.py", *LONG, f"hydra.run.dir={tmp_path / 'ref'}"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert ref.returncode == 0, ref.stderr[-2000:]

    run = tmp_path / "killed"
    proc = start(run)
    wait_for(run / "checkpoints" / "step_0000015.pt", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = torch.load(run / "checkpoints" / "last.pt", weights_only=True)["step"]
    assert 15 <= killed_at < 60
    again = subprocess.run([sys.executable, "train.py", *LONG, f"hydra.run.dir={run}"], cwd=ROOT,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    a, b = weights(tmp_path / "ref"), weights(run)
    assert all(torch.equal(a[k], b[k]) for k in a)
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [0, 20, 40, 60]  # no duplicated or missing evaluations after the resume


def test_sigterm_saves_and_exits_cleanly(tmp_path):
    run = tmp_path / "run"
    proc = start(run, "train.steps=100000")
    wait_for(run / "checkpoints" / "step_0000010.pt", proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "SIGTERM" in err and "Traceback" not in err
    status = read_status(run)
    assert status["status"] == "interrupted"
    saved = torch.load(run / "checkpoints" / "last.pt", weights_only=True)["step"]
    assert saved >= 10  # the step it stopped at, not only the last periodic one


def test_nan_stops_with_message_and_keeps_last_good_checkpoint(tiny_cfg, monkeypatch):
    cfg = tiny_cfg("train.steps=6", "train.ckpt_every=2", "eval.every=100", "train.log_every=100",
                   "eval.figures=false")
    train(cfg)  # 6 good steps
    cfg.train.steps = 12
    real_step = training.train_step

    def poisoned_step(state, real, loss):  # a NaN appears in a weight after step 7
        stats = real_step(state, real, loss)
        if state.step == 7:
            with torch.no_grad():
                next(state.G.parameters()).view(-1)[0] = float("nan")
        return stats
    monkeypatch.setattr(training, "train_step", poisoned_step)
    with pytest.raises(TrainingDiverged, match="NaN/Inf"):
        train(cfg)
    run = Path(cfg.run_dir)
    assert read_status(run)["status"] == "diverged"
    last = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()][-1]
    assert last["diverged"] is True
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert state["step"] == 6  # the checkpoint due at step 8 was not written from a NaN state
    assert all(torch.isfinite(v).all() for v in state["G"].values() if v.is_floating_point())


def test_cli_divergence_exit_code(tmp_path):
    out = subprocess.run([sys.executable, "train.py", *TINY, "train.lr_g=1e38", "eval.figures=false",
                          f"hydra.run.dir={tmp_path}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 3 and "NaN/Inf" in out.stderr and "Traceback" not in out.stderr


def test_truncated_checkpoint_falls_back_to_previous(tiny_cfg, caplog):
    cfg = tiny_cfg("train.steps=4", "train.ckpt_every=2", "eval.figures=false")
    train(cfg)
    last = Path(cfg.run_dir) / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:100])  # a save cut short (e.g. disk full, not our atomic write)
    with pytest.raises(ckpt.CheckpointError, match="unreadable"):
        ckpt.load(last)
    state, path = ckpt.load_latest(last.parent, warn=lambda m: None)
    assert path.name == "step_0000004.pt" and state["step"] == 4
    cfg.train.steps = 6
    assert train(cfg)["step"] == 6
    assert "unreadable" in caplog.text


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "c.pt"
    ckpt.save_atomic({"x": torch.ones(2)}, target)

    def fail(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", fail)
    with pytest.raises(OSError):
        ckpt.save_atomic({"x": torch.zeros(2)}, target)
    assert torch.equal(ckpt.load(target)["x"], torch.ones(2))  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary left behind


def test_checkpoints_refuse_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ckpt.CheckpointError):
        ckpt.load(tmp_path / "evil.pt")
